"""Read token usage out of upstream replies without slowing the bytes down.

A tap sees every upstream chunk, returns the bytes to forward, and parses only
the few events that carry usage; what it finds is read by `usage.upstream`, the
same readers the translators use. Every other event gets only a cheap shape check (its
`data:` must look like a JSON object or array, or be `[DONE]`), so a broken upstream is a
failure (`UpstreamMalformed`) instead of bytes that crash the client's SDK.
"""

from __future__ import annotations

import re

from proxy_engine.dialects.json_decode import loads
from proxy_engine.dialects.sse import SSEFramer, block_data
from proxy_engine.translate.errors import UpstreamMalformed
from proxy_engine.usage.tokens import Usage
from proxy_engine.usage.upstream import AnthropicStreamUsage, usage_in_reply

_USAGE_OBJ = re.compile(rb'"usage"\s*:\s*\{')
# An Anthropic event without an `event:` line is recognised by its type; text inside a content delta
# cannot match, because its quotes are escaped.
_ANTHROPIC_USAGE_TYPE = re.compile(rb'"type"\s*:\s*"message_(?:start|delta)"')


def usage_from_body(dialect: str, body: bytes) -> Usage | None:
    """The usage of a whole pass-through reply; None when it is not JSON or carries none."""
    try:
        return usage_in_reply(dialect, loads(body))
    except (ValueError, RecursionError):
        return None


def check_event(block: bytes) -> None:
    """Raise `UpstreamMalformed` unless the block's `data:` looks like JSON (or is `[DONE]`).

    Only the first and last bytes are looked at: the hot path parses no event it does not need.
    """
    if block.endswith(b"}") and (
        block.startswith(b"data: {") or (b"\ndata: {" in block and block.count(b"data:") == 1)
    ):
        return  # the usual event: one `data:` line holding an object (after an `event:` line), not copied
    data = block_data(block)
    if not data or (data[0] in b"{[" and data.rstrip()[-1] in b"}]") or data == b"[DONE]":
        return
    raise UpstreamMalformed(f"a stream event is not JSON: {data[:80]!r}")


class StreamTap:
    """Forward-as-is tap for SSE streams; subclasses may filter events."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.framer = SSEFramer()
        self.usage: Usage | None = None
        self._gemini_last: bytes | None = None
        self._anthropic: AnthropicStreamUsage | None = None
        self.events = 0  # event blocks seen: the output estimate when a stream is cut before its usage

    def feed(self, chunk: bytes) -> bytes:
        for block in self.framer.feed(chunk):
            self.observe(block)
        return chunk

    def finish(self) -> bytes:
        for block in self.framer.flush():
            self.observe(block)
        self.settle()
        return b""

    def settle(self) -> None:
        """Read the usage seen so far (Gemini's last usage is parsed once, at the end or a failure)."""
        if self._gemini_last is not None:
            self._parse(self._gemini_last)
            self._gemini_last = None

    def observe(self, block: bytes) -> None:
        """Look at one complete event block (for callers that frame the stream themselves)."""
        self.events += 1
        check_event(block)
        d = self.dialect
        if d == "gemini":
            if b'"usageMetadata"' in block:
                self._gemini_last = block
        elif d == "anthropic":
            if block.startswith(b"event:"):
                if block.startswith((b"event: message_start", b"event: message_delta")):
                    self._parse_anthropic(block)
            elif _ANTHROPIC_USAGE_TYPE.search(block):
                self._parse_anthropic(block)
        elif d == "openai_responses":
            if b"response.completed" in block or b"response.incomplete" in block or b"response.failed" in block:
                self._parse(block)
        elif _USAGE_OBJ.search(block):
            self._parse(block)

    def _parse(self, block: bytes) -> None:
        try:
            obj = loads(block_data(block))
        except (ValueError, RecursionError):
            raise UpstreamMalformed(f"a stream event is not JSON: {block[:80]!r}") from None
        u = usage_in_reply(self.dialect, obj)
        if u is not None:
            self.usage = u

    def _parse_anthropic(self, block: bytes) -> None:
        try:
            obj = loads(block_data(block))
        except (ValueError, RecursionError):
            raise UpstreamMalformed(f"a stream event is not JSON: {block[:80]!r}") from None
        if not isinstance(obj, dict):
            return
        kind = obj.get("type")
        carrier = obj.get("message") if kind == "message_start" else obj if kind == "message_delta" else None
        if not isinstance(carrier, dict):
            return
        if self._anthropic is None:
            self._anthropic = AnthropicStreamUsage()
        u = carrier.get("usage")
        self.usage = self._anthropic.update(u if isinstance(u, dict) else {})


class HiddenUsageTap(StreamTap):
    """OpenAI chat stream where the proxy added include_usage: drop the extra usage-only chunk."""

    def feed(self, chunk: bytes) -> bytes:
        out = []
        for block in self.framer.feed(chunk):
            self.events += 1
            check_event(block)
            if _USAGE_OBJ.search(block):
                self._parse(block)
                if b'"choices":[]' in block or b'"choices": []' in block:
                    continue
            out.append(block + b"\n\n")
        return b"".join(out)

    def finish(self) -> bytes:
        blocks = self.framer.flush()
        for block in blocks:
            check_event(block)
        return b"".join(b + b"\n\n" for b in blocks)


class GeminiArrayTap(StreamTap):
    """Upstream always streams `alt=sse`; a client that asked for the JSON-array form gets one."""

    def __init__(self) -> None:
        super().__init__("gemini")
        self._started = False

    def feed(self, chunk: bytes) -> bytes:
        out = []
        for block in self.framer.feed(chunk):
            self.observe(block)
            out.append((b",\r\n" if self._started else b"[") + block_data(block))
            self._started = True
        return b"".join(out)

    def finish(self) -> bytes:
        tail = super().finish()
        return tail + (b"]" if self._started else b"[]")
