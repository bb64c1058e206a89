"""Read token usage out of upstream replies without slowing the bytes down.

A tap sees every upstream chunk, returns the bytes to forward, and parses only
the few events that carry usage.
"""

from __future__ import annotations

import json
import re
from typing import Any

from proxy_engine.dialects.sse import SSEFramer, block_data
from proxy_engine.usage.tokens import Usage, as_int

_USAGE_OBJ = re.compile(rb'"usage"\s*:\s*\{')


def usage_from_obj(dialect: str, obj: Any) -> Usage | None:
    if not isinstance(obj, dict):
        return None
    if dialect == "gemini":
        meta = obj.get("usageMetadata")
        if not isinstance(meta, dict):
            return None
        out = as_int(meta.get("candidatesTokenCount")) + as_int(meta.get("thoughtsTokenCount"))
        return Usage(as_int(meta.get("promptTokenCount")), out, as_int(meta.get("cachedContentTokenCount")), 0)
    if dialect == "openai_responses" and isinstance(obj.get("response"), dict):
        obj = obj["response"]
    u = obj.get("usage")
    if not isinstance(u, dict):
        return None
    if dialect == "anthropic":
        cr, cw = as_int(u.get("cache_read_input_tokens")), as_int(u.get("cache_creation_input_tokens"))
        return Usage(as_int(u.get("input_tokens")) + cr + cw, as_int(u.get("output_tokens")), cr, cw)
    if dialect == "openai_responses":
        details = u.get("input_tokens_details") or {}
        return Usage(
            as_int(u.get("input_tokens")),
            as_int(u.get("output_tokens")),
            as_int(details.get("cached_tokens")),
        )
    details = u.get("prompt_tokens_details") or {}
    return Usage(
        as_int(u.get("prompt_tokens")),
        as_int(u.get("completion_tokens")),
        as_int(details.get("cached_tokens")),
    )


def usage_from_body(dialect: str, body: bytes) -> Usage | None:
    try:
        return usage_from_obj(dialect, json.loads(body))
    except ValueError:
        return None


class StreamTap:
    """Forward-as-is tap for SSE streams; subclasses may filter events."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.framer = SSEFramer()
        self.usage: Usage | None = None
        self._gemini_last: bytes | None = None

    def feed(self, chunk: bytes) -> bytes:
        for block in self.framer.feed(chunk):
            self.observe(block)
        return chunk

    def finish(self) -> bytes:
        for block in self.framer.flush():
            self.observe(block)
        if self._gemini_last is not None:
            self._parse(self._gemini_last)
        return b""

    def observe(self, block: bytes) -> None:
        """Look at one complete event block (for callers that frame the stream themselves)."""
        d = self.dialect
        if d == "gemini":
            if b'"usageMetadata"' in block:
                self._gemini_last = block
        elif d == "anthropic":
            if block.startswith((b"event: message_start", b"event: message_delta")) or b'"message_delta"' in block:
                self._parse_anthropic(block)
        elif d == "openai_responses":
            if b"response.completed" in block or b"response.incomplete" in block or b"response.failed" in block:
                self._parse(block)
        elif _USAGE_OBJ.search(block):
            self._parse(block)

    def _parse(self, block: bytes) -> None:
        try:
            u = usage_from_obj(self.dialect, json.loads(block_data(block)))
        except ValueError:
            return
        if u is not None:
            self.usage = u

    def _parse_anthropic(self, block: bytes) -> None:
        try:
            obj = json.loads(block_data(block))
        except ValueError:
            return
        if obj.get("type") == "message_start":
            self.usage = usage_from_obj("anthropic", obj.get("message") or {}) or Usage()
        elif obj.get("type") == "message_delta" and isinstance(obj.get("usage"), dict):
            u = obj["usage"]
            cur = self.usage or Usage()
            cur.output_tokens = as_int(u.get("output_tokens")) or cur.output_tokens
            if "input_tokens" in u or "cache_read_input_tokens" in u:
                newer = usage_from_obj("anthropic", {"usage": u})
                if newer and newer.input_tokens:
                    cur.input_tokens, cur.cache_read_tokens = newer.input_tokens, newer.cache_read_tokens
                    cur.cache_write_tokens = newer.cache_write_tokens
            self.usage = cur


class HiddenUsageTap(StreamTap):
    """OpenAI chat stream where the proxy added include_usage: drop the extra usage-only chunk."""

    def feed(self, chunk: bytes) -> bytes:
        out = []
        for block in self.framer.feed(chunk):
            if _USAGE_OBJ.search(block):
                self._parse(block)
                if b'"choices":[]' in block or b'"choices": []' in block:
                    continue
            out.append(block + b"\n\n")
        return b"".join(out)

    def finish(self) -> bytes:
        return b"".join(b + b"\n\n" for b in self.framer.flush())


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
