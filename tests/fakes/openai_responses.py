"""Rendering of the OpenAI Responses API (`POST /v1/responses`): the Response object and its SSE events."""

from __future__ import annotations

import time
from typing import Any

from .base import sse
from .script import Script, new_id, split_text

ECHOED_PARAMS = {
    "instructions": None,
    "max_output_tokens": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "reasoning": {"effort": None, "summary": None},
    "store": True,
    "temperature": 1.0,
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
    "tools": [],
    "top_p": 1.0,
    "truncation": "disabled",
    "user": None,
}


def wants_reasoning(body: dict[str, Any]) -> bool:
    return isinstance(body.get("reasoning"), dict)


def responses_usage(script: Script) -> dict[str, Any]:
    u = script.usage
    return {
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": u.cache_read_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.input_tokens + u.output_tokens,
    }


class ResponsesRenderer:
    """Builds one Response (ids fixed at construction) as JSON or as the ordered list of SSE frames."""

    def __init__(self, script: Script, model: str, body: dict[str, Any]) -> None:
        self.script = script
        self.model = model
        self.body = body
        self.id = new_id("resp_", 32)
        self.created_at = int(time.time())
        self.text = script.reply_text(model)
        self.seq = 0
        self.reasoning = script.thinking if script.thinking and wants_reasoning(body) else None
        self.incomplete = script.stop_reason in ("max_output_tokens", "content_filter")

    # ----- objects -------------------------------------------------------------------------------
    def response(self, status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None) -> dict:
        obj: dict[str, Any] = {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": False,
            "error": None,
            "incomplete_details": {"reason": self.script.stop_reason} if status == "incomplete" else None,
            "model": self.model,
            "output": output,
            "usage": usage,
        }
        for key, default in ECHOED_PARAMS.items():
            obj[key] = self.body.get(key, default)
        return obj

    def _reasoning_item(self, item_id: str, done: bool) -> dict[str, Any]:
        item: dict[str, Any] = {"id": item_id, "type": "reasoning", "summary": []}
        summary_on = (self.body.get("reasoning") or {}).get("summary") is not None
        if done and summary_on:
            item["summary"] = [{"type": "summary_text", "text": self.reasoning}]
        if "reasoning.encrypted_content" in (self.body.get("include") or []):
            item["encrypted_content"] = self.script.signature()
        return item

    def _message_item(self, item_id: str, done: bool) -> dict[str, Any]:
        content = [self._text_part(self.text)] if done else []
        status = "completed" if done else "in_progress"
        return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": content}

    @staticmethod
    def _text_part(text: str) -> dict[str, Any]:
        return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}

    def _call_item(self, item_id: str, index: int, done: bool) -> dict[str, Any]:
        tc = self.script.tool_calls[index]
        return {
            "id": item_id,
            "type": "function_call",
            "status": "completed" if done else "in_progress",
            "arguments": tc.arguments_json if done else "",
            "call_id": tc.id or f"call_{item_id[3:27]}",
            "name": tc.name,
        }

    def _items(self) -> list[tuple[str, str, int]]:
        """(kind, item id, tool index) in output order."""
        items = []
        if self.reasoning:
            items.append(("reasoning", new_id("rs_", 32), -1))
        if self.text:
            items.append(("message", new_id("msg_", 32), -1))
        for i in range(len(self.script.tool_calls)):
            items.append(("call", new_id("fc_", 32), i))
        return items

    def _final_item(self, kind: str, item_id: str, index: int) -> dict[str, Any]:
        if kind == "reasoning":
            return self._reasoning_item(item_id, True)
        if kind == "message":
            return self._message_item(item_id, True)
        return self._call_item(item_id, index, True)

    def final_status(self) -> str:
        return "incomplete" if self.incomplete else "completed"

    def as_json(self) -> dict[str, Any]:
        output = [self._final_item(*item) for item in self._items()]
        return self.response(self.final_status(), output, responses_usage(self.script))

    # ----- stream --------------------------------------------------------------------------------
    def event(self, etype: str, **fields: Any) -> bytes:
        data = {"type": etype, "sequence_number": self.seq, **fields}
        self.seq += 1
        return sse(data, etype)

    def error_frame(self) -> bytes:
        failed = self.response("failed", [], None)
        failed["error"] = {"code": "server_error", "message": self.script.error_message or "upstream failure"}
        return self.event("response.failed", response=failed)

    def frames(self) -> list[bytes]:
        ev = self.event
        out = [
            ev("response.created", response=self.response("in_progress", [], None)),
            ev("response.in_progress", response=self.response("in_progress", [], None)),
        ]
        done_items = []
        for oi, (kind, item_id, index) in enumerate(self._items()):
            if kind == "reasoning":
                out += self._reasoning_frames(oi, item_id)
            elif kind == "message":
                out += self._message_frames(oi, item_id)
            else:
                out += self._call_frames(oi, item_id, index)
            final = self._final_item(kind, item_id, index)
            done_items.append(final)
            out.append(ev("response.output_item.done", output_index=oi, item=final))
        final_type = "response.incomplete" if self.incomplete else "response.completed"
        out.append(
            ev(
                final_type,
                response=self.response(self.final_status(), done_items, responses_usage(self.script)),
            )
        )
        return out

    def _reasoning_frames(self, oi: int, item_id: str) -> list[bytes]:
        ev = self.event
        out = [ev("response.output_item.added", output_index=oi, item=self._reasoning_item(item_id, False))]
        if (self.body.get("reasoning") or {}).get("summary") is None:
            return out
        ids = {"item_id": item_id, "output_index": oi, "summary_index": 0}
        text = self.reasoning or ""
        out.append(ev("response.reasoning_summary_part.added", **ids, part={"type": "summary_text", "text": ""}))
        for piece in split_text(text, self.script.chunks):
            out.append(ev("response.reasoning_summary_text.delta", **ids, delta=piece))
        out.append(ev("response.reasoning_summary_text.done", **ids, text=text))
        out.append(ev("response.reasoning_summary_part.done", **ids, part={"type": "summary_text", "text": text}))
        return out

    def _message_frames(self, oi: int, item_id: str) -> list[bytes]:
        ev = self.event
        ids = {"item_id": item_id, "output_index": oi, "content_index": 0}
        out = [
            ev("response.output_item.added", output_index=oi, item=self._message_item(item_id, False)),
            ev("response.content_part.added", **ids, part=self._text_part("")),
        ]
        pieces = split_text(self.text, self.script.chunks)
        if self.script.edge_cases:
            pieces = ["", *pieces, ""]
        for piece in pieces:
            out.append(ev("response.output_text.delta", **ids, delta=piece, logprobs=[]))
        out.append(ev("response.output_text.done", **ids, text=self.text, logprobs=[]))
        out.append(ev("response.content_part.done", **ids, part=self._text_part(self.text)))
        return out

    def _call_frames(self, oi: int, item_id: str, index: int) -> list[bytes]:
        ev = self.event
        tc = self.script.tool_calls[index]
        out = [ev("response.output_item.added", output_index=oi, item=self._call_item(item_id, index, False))]
        for piece in split_text(tc.arguments_json, self.script.arg_chunks):
            out.append(ev("response.function_call_arguments.delta", item_id=item_id, output_index=oi, delta=piece))
        out.append(
            ev(
                "response.function_call_arguments.done",
                item_id=item_id,
                output_index=oi,
                name=tc.name,
                arguments=tc.arguments_json,
            )
        )
        return out
