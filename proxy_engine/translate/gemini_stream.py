"""Gemini streams: upstream GenerateContentResponse chunks -> IR events, and IR events -> client chunks.

A Gemini client reads either SSE (`alt=sse`: `data: {...}` blocks) or one JSON array streamed
element by element. Gemini sends each function call whole, so a call translated for a Gemini
client is held until its arguments are complete (one call, never the whole stream).
"""

from __future__ import annotations

from typing import Any

from proxy_engine.usage.upstream import from_gemini

from . import mapping
from .context import Context
from .delta_templates import DeltaSpec
from .errors import error_payload, upstream_message
from .fields import as_list, as_obj, get
from .gemini import ME, call_from_part, call_part
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
    ToolCall,
    ToolDelta,
    ToolStart,
    UsageUpdate,
)
from .json_text import dumpb, quote
from .stream_base import BlockEncoder
from .thinking import client_signature


class GeminiStreamDecoder:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.started = False
        self.salt = new_id("")
        self.calls = 0
        self.last: str | None = None  # "thinking" | "text" | "tool"
        self.last_usage: Any = None  # Gemini repeats usageMetadata on every chunk; read it when it changes

    def feed(self, chunk: dict) -> list[Event]:
        if isinstance(chunk.get("error"), dict):
            message, kind = upstream_message(chunk)
            code = chunk["error"].get("code")
            return [StreamError(message=message, status=code if isinstance(code, int) else 502, kind=kind)]
        out: list[Event] = []
        if not self.started:
            self.started = True
            rid = get(chunk, "responseId", "response_id")
            if rid:
                self.salt = str(rid)
            out.append(Start(id=rid, model=get(chunk, "modelVersion", "model_version")))
        meta = chunk.get("usageMetadata")
        if meta is None:
            meta = chunk.get("usage_metadata")
        if meta is not None and meta != self.last_usage:
            self.last_usage = meta
            usage = from_gemini(meta)
            if usage is not None:
                out.append(UsageUpdate(**usage.as_dict()))
        candidate = as_obj((as_list(chunk.get("candidates")) or [{}])[0])
        for part in as_list(as_obj(candidate.get("content")).get("parts")):
            if not isinstance(part, dict):
                continue
            text = part.get("text")
            if len(part) == 1 and isinstance(text, str):  # a plain text part: the usual chunk
                if text:
                    out.append(TextDelta(text=text))
                    self.last = "text"
                continue
            out.extend(self._part(part))
        reason = candidate.get("finishReason") or candidate.get("finish_reason")
        if reason:
            out.append(Finish(reason=mapping.gemini_finish(reason)))
        elif not chunk.get("candidates") and as_obj(get(chunk, "promptFeedback", "prompt_feedback")).get("blockReason"):
            out.append(Finish(reason="content_filter"))
        return out

    def delta_spec(self, chunk: dict) -> DeltaSpec | None:
        """A chunk whose one plain text part is all it says (`delta_templates`); None otherwise. Its
        usage must equal what was last read, or the chunk would be news: the spec keeps it to compare."""
        candidates = chunk.get("candidates")
        if "error" in chunk or type(candidates) is not list or not candidates or type(candidates[0]) is not dict:
            return None
        candidate = candidates[0]
        if candidate.get("finishReason") or candidate.get("finish_reason"):
            return None
        content = candidate.get("content")
        parts = content.get("parts") if type(content) is dict else None
        if type(parts) is not list or len(parts) != 1 or type(parts[0]) is not dict or len(parts[0]) != 1:
            return None
        if type(parts[0].get("text")) is not str:
            return None
        path = ("candidates", 0, "content", "parts", 0, "text")
        return DeltaSpec("text", path, self.last_usage, text_only=True, guard=self._text_is_plain)

    def _text_is_plain(self, spec: DeltaSpec) -> bool:
        """A text chunk of `spec` is just its text now: its usage is no news and it leaves `last` as it is."""
        return self.last == "text" and spec.key == self.last_usage

    def delta_events(self, spec: DeltaSpec, value: str) -> list[Event] | None:
        """What `feed` gives for the chunk of `spec` carrying `value`; None once the usage read since
        differs from the chunk's (it must be parsed whole again)."""
        if spec.key != self.last_usage:
            return None
        if not value:
            return []
        self.last = "text"
        return [TextDelta(text=value)]

    def _part(self, part: dict) -> list[Event]:
        sig = get(part, "thoughtSignature", "thought_signature")
        if part.get("thought"):
            out: list[Event] = []
            if part.get("text"):
                out.append(ThinkingDelta(text=str(part["text"])))
            if sig:
                out.append(ThinkingSignature(signature=sig, source=ME))
            self.last = "thinking" if not sig else None
            return out
        if isinstance(get(part, "functionCall", "function_call"), dict):
            call = call_from_part(part, self.salt, self.calls)
            key = self.calls
            self.calls += 1
            self.last = "tool"
            return [
                ToolStart(
                    key=key,
                    id=call.id,
                    name=call.name,
                    signature=call.signature,
                    signature_source=call.signature_source,
                ),
                ToolDelta(key=key, arguments=call.arguments),
            ]
        if isinstance(part.get("text"), str):
            out = []
            if sig and self.last == "thinking":
                out.append(ThinkingSignature(signature=sig, source=ME))
            if part["text"]:
                out.append(TextDelta(text=part["text"]))
                self.last = "text"
            return out
        return []

    def finish(self) -> list[Event]:
        return []


class GeminiStreamEncoder(BlockEncoder):
    def __init__(self, ctx: Context, model: str, client_sse: bool = True) -> None:
        super().__init__(ctx, model)
        self.sse = client_sse
        self.response_id = new_id("")
        self.sent = 0
        self.call: ToolCall | None = None
        self.answered_by(model)
        self.usage_json: tuple[int, bytes] = (-1, b"")

    def answered_by(self, model: str) -> None:
        super().answered_by(model)
        self.tail = b',"modelVersion":%s,"responseId":%s}' % (quote(model), quote(self.response_id))

    def _frame(self, payload: dict) -> bytes:
        return self._framed(dumpb(payload))

    def _framed(self, data: bytes) -> bytes:
        self.sent += 1
        if self.sse:
            return b"data: " + data + b"\r\n\r\n"
        return (b"[" if self.sent == 1 else b",\r\n") + data

    def _chunk(self, parts: list[dict], finish: str | None = None, usage: bool = False) -> bytes:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        payload: dict[str, Any] = {"candidates": [candidate]}
        if usage or self.saw_usage:
            payload["usageMetadata"] = mapping.usage_to_gemini(self.usage)
        payload["modelVersion"] = self.model
        payload["responseId"] = self.response_id
        return self._frame(payload)

    def _part_chunk(self, part: bytes) -> bytes:
        """What `_chunk([part])` renders, by concatenation: this runs once per token."""
        usage = b""
        if self.saw_usage:
            rev, usage = self.usage_json
            if rev != self.usage_rev:
                usage = b',"usageMetadata":' + dumpb(mapping.usage_to_gemini(self.usage))
                self.usage_json = (self.usage_rev, usage)
        head = b'{"candidates":[{"content":{"role":"model","parts":['
        return self._framed(head + part + b']},"index":0}]' + usage + self.tail)

    def text(self, delta: str) -> bytes:
        return self._part_chunk(b'{"text":' + quote(delta) + b"}")

    def text_literal(self, literal: bytes) -> bytes:
        return self._part_chunk(b'{"text":' + literal + b"}")

    def thinking(self, delta: str) -> bytes:
        return self._part_chunk(b'{"text":' + quote(delta) + b',"thought":true}')

    def close_thinking(self, sig: ThinkingSignature | None) -> bytes:
        if sig is None or sig.redacted is not None:
            return b""
        token = client_signature(sig.source, sig.signature, ME)
        return self._chunk([{"text": "", "thought": True, "thoughtSignature": token}]) if token else b""

    def open_tool(self, ev: ToolStart) -> bytes:
        self.call = ToolCall(
            id=ev.id, name=ev.name, arguments="", signature=ev.signature, signature_source=ev.signature_source
        )
        return b""

    def tool_args(self, key: object, delta: str) -> bytes:
        if self.call is not None and key == self.tool_key:
            self.call.arguments += delta
        return b""

    def close_tool(self) -> bytes:
        call, self.call = self.call, None
        return self._chunk([call_part(call, self.ctx)]) if call is not None else b""

    def on_end(self, reason: FinishReason) -> bytes:
        out = self._chunk([{"text": ""}], mapping.GEMINI_FROM_IR[reason], usage=True)
        return out if self.sse else out + b"]"

    def on_error(self, message: str, status: int) -> bytes:
        out = self._frame(error_payload("gemini", status, message))
        return out if self.sse else out + b"]"
