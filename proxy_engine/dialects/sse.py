"""Incremental Server-Sent Events framing.

Upstream chunks split events anywhere; the framer hands back whole event blocks
(normalised to `\\n` line ends) as soon as each one is complete.
"""

from __future__ import annotations


class SSEFramer:
    __slots__ = ("_buf", "_cr")

    def __init__(self) -> None:
        self._buf = b""
        self._cr = False

    @property
    def idle(self) -> bool:
        """Nothing held back: the next chunk starts a new event."""
        return not self._buf and not self._cr

    def feed(self, chunk: bytes) -> list[bytes]:
        if not self._buf and not self._cr and chunk.endswith(b"\r\n\r\n") and chunk.count(b"\r") == 2:
            # The usual CRLF case (Gemini): exactly one whole event, its only CRs the two that end it.
            block = chunk[:-4]
            if b"\n\n" not in block and block.strip(b"\n"):
                return [block]
        if self._cr:
            chunk = b"\r" + chunk
            self._cr = False
        if b"\r" in chunk:
            if chunk.endswith(b"\r"):
                # A CRLF may be split across chunks: keep the CR until we see what follows.
                chunk, self._cr = chunk[:-1], True
            chunk = chunk.replace(b"\r\n", b"\n")
            if b"\r" in chunk:
                chunk = chunk.replace(b"\r", b"\n")
        if self._buf:
            buf = self._buf + chunk
        else:
            buf = chunk
            end = buf.find(b"\n\n")
            if end > 0 and end == len(buf) - 2:  # the usual case: exactly one whole event
                return [buf[:end]]
        if b"\n\n" not in buf:
            self._buf = buf
            return []
        blocks = buf.split(b"\n\n")
        self._buf = blocks.pop()
        return [b for b in blocks if b.strip(b"\n")]

    def flush(self) -> list[bytes]:
        rest, self._buf = self._buf, b""
        return [rest] if rest.strip() else []


def block_data(block: bytes) -> bytes:
    """The joined `data:` payload of one event block."""
    # Fast path: one `data:` line, first or after an `event:` line (every provider's usual shape).
    if block.startswith(b"data:"):
        start = 0
    else:
        start = block.find(b"\ndata:") + 1
        if not start:
            return b""
    end = block.find(b"\n", start)
    if end == -1 or block.find(b"\ndata:", end) == -1:
        line = block[start:] if end == -1 else block[start:end]
        return line[6:] if line.startswith(b"data: ") else line[5:]
    parts = []
    for line in block.split(b"\n"):
        if line.startswith(b"data:"):
            parts.append(line[6:] if line.startswith(b"data: ") else line[5:])
    return b"\n".join(parts)
