"""OpenAI Chat Completions streams: upstream chunks -> IR events, and IR events -> client chunks."""

from __future__ import annotations

from typing import Any

from proxy_engine.usage.upstream import from_openai_chat

from . import mapping
from .context import Context
from .delta_templates import DeltaSpec
from .errors import error_payload, upstream_message
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
    ToolDelta,
    ToolStart,
    UsageUpdate,
)
from .json_text import dumpb, quote
from .stream_base import BlockEncoder

DONE = b"data: [DONE]\n\n"
# What a token chunk's one choice may hold besides its delta without changing what it means.
_PLAIN_CHOICE = frozenset(("index", "delta", "finish_reason", "logprobs"))
_DELTA_EVENTS = {"content": TextDelta, "reasoning_content": ThinkingDelta, "reasoning": ThinkingDelta}
_TAIL = b',"logprobs":null,"finish_reason":null}]}\n\n'
_TEXT_TAIL = b"}" + _TAIL


class ChatStreamDecoder:
    """Tool calls are keyed by their `index`; a call whose name arrives late is held until it does."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.started = False
        self.tools: dict[int, dict] = {}

    def feed(self, chunk: dict) -> list[Event]:
        out: list[Event] = []
        if "error" in chunk and not chunk.get("choices"):
            message, kind = upstream_message(chunk)
            return [StreamError(message=message, status=502, kind=kind)]
        if not self.started:
            self.started = True
            out.append(Start(id=chunk.get("id"), model=chunk.get("model")))
        for choice in as_list(chunk.get("choices")):
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = as_obj(choice.get("delta"))
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning and isinstance(reasoning, str):
                out.append(ThinkingDelta(text=reasoning))
            content = delta.get("content")
            if content and isinstance(content, str):
                out.append(TextDelta(text=content))
            calls = delta.get("tool_calls")
            if calls:
                for call in as_list(calls):
                    if isinstance(call, dict):
                        out.extend(self._tool(call))
            if choice.get("finish_reason"):
                out.extend(self._flush())
                out.append(Finish(reason=mapping.openai_finish(choice["finish_reason"])))
        raw_usage = chunk.get("usage")
        if raw_usage is not None:
            usage = from_openai_chat(raw_usage)
            if usage is not None:
                out.append(UsageUpdate(**usage.as_dict()))
        return out

    def delta_spec(self, chunk: dict) -> DeltaSpec | None:
        """A chunk that only carries one text or reasoning string (`delta_templates`); None otherwise."""
        if "error" in chunk or chunk.get("usage") is not None:
            return None
        choices = chunk.get("choices")
        if type(choices) is not list or len(choices) != 1:
            return None
        choice = choices[0]
        if type(choice) is not dict or choice.get("index", 0) != 0 or choice.get("finish_reason"):
            return None
        delta = choice.get("delta")
        if not _PLAIN_CHOICE.issuperset(choice) or type(delta) is not dict:
            return None
        carried = [k for k, v in delta.items() if v is not None and k != "role"]
        if len(carried) != 1 or carried[0] not in _DELTA_EVENTS or type(delta[carried[0]]) is not str:
            return None
        return DeltaSpec(carried[0], ("choices", 0, "delta", carried[0]), text_only=carried[0] == "content")

    def delta_events(self, spec: DeltaSpec, value: str) -> list[Event]:
        """What `feed` gives for the chunk of `spec` carrying `value`."""
        return [_DELTA_EVENTS[spec.kind](text=value)] if value else []

    def _tool(self, call: dict) -> list[Event]:
        index = call.get("index", len(self.tools))
        fn = as_obj(call.get("function"))
        state = self.tools.get(index)
        if state is None:
            state = self.tools[index] = {
                "id": None,
                "name": None,
                "pending": "",
                "started": False,
                "sig": None,
            }
        if call.get("id"):
            state["id"] = call["id"]
        if fn.get("name"):
            state["name"] = fn["name"]
        sig = as_obj(as_obj(call.get("extra_content")).get("google")).get("thought_signature")
        if isinstance(sig, str):
            state["sig"] = sig
        args = fn.get("arguments") if isinstance(fn.get("arguments"), str) else ""
        if not state["started"]:
            state["pending"] += args
            if not state["name"]:
                return []
            return self._open(index, state)
        return [ToolDelta(key=index, arguments=args)] if args else []

    def _open(self, index: int, state: dict) -> list[Event]:
        state["started"] = True
        out: list[Event] = [
            ToolStart(
                key=index,
                id=state["id"] or new_id("call_"),
                name=state["name"] or "tool",
                signature=state["sig"],
                signature_source="gemini" if state["sig"] else None,
            )
        ]
        if state["pending"]:
            out.append(ToolDelta(key=index, arguments=state["pending"]))
            state["pending"] = ""
        return out

    def _flush(self) -> list[Event]:
        out: list[Event] = []
        for index, state in self.tools.items():
            if not state["started"]:
                out.extend(self._open(index, state))
        return out

    def finish(self) -> list[Event]:
        return self._flush()


class ChatStreamEncoder(BlockEncoder):
    """`data: {chunk}` lines; usage in a final choices-less chunk only if the client asked for it."""

    def __init__(self, ctx: Context, model: str) -> None:
        super().__init__(ctx, model)
        self.id = new_id("chatcmpl-")
        self.created = now()
        self.tool_index: dict[object, int] = {}
        self.answered_by(model)

    def answered_by(self, model: str) -> None:
        super().answered_by(model)
        # Everything of a chunk before its delta, rendered once: tokens are framed by concatenation.
        head = b'data: {"id":%s,"object":"chat.completion.chunk","created":%d,"model":%s,"choices":[{"index":0,"delta":'
        self.head = head % (quote(self.id), self.created, quote(model))
        self.text_head = self.head + b'{"content":'

    def _chunk(self, delta: dict, finish: str | None = None, **extra: Any) -> bytes:
        payload = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            **extra,
        }
        return b"data: " + dumpb(payload) + b"\n\n"

    def on_start(self) -> bytes:
        return self.head + b'{"role":"assistant","content":""}' + _TAIL  # `_chunk` of that delta, by bytes

    def text(self, delta: str) -> bytes:
        return self.text_head + quote(delta) + _TEXT_TAIL

    def text_literal(self, literal: bytes) -> bytes:
        return self.text_head + literal + _TEXT_TAIL

    def thinking(self, delta: str) -> bytes:
        return self.head + b'{"reasoning_content":' + quote(delta) + b"}" + _TAIL

    def open_tool(self, ev: ToolStart) -> bytes:
        index = self.tool_index[ev.key] = len(self.tool_index)
        call: dict[str, Any] = {
            "index": index,
            "id": ev.id,
            "type": "function",
            "function": {"name": self.ctx.origin(ev.name).name, "arguments": ""},
        }
        if ev.signature and ev.signature_source == "gemini":
            call["extra_content"] = {"google": {"thought_signature": ev.signature}}
        return self._chunk({"tool_calls": [call]})

    def tool_args(self, key: object, delta: str) -> bytes:
        index = self.tool_index.get(key)
        if index is None:
            return b""
        call = b'{"tool_calls":[{"index":%d,"function":{"arguments":%s}}]}' % (index, quote(delta))
        return self.head + call + _TAIL

    def on_end(self, reason: FinishReason) -> bytes:
        out = self.head + b'{},"logprobs":null,"finish_reason":%s}]}\n\n' % quote(reason)  # `_chunk({}, reason)`
        if self.ctx.include_usage:
            payload = {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": mapping.usage_to_openai_chat(self.usage),
            }
            out += b"data: " + dumpb(payload) + b"\n\n"
        return out + DONE

    def on_error(self, message: str, status: int) -> bytes:
        payload = error_payload("openai_chat", status, message)
        return b"data: " + dumpb(payload) + b"\n\n"
