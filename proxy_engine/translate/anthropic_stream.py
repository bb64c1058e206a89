"""Anthropic Messages streams: upstream events -> IR events, and IR events -> client events."""

from __future__ import annotations

import json

from proxy_engine.usage.upstream import AnthropicStreamUsage

from . import mapping
from .anthropic import safe_id
from .context import Context
from .delta_templates import DeltaSpec
from .errors import error_payload
from .fields import as_int, as_obj
from .ids import new_id
from .ir import (
    Event,
    Finish,
    FinishReason,
    Start,
    StreamError,
    TextDelta,
    ThinkingDelta,
    ThinkingSignature,
    ToolDelta,
    ToolStart,
    Usage,
    UsageUpdate,
)
from .json_text import dumpb, quote
from .stream_base import BlockEncoder
from .thinking import client_signature

ME = "anthropic"
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}
# One content_block_delta event, filled in by bytes formatting: these are sent once per token.
_DELTA = (
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,"delta":{"type":"%s","%s":%s}}\n\n'
)
# The same for text, up to its string: rendered once per block.
_TEXT_HEAD = (
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,"delta":{"type":"text_delta","text":'
)
# Frames whose only variable parts are numbers and strings, rendered by bytes formatting: what `_event`
# gives for the same payload, byte for byte (tests/translate/test_delta_templates.py).
_MESSAGE_START = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":%s,"type":"message","role":"assistant",'
    b'"model":%s,"content":[],"stop_reason":null,"stop_sequence":null,"usage":%s}}\n\n'
)
_TEXT_START = (
    b'event: content_block_start\ndata: {"type":"content_block_start","index":%d,'
    b'"content_block":{"type":"text","text":""}}\n\n'
)
_BLOCK_STOP = b'event: content_block_stop\ndata: {"type":"content_block_stop","index":%d}\n\n'
_MESSAGE_STOP = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
_MESSAGE_DELTA = (
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":%s,"stop_sequence":%s},"usage":%s}\n\n'
)
_USAGE = b'{"input_tokens":%d,"output_tokens":%d,"cache_creation_input_tokens":%d,"cache_read_input_tokens":%d}'


def usage_bytes(u: Usage) -> bytes:
    """`mapping.usage_to_anthropic(u)` as compact JSON, by bytes formatting (the counts are ints)."""
    uncached = max(0, u.input_tokens - u.cache_read_tokens - u.cache_write_tokens)
    return _USAGE % (uncached, u.output_tokens, u.cache_write_tokens, u.cache_read_tokens)


# Per-token delta types and the field holding their string.
_DELTA_FIELDS = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json"}


class AnthropicStreamDecoder:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.blocks: dict[int, dict] = {}
        self.known_usage = AnthropicStreamUsage()  # the same merge the pass-through tap does

    def _usage(self, u: dict) -> UsageUpdate:
        return UsageUpdate(**self.known_usage.update(u).as_dict())

    def feed(self, event: dict) -> list[Event]:
        kind = event.get("type")
        if kind == "content_block_delta":  # by far the most frequent event
            return self._delta(as_int(event.get("index")) or 0, as_obj(event.get("delta")))
        if kind == "message_start":
            msg = as_obj(event.get("message"))
            out: list[Event] = [Start(id=msg.get("id"), model=msg.get("model"))]
            if isinstance(msg.get("usage"), dict):
                out.append(self._usage(msg["usage"]))
            return out
        if kind == "content_block_start":
            return self._start(as_int(event.get("index")) or 0, as_obj(event.get("content_block")))
        if kind == "content_block_stop":
            block = self.blocks.pop(as_int(event.get("index")) or 0, None)
            if block and block["type"] == "thinking" and (block["sig"] or block["text"]):
                return [ThinkingSignature(signature=block["sig"] or None, source=ME)]
            return []
        if kind == "message_delta":
            out = []
            if isinstance(event.get("usage"), dict):
                out.append(self._usage(event["usage"]))
            delta = as_obj(event.get("delta"))
            if delta.get("stop_reason"):
                seq = delta.get("stop_sequence")
                out.append(
                    Finish(
                        reason=mapping.anthropic_finish(delta["stop_reason"]),
                        stop_sequence=seq if isinstance(seq, str) else None,
                    )
                )
            return out
        if kind == "error":
            err = as_obj(event.get("error"))
            etype = str(err.get("type", "api_error"))
            return [
                StreamError(
                    message=str(err.get("message", "upstream error")),
                    status=_ERROR_STATUS.get(etype, 502),
                    kind=etype,
                )
            ]
        return []  # ping, message_stop, and event types added later

    def delta_spec(self, event: dict) -> DeltaSpec | None:
        """A text, thinking or tool-argument delta (`delta_templates`); None for other events."""
        delta = event.get("delta")
        if event.get("type") != "content_block_delta" or type(delta) is not dict:
            return None
        field = _DELTA_FIELDS.get(delta.get("type"))  # type: ignore[arg-type]
        if field is None or type(delta.get(field)) is not str:
            return None
        kind = delta["type"]
        return DeltaSpec(kind, ("delta", field), as_int(event.get("index")) or 0, text_only=kind == "text_delta")

    def delta_events(self, spec: DeltaSpec, value: str) -> list[Event]:
        """What `feed` gives for the event of `spec` carrying `value`."""
        return self._delta(spec.key, {"type": spec.kind, _DELTA_FIELDS[spec.kind]: value})  # type: ignore[arg-type]

    def _start(self, index: int, block: dict) -> list[Event]:
        btype = block.get("type")
        self.blocks[index] = {"type": btype, "sig": None, "text": False}
        if btype == "text" and block.get("text"):
            return [TextDelta(text=block["text"])]
        if btype == "thinking" and block.get("thinking"):
            self.blocks[index]["text"] = True
            return [ThinkingDelta(text=block["thinking"])]
        if btype == "redacted_thinking":
            return [ThinkingSignature(signature=None, source=ME, redacted=str(block.get("data", "")))]
        if btype == "tool_use":
            out: list[Event] = [
                ToolStart(key=index, id=str(block.get("id") or new_id("toolu_")), name=str(block.get("name", "")))
            ]
            initial = block.get("input")
            if isinstance(initial, dict) and initial:
                out.append(ToolDelta(key=index, arguments=json.dumps(initial)))
            return out
        return []

    def _delta(self, index: int, delta: dict) -> list[Event]:
        dtype = delta.get("type")
        if dtype == "text_delta":
            return [TextDelta(text=str(delta.get("text", "")))]
        if dtype == "thinking_delta":
            if index in self.blocks:
                self.blocks[index]["text"] = True
            return [ThinkingDelta(text=str(delta.get("thinking", "")))]
        if dtype == "signature_delta":
            if index in self.blocks:
                self.blocks[index]["sig"] = (self.blocks[index]["sig"] or "") + str(delta.get("signature", ""))
            return []
        if dtype == "input_json_delta":
            return [ToolDelta(key=index, arguments=str(delta.get("partial_json", "")))]
        return []

    def finish(self) -> list[Event]:
        return []


class AnthropicStreamEncoder(BlockEncoder):
    def __init__(self, ctx: Context, model: str) -> None:
        super().__init__(ctx, model)
        self.id = new_id("msg_")
        self.index = -1
        self.tool_index: dict[object, int] = {}
        self.thinking_open = False
        self.text_head = b""

    @staticmethod
    def _event(name: str, payload: dict) -> bytes:
        return b"event: %s\ndata: %s\n\n" % (name.encode(), dumpb(payload))

    def _block_start(self, block: dict) -> bytes:
        self.index += 1
        return self._event(
            "content_block_start",
            {"type": "content_block_start", "index": self.index, "content_block": block},
        )

    def _delta(self, delta: dict, index: int | None = None) -> bytes:
        idx = self.index if index is None else index
        return self._event("content_block_delta", {"type": "content_block_delta", "index": idx, "delta": delta})

    def _stop(self) -> bytes:
        return _BLOCK_STOP % self.index

    def on_start(self) -> bytes:
        return _MESSAGE_START % (quote(self.id), quote(self.model), usage_bytes(self.usage))

    def open_text(self) -> bytes:
        self.index += 1
        self.text_head = _TEXT_HEAD % self.index
        return _TEXT_START % self.index

    def text(self, delta: str) -> bytes:
        return self.text_head + quote(delta) + b"}}\n\n"

    def text_literal(self, literal: bytes) -> bytes:
        return self.text_head + literal + b"}}\n\n"

    def close_text(self) -> bytes:
        return self._stop()

    def open_thinking(self) -> bytes:
        self.thinking_open = False  # opened lazily: a redacted block has another start
        return b""

    def thinking(self, delta: str) -> bytes:
        out = b""
        if not self.thinking_open:
            self.thinking_open = True
            out = self._block_start({"type": "thinking", "thinking": "", "signature": ""})
        return out + _DELTA % (self.index, b"thinking_delta", b"thinking", quote(delta))

    def close_thinking(self, sig: ThinkingSignature | None) -> bytes:
        if sig is not None and sig.redacted is not None and not self.thinking_open:
            if sig.source != ME:
                return b""
            return self._block_start({"type": "redacted_thinking", "data": sig.redacted}) + self._stop()
        if sig is None and not self.thinking_open:
            return b""
        out = b""
        if not self.thinking_open:
            out = self._block_start({"type": "thinking", "thinking": "", "signature": ""})
        self.thinking_open = False
        token = client_signature(sig.source, sig.signature, ME) if sig is not None else ""
        if token:
            out += self._delta({"type": "signature_delta", "signature": token})
        return out + self._stop()

    def open_tool(self, ev: ToolStart) -> bytes:
        out = b""
        if ev.signature and ev.signature_source != ME:
            token = client_signature(ev.signature_source, ev.signature, ME)
            out += self._block_start({"type": "thinking", "thinking": "", "signature": ""})
            out += self._delta({"type": "signature_delta", "signature": token}) + self._stop()
        out += self._block_start(
            {"type": "tool_use", "id": safe_id(ev.id), "name": self.ctx.origin(ev.name).name, "input": {}}
        )
        self.tool_index[ev.key] = self.index
        return out

    def tool_args(self, key: object, delta: str) -> bytes:
        index = self.tool_index.get(key)
        if index is None:
            return b""
        return _DELTA % (index, b"input_json_delta", b"partial_json", quote(delta))

    def close_tool(self) -> bytes:
        return self._stop()

    def on_end(self, reason: FinishReason) -> bytes:
        seq = self.stop_sequence
        stop_reason = "stop_sequence" if seq else mapping.ANTHROPIC_FROM_IR[reason]
        delta = _MESSAGE_DELTA % (quote(stop_reason), b"null" if seq is None else quote(seq), usage_bytes(self.usage))
        return delta + _MESSAGE_STOP

    def on_error(self, message: str, status: int) -> bytes:
        return self._event("error", error_payload("anthropic", status, message))
