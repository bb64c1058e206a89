"""OpenAI Responses streams: upstream events -> IR events, and IR events -> client events."""

from __future__ import annotations

import json
from typing import Any

from proxy_engine.usage.upstream import from_openai_responses

from . import mapping
from .context import Context
from .fields import as_list, as_obj
from .ids import new_id, now
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
from .openai_responses import ME, native_signature
from .openai_responses_out import call_item, client_token, message_item, reasoning_item, response_object
from .stream_base import BlockEncoder

# Per-token events, filled in by bytes formatting: (event name, sequence number, ids, delta).
_TOKEN = b'event: %s\ndata: {"type":"%s","sequence_number":%d,%s,"delta":%s%s}\n\n'


class ResponsesStreamDecoder:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.tools: dict[str, dict] = {}  # item id -> {"custom": bool, "args": bool}
        self.reasoning_text: dict[str, bool] = {}

    def feed(self, event: dict) -> list[Event]:
        kind = event.get("type", "")
        if kind == "response.created":
            resp = as_obj(event.get("response"))
            return [Start(id=resp.get("id"), model=resp.get("model"))]
        if kind in ("response.output_text.delta", "response.refusal.delta"):
            return [TextDelta(text=str(event.get("delta", "")))]
        if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            self.reasoning_text[str(event.get("item_id"))] = True
            return [ThinkingDelta(text=str(event.get("delta", "")))]
        if kind == "response.reasoning_summary_part.added" and (event.get("summary_index") or 0) > 0:
            return [ThinkingDelta(text="\n\n")]
        if kind == "response.output_item.added":
            return self._item_added(as_obj(event.get("item")))
        if kind == "response.function_call_arguments.delta":
            item_id = str(event.get("item_id"))
            if item_id in self.tools:
                self.tools[item_id]["args"] = True
            return [ToolDelta(key=item_id, arguments=str(event.get("delta", "")))]
        if kind == "response.custom_tool_call_input.delta":
            item_id = str(event.get("item_id"))
            if item_id in self.tools:
                self.tools[item_id]["args"] = True
            return [ToolDelta(key=item_id, arguments=json.dumps(str(event.get("delta", "")))[1:-1])]
        if kind == "response.output_item.done":
            return self._item_done(as_obj(event.get("item")))
        if kind in ("response.completed", "response.incomplete"):
            return self._completed(as_obj(event.get("response")))
        if kind == "response.failed":
            err = as_obj(event.get("response")).get("error") or {}
            return [
                StreamError(
                    message=str(err.get("message", "the upstream response failed")),
                    status=502,
                    kind=err.get("code"),
                )
            ]
        if kind == "error":
            return [
                StreamError(message=str(event.get("message", "upstream error")), status=502, kind=event.get("code"))
            ]
        return []

    def _item_added(self, item: dict) -> list[Event]:
        kind = item.get("type")
        if kind in ("function_call", "custom_tool_call"):
            item_id = str(item.get("id") or item.get("call_id"))
            custom = kind == "custom_tool_call"
            self.tools[item_id] = {"custom": custom, "args": False}
            out: list[Event] = [
                ToolStart(key=item_id, id=str(item.get("call_id") or item_id), name=str(item.get("name", "")))
            ]
            if custom:
                out.append(ToolDelta(key=item_id, arguments='{"input":"'))
            return out
        return []

    def _item_done(self, item: dict) -> list[Event]:
        kind = item.get("type")
        item_id = str(item.get("id") or item.get("call_id"))
        if kind == "reasoning":
            sig = native_signature(item.get("id"), item.get("encrypted_content"))
            out: list[Event] = []
            if not self.reasoning_text.get(item_id):
                texts = [s.get("text", "") for s in as_list(item.get("summary")) if isinstance(s, dict)]
                if any(texts):
                    out.append(ThinkingDelta(text="\n\n".join(texts)))
            if sig or out or self.reasoning_text.get(item_id):
                out.append(ThinkingSignature(signature=sig, source=ME))
            return out
        state = self.tools.get(item_id)
        if kind == "function_call" and state is not None and not state["args"] and item.get("arguments"):
            return [ToolDelta(key=item_id, arguments=str(item["arguments"]))]
        if kind == "custom_tool_call" and state is not None:
            if not state["args"] and item.get("input"):
                return [ToolDelta(key=item_id, arguments=json.dumps(str(item["input"]))[1:-1] + '"}')]
            return [ToolDelta(key=item_id, arguments='"}')]
        return []

    def _completed(self, resp: dict) -> list[Event]:
        out: list[Event] = []
        usage = from_openai_responses(resp.get("usage"))
        if usage is not None:
            out.append(UsageUpdate(**usage.as_dict()))
        reason: FinishReason = "stop"
        if resp.get("status") == "incomplete":
            why = as_obj(resp.get("incomplete_details")).get("reason")
            reason = "content_filter" if why == "content_filter" else "length"
        out.append(Finish(reason=reason))
        return out

    def finish(self) -> list[Event]:
        return []


class ResponsesStreamEncoder(BlockEncoder):
    """Semantic events with a running sequence_number; the final response object lists every item."""

    def __init__(self, ctx: Context, model: str) -> None:
        super().__init__(ctx, model)
        self.id = new_id("resp_")
        self.created = now()
        self.seq = 0
        self.output: list[dict] = []
        self.item: dict[str, Any] | None = None
        self.buffer: list[str] = []
        self.summary_open = False
        self.calls: dict[object, tuple[int, dict, ToolCall]] = {}

    def _event(self, name: str, payload: dict) -> bytes:
        payload = {"type": name, "sequence_number": self.seq, **payload}
        self.seq += 1
        return b"event: %s\ndata: %s\n\n" % (name.encode(), dumpb(payload))

    def _token(self, name: bytes, ids: bytes, delta: str, tail: bytes = b"") -> bytes:
        """`_event(name, {**ids, "delta": delta, **tail})` without building and dumping a dict."""
        self.seq += 1
        return _TOKEN % (name, name, self.seq - 1, ids, quote(delta), tail)

    def _ids_json(self, extra: bytes) -> bytes:
        assert self.item is not None
        return b'"item_id":%s,"output_index":%d,%s' % (quote(self.item["id"]), len(self.output) - 1, extra)

    def _response(self, status: str, **extra: Any) -> dict:
        return response_object(self.ctx, self.model, self.id, self.created, status, list(self.output), **extra)

    def _add(self, item: dict) -> bytes:
        self.output.append(item)
        return self._event("response.output_item.added", {"output_index": len(self.output) - 1, "item": item})

    def _done(self, item: dict) -> bytes:
        index = next(i for i, x in enumerate(self.output) if x is item)
        return self._event("response.output_item.done", {"output_index": index, "item": item})

    def _ids(self) -> dict:
        assert self.item is not None
        return {"item_id": self.item["id"], "output_index": len(self.output) - 1}

    def on_start(self) -> bytes:
        created = self._response("in_progress", usage=None)
        return self._event("response.created", {"response": created}) + self._event(
            "response.in_progress", {"response": created}
        )

    def open_text(self) -> bytes:
        self.item, self.buffer = message_item("", status="in_progress"), []
        self.item["content"] = []
        part = {"type": "output_text", "text": "", "annotations": []}
        return self._add(self.item) + self._event(
            "response.content_part.added", {**self._ids(), "content_index": 0, "part": part}
        )

    def text(self, delta: str) -> bytes:
        self.buffer.append(delta)
        ids = self._ids_json(b'"content_index":0')
        return self._token(b"response.output_text.delta", ids, delta, b',"logprobs":[]')

    def close_text(self) -> bytes:
        text = "".join(self.buffer)
        part = {"type": "output_text", "text": text, "annotations": []}
        out = self._event(
            "response.output_text.done", {**self._ids(), "content_index": 0, "text": text, "logprobs": []}
        )
        out += self._event("response.content_part.done", {**self._ids(), "content_index": 0, "part": part})
        assert self.item is not None
        self.item.update(status="completed", content=[part])
        return out + self._done(self.item)

    def open_thinking(self) -> bytes:
        self.item, self.buffer, self.summary_open = reasoning_item("", None), [], False
        return self._add(self.item)

    def thinking(self, delta: str) -> bytes:
        out = b""
        if not self.summary_open:
            self.summary_open = True
            part = {"type": "summary_text", "text": ""}
            out = self._event(
                "response.reasoning_summary_part.added", {**self._ids(), "summary_index": 0, "part": part}
            )
        self.buffer.append(delta)
        ids = self._ids_json(b'"summary_index":0')
        return out + self._token(b"response.reasoning_summary_text.delta", ids, delta)

    def close_thinking(self, sig: ThinkingSignature | None) -> bytes:
        assert self.item is not None
        text, out = "".join(self.buffer), b""
        if self.summary_open:
            part = {"type": "summary_text", "text": text}
            out += self._event(
                "response.reasoning_summary_text.done", {**self._ids(), "summary_index": 0, "text": text}
            )
            out += self._event(
                "response.reasoning_summary_part.done", {**self._ids(), "summary_index": 0, "part": part}
            )
            self.item["summary"] = [part]
        if sig is not None:
            token = client_token(sig.source, sig.signature, text, sig.redacted)
            if token:
                self.item["encrypted_content"] = token
        return out + self._done(self.item)

    def open_tool(self, ev: ToolStart) -> bytes:
        out = b""
        if ev.signature and ev.signature_source != ME:
            carrier = reasoning_item("", client_token(ev.signature_source, ev.signature, ""))
            out += self._add(carrier) + self._done(carrier)
        call = ToolCall(id=ev.id, name=ev.name, arguments="")
        item = call_item(call, self.ctx, status="in_progress")
        if item["type"] == "custom_tool_call":
            item["input"] = ""
        else:
            item["arguments"] = ""
        out += self._add(item)
        self.item = item
        self.calls[ev.key] = (len(self.output) - 1, item, call)
        return out

    def tool_args(self, key: object, delta: str) -> bytes:
        found = self.calls.get(key)
        if found is None:
            return b""
        index, item, call = found
        call.arguments += delta
        if item["type"] == "custom_tool_call":
            return b""  # free-form input is JSON-wrapped upstream: sent whole when the call ends
        ids = b'"item_id":%s,"output_index":%d' % (quote(item["id"]), index)
        return self._token(b"response.function_call_arguments.delta", ids, delta)

    def close_tool(self) -> bytes:
        index, item, call = self.calls[self.tool_key]
        final = call_item(call, self.ctx, item_id=item["id"])
        item.clear()
        item.update(final)
        if item["type"] == "custom_tool_call":
            out = self._event(
                "response.custom_tool_call_input.delta",
                {"item_id": item["id"], "output_index": index, "delta": item["input"]},
            )
            out += self._event(
                "response.custom_tool_call_input.done",
                {"item_id": item["id"], "output_index": index, "input": item["input"]},
            )
        else:
            out = self._event(
                "response.function_call_arguments.done",
                {"item_id": item["id"], "output_index": index, "arguments": item["arguments"]},
            )
        return out + self._done(item)

    def on_end(self, reason: FinishReason) -> bytes:
        usage = mapping.usage_to_responses(self.usage)
        if reason in ("length", "content_filter"):
            why = "max_output_tokens" if reason == "length" else "content_filter"
            resp = self._response("incomplete", usage=usage, incomplete=why)
            return self._event("response.incomplete", {"response": resp})
        return self._event("response.completed", {"response": self._response("completed", usage=usage)})

    def on_error(self, message: str, status: int) -> bytes:
        code = "rate_limit_exceeded" if status == 429 else "server_error"
        out = self._event("error", {"code": code, "message": message, "param": None})
        error = {"code": code, "message": message}
        self._settle_open_item()
        usage = mapping.usage_to_responses(self.usage) if self.saw_usage else None
        return out + self._event("response.failed", {"response": self._response("failed", usage=usage, error=error)})

    def _settle_open_item(self) -> None:
        """The failed response lists what was streamed so far: the item cut short holds its partial
        text or arguments and is marked incomplete, as its deltas already told the client."""
        if self.block == "text" and self.item is not None:
            part = {"type": "output_text", "text": "".join(self.buffer), "annotations": []}
            self.item.update(status="incomplete", content=[part])
        elif self.block == "thinking" and self.item is not None and self.buffer:
            self.item["summary"] = [{"type": "summary_text", "text": "".join(self.buffer)}]
        elif self.block == "tool" and self.tool_key in self.calls:
            _, item, call = self.calls[self.tool_key]
            item["status"] = "incomplete"
            if item["type"] == "function_call":  # a custom call's input is still JSON-wrapped here
                item["arguments"] = call.arguments
