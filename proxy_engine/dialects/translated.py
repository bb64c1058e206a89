"""A translated SSE stream as the proxy relays it: upstream bytes in, the client's framing out.

One framing pass per chunk; each event's JSON is parsed once, by the translator, and the usage the
request record needs is read from that same decoding instead of a second parse by a usage tap.
"""

from __future__ import annotations

from proxy_engine.dialects.sse import SSEFramer, block_data
from proxy_engine.translate import StreamTranslator
from proxy_engine.usage.tokens import Usage


class TranslatedStream:
    __slots__ = ("_framer", "_st")

    def __init__(self, st: StreamTranslator) -> None:
        self._framer = SSEFramer()
        self._st = st

    @property
    def usage(self) -> Usage | None:
        u = self._st.usage
        if u is None:
            return None
        return Usage(u["input_tokens"], u["output_tokens"], u["cache_read_tokens"], u["cache_write_tokens"])

    @property
    def error(self) -> tuple[int, str] | None:
        """(status, message) when the client was sent an error event instead of a normal ending."""
        return self._st.error

    def feed(self, chunk: bytes) -> bytes:
        blocks = self._framer.feed(chunk)
        if not blocks:
            return b""
        if len(blocks) == 1:
            return self._st.feed_data(block_data(blocks[0]))
        feed = self._st.feed_data
        return b"".join([feed(block_data(block)) for block in blocks])

    def finish(self) -> bytes:
        """Whatever the upstream left unterminated, then a valid ending in the client's dialect."""
        tail = b"".join([self._st.feed_data(block_data(block)) for block in self._framer.flush()])
        return tail + self._st.finish()

    def fail(self, message: str, status: int = 502) -> bytes:
        return self._st.fail(message, status)
