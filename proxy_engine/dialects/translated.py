"""A translated stream as the proxy relays it: upstream bytes in, the client's framing out.

Upstreams speak SSE, except Bedrock, whose streams are binary event-stream frames. One framing
pass per chunk; each event's JSON is parsed once, by the translator, and the usage the request
record needs is read from that same decoding instead of a second parse by a usage tap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from proxy_engine.dialects.eventstream import EventStreamError, EventStreamFramer
from proxy_engine.dialects.sse import SSEFramer, block_data
from proxy_engine.translate.errors import UpstreamMalformed
from proxy_engine.usage.tokens import Usage

if TYPE_CHECKING:
    from proxy_engine.translate import StreamTranslator


def usage_from_ir(u: dict | None) -> Usage | None:
    """The record's usage from the translator's usage (`Usage.as_dict()`, read by `usage.upstream`)."""
    return Usage(**u) if u else None


class TranslatedStream:
    __slots__ = ("_binary", "_framer", "_st", "events")

    def __init__(self, st: StreamTranslator, *, binary: bool = False) -> None:
        self._binary = binary
        self._framer = EventStreamFramer() if binary else SSEFramer()
        self._st = st
        self.events = 0  # upstream events seen: the output estimate when a stream is cut before its usage

    @property
    def usage(self) -> Usage | None:
        return usage_from_ir(self._st.usage)

    @property
    def error(self) -> tuple[int, str] | None:
        """(status, message) when the client was sent an error event instead of a normal ending."""
        return self._st.error

    def feed(self, chunk: bytes) -> bytes:
        """Client bytes for this upstream chunk; raises `UpstreamMalformed` for events it cannot read."""
        if self._binary:
            try:
                events = self._framer.feed(chunk)
            except EventStreamError as e:
                raise UpstreamMalformed(f"corrupt event stream: {e}") from None
            self.events += len(events)
            return b"".join([self._st.feed(ev) for ev in events])
        blocks = self._framer.feed(chunk)
        if not blocks:
            return b""
        self.events += len(blocks)
        if len(blocks) == 1:
            return self._st.feed_data(block_data(blocks[0]))
        feed = self._st.feed_data
        return b"".join([feed(block_data(block)) for block in blocks])

    def finish(self) -> bytes:
        """Whatever the upstream left unterminated, then a valid ending in the client's dialect."""
        if self._binary:
            return self._st.finish() if self._framer.at_eof() else self._st.fail("the upstream stream was cut off")
        tail = b"".join([self._st.feed_data(block_data(block)) for block in self._framer.flush()])
        return tail + self._st.finish()

    def fail(self, message: str, status: int = 502) -> bytes:
        return self._st.fail(message, status)

    def settle(self) -> None:
        """Nothing to do: the translator reads usage as events arrive."""
