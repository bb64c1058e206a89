"""A translated stream's plain text events matched as whole SSE blocks, so most tokens skip the framing.

`translate/delta_templates.py` matches an event's `data:` payload against a template learned from the
stream's first plain text delta. Once there is one, this widens it to the whole block: the `event:` and
`data:` lines' bytes before the payload are fixed too, so a block that starts with those bytes plus the
template's prefix, ends with its suffix and has one JSON string literal in between is that event with
another string. When that literal needs no escaping (no quote, backslash or control character, valid
UTF-8) it is exactly the bytes the client encoders would quote the string to, and goes to them as it is:
no `data:` line extraction, no string decoding, no re-quoting. Anything else takes the payload path.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from proxy_engine.translate.delta_templates import DeltaSpec

TOKEN_MAX = 256  # the longest literal a chunk of its own is read for without framing (a token is a few bytes)
# A JSON string literal whose bytes are its own `quote`: nothing inside needs an escape.
_PLAIN = re.compile(rb'"[^"\\\x00-\x1f]*"')


class TextBlockTemplate:
    """The bytes of a whole event block around a plain text delta's string, for one `DeltaSpec`."""

    __slots__ = ("_crlf_end", "_cut", "_lf_end", "prefix", "single_max", "spec", "suffix")

    def __init__(self, prefix: bytes, suffix: bytes, spec: DeltaSpec) -> None:
        self.prefix = prefix
        self.suffix = suffix
        self.spec = spec
        self._cut = len(prefix)
        # A whole chunk that is this one event: LF-framed, or CRLF-framed when the block is one line.
        self._lf_end = suffix + b"\n\n"
        self._crlf_end = suffix + b"\r\n\r\n" if b"\n" not in prefix else None
        # Longer chunks are not tried as one event (they hold several, or a token past TOKEN_MAX bytes).
        self.single_max = len(prefix) + TOKEN_MAX + len(suffix) + 4

    @classmethod
    def learn(cls, block: bytes, data: bytes, spec: DeltaSpec) -> TextBlockTemplate | None:
        """The block template of `block`, whose payload is `data` and fits `spec`'s template; None unless
        every block `head + payload` (payload without a newline) has exactly that payload, as
        `sse.block_data` reads it: the payload is the last line, the block's only `data:` line."""
        pre, suf = spec.prefix, spec.suffix
        if not pre or b"\n" in data or not block.endswith(data) or len(data) < len(pre) + len(suf):
            return None
        if not data.startswith(pre) or not data.endswith(suf):
            return None
        head = block[: len(block) - len(data)]
        cut = head.rfind(b"\n") + 1
        line, earlier = head[cut:], head[:cut]
        if line not in (b"data: ", b"data:") or (line == b"data:" and pre[:1] == b" "):
            return None
        if earlier.startswith(b"data:") or b"\ndata:" in earlier:
            return None
        return cls(head + pre, suf, spec)

    def literal(self, block: bytes) -> bytes | None:
        """The string literal of a block that fits, when it needs no escaping; else None."""
        if not block.startswith(self.prefix) or not block.endswith(self.suffix):
            return None
        return _plain(block[self._cut : len(block) - len(self.suffix)])

    def chunk_literal(self, chunk: bytes) -> bytes | None:
        """`literal` of a chunk that is exactly one such block and its blank line, read with no framing: a
        framer holding nothing would cut it into just that block (it has no blank line or CR inside)."""
        if chunk.endswith(self._lf_end):
            end = len(chunk) - len(self._lf_end)
        elif self._crlf_end is not None and chunk.endswith(self._crlf_end):
            end = len(chunk) - len(self._crlf_end)
        else:
            return None
        if not chunk.startswith(self.prefix) or chunk.find(b'"', self._cut + 1) != end - 1:
            return None  # the literal's closing quote is not the last before the suffix: several events
        return _plain(chunk[self._cut : end])


def _plain(literal: bytes) -> bytes | None:
    """`literal` when it is one JSON string literal that needs no escaping, in valid UTF-8; else None."""
    if _PLAIN.fullmatch(literal) is None:
        return None
    if not literal.isascii():
        try:
            literal.decode()
        except UnicodeDecodeError:
            return None
    return literal
