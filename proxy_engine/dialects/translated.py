"""A translated stream as the proxy relays it: upstream bytes in, the client's framing out.

Upstreams speak SSE, except Bedrock, whose streams are binary event-stream frames. One framing
pass per chunk; each event's JSON is parsed once, by the translator, and the usage the request
record needs is read from that same decoding instead of a second parse by a usage tap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from proxy_engine.dialects.eventstream import EventStreamError, EventStreamFramer
from proxy_engine.dialects.sse import SSEFramer, block_data
from proxy_engine.dialects.text_blocks import TextBlockTemplate
from proxy_engine.translate.errors import UpstreamMalformed
from proxy_engine.usage.tokens import Usage

if TYPE_CHECKING:
    from proxy_engine.translate import StreamTranslator


def usage_from_ir(u: dict | None) -> Usage | None:
    """The record's usage from the translator's usage (`Usage.as_dict()`, read by `usage.upstream`)."""
    return Usage(**u) if u else None


# Blocks looked at for a text block template once the payload template exists (a stream whose text
# deltas never fit one, say all escaped, stops looking).
BLOCK_LEARNS = 8


class TranslatedStream:
    __slots__ = ("_binary", "_block_learns", "_framer", "_st", "_text", "events")

    def __init__(self, st: StreamTranslator, *, binary: bool = False) -> None:
        self._binary = binary
        self._framer = EventStreamFramer() if binary else SSEFramer()
        self._st = st
        self._text: TextBlockTemplate | None = None  # whole-block template of plain text deltas (text_blocks.py)
        self._block_learns = BLOCK_LEARNS
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
        text = self._text
        if text is not None and len(chunk) <= text.single_max and self._framer.idle:  # a token event alone
            literal = text.chunk_literal(chunk)
            if literal is not None:
                out = self._st.literal_text(text.spec, literal)
                if out is not None:
                    self.events += 1
                    return out
        blocks = self._framer.feed(chunk)
        if not blocks:
            return b""
        self.events += len(blocks)
        if len(blocks) == 1:
            return self._block(blocks[0])
        return b"".join([self._block(block) for block in blocks])

    def _block(self, block: bytes) -> bytes:
        """One SSE event block: a plain text delta straight from its bytes, anything else by its payload."""
        text = self._text
        if text is not None:
            literal = text.literal(block)
            if literal is not None:
                out = self._st.literal_text(text.spec, literal)
                if out is not None:
                    return out
            return self._st.feed_data(block_data(block))
        data = block_data(block)
        out = self._st.feed_data(data)
        if self._block_learns:
            spec = self._st.text_template()
            if spec is not None:
                self._block_learns -= 1
                self._text = TextBlockTemplate.learn(block, data, spec)
        return out

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
