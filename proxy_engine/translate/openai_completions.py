"""Legacy OpenAI Completions (/v1/completions), mapped onto a one-turn chat."""

from __future__ import annotations

from typing import Any

from proxy_engine.usage.upstream import from_openai_completions

from . import mapping
from .context import Context
from .errors import error_payload, upstream_message
from .fields import as_float, as_int, as_list, as_obj, str_list
from .ids import new_id, now
from .ir import (
    Event,
    Finish,
    FinishReason,
    Message,
    Request,
    Response,
    Start,
    StreamError,
    Text,
    TextDelta,
    UsageUpdate,
)
from .json_text import dumpb, quote
from .stream_base import BlockEncoder

DONE = b"data: [DONE]\n\n"
_TAIL = b',"index":0,"logprobs":null,"finish_reason":null}]}\n\n'


def decode_request(body: dict, ctx: Context) -> Request:
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        if len(prompt) > 1:
            ctx.warn("only the first of several prompts is translated")
        prompt = prompt[0] if prompt and isinstance(prompt[0], str) else ""
    req = Request(
        model=str(body.get("model", "")),
        messages=[Message(role="user", parts=[Text(text=str(prompt or ""))])],
    )
    if body.get("suffix"):
        ctx.warn("suffix (fill-in-the-middle) dropped: the upstream has no equivalent")
    req.max_tokens = as_int(body.get("max_tokens"))
    req.temperature = as_float(body.get("temperature"))
    req.top_p = as_float(body.get("top_p"))
    req.stop = str_list(body.get("stop"))
    if isinstance(body.get("user"), str):
        req.user = body["user"]
    ctx.include_usage = bool(as_obj(body.get("stream_options")).get("include_usage"))
    return req


def encode_request(req: Request, ctx: Context, *, model: str, stream: bool) -> dict:
    lines = [f"{s}\n" for s in req.system]
    single = len(req.messages) == 1 and req.messages[0].role == "user" and not req.system
    for msg in req.messages:
        text = "".join(p.text for p in msg.parts if isinstance(p, Text))
        lines.append(text if single else f"{msg.role.title()}: {text}\n")
    if not single:
        lines.append("Assistant:")
    if req.tools:
        ctx.warn("tools dropped: the legacy completions API has none")
    body: dict[str, Any] = {"model": model, "prompt": "".join(lines)}
    if req.max_tokens is not None:
        body["max_tokens"] = req.max_tokens
    for key in ("temperature", "top_p"):
        if getattr(req, key) is not None:
            body[key] = getattr(req, key)
    if req.stop:
        body["stop"] = req.stop[:4]
    if req.user:
        body["user"] = req.user
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def decode_response(body: dict, ctx: Context) -> Response:
    choice = as_obj((as_list(body.get("choices")) or [{}])[0])
    text = choice.get("text")
    return Response(
        id=str(body.get("id") or new_id("cmpl-")),
        model=str(body.get("model", "")),
        parts=[Text(text=text)] if isinstance(text, str) and text else [],
        finish_reason=mapping.openai_finish(choice.get("finish_reason")),
        usage=from_openai_completions(body.get("usage")),
    )


def _finish(reason: FinishReason) -> str:
    return "length" if reason == "length" else "content_filter" if reason == "content_filter" else "stop"


def encode_response(resp: Response, ctx: Context, model: str) -> dict:
    text = "".join(p.text for p in resp.parts if isinstance(p, Text))
    out: dict[str, Any] = {
        "id": new_id("cmpl-"),
        "object": "text_completion",
        "created": now(),
        "model": model,
        "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": _finish(resp.finish_reason)}],
    }
    if resp.usage is not None:
        u = mapping.usage_to_openai_chat(resp.usage)
        out["usage"] = {k: u[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
    return out


class CompletionsStreamDecoder:
    def __init__(self, ctx: Context) -> None:
        self.started = False

    def feed(self, chunk: dict) -> list[Event]:
        if "error" in chunk and not chunk.get("choices"):
            message, kind = upstream_message(chunk)
            return [StreamError(message=message, kind=kind)]
        out: list[Event] = []
        if not self.started:
            self.started = True
            out.append(Start(id=chunk.get("id"), model=chunk.get("model")))
        for choice in as_list(chunk.get("choices")):
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                if isinstance(choice.get("text"), str) and choice["text"]:
                    out.append(TextDelta(text=choice["text"]))
                if choice.get("finish_reason"):
                    out.append(Finish(reason=mapping.openai_finish(choice["finish_reason"])))
        usage = from_openai_completions(chunk.get("usage"))
        if usage is not None:
            out.append(UsageUpdate(**usage.as_dict()))
        return out

    def finish(self) -> list[Event]:
        return []


class CompletionsStreamEncoder(BlockEncoder):
    """Only text reaches a completions client: reasoning and tool calls have no place in it."""

    def __init__(self, ctx: Context, model: str) -> None:
        super().__init__(ctx, model)
        self.id = new_id("cmpl-")
        self.created = now()
        # Everything of a chunk before its text, rendered once: tokens are framed by concatenation.
        head = b'data: {"id":%s,"object":"text_completion","created":%d,"model":%s,"choices":[{"text":'
        self.head = head % (quote(self.id), self.created, quote(model))

    def _chunk(self, text: str, finish: str | None = None) -> bytes:
        payload = {
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}],
        }
        return b"data: " + dumpb(payload) + b"\n\n"

    def text(self, delta: str) -> bytes:
        return self.head + quote(delta) + _TAIL

    def open_tool(self, ev: Any) -> bytes:
        return b""

    def tool_args(self, key: object, delta: str) -> bytes:
        return b""

    def on_end(self, reason: FinishReason) -> bytes:
        out = self._chunk("", _finish(reason))
        if self.ctx.include_usage:
            u = mapping.usage_to_openai_chat(self.usage)
            payload = {
                "id": self.id,
                "object": "text_completion",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": {k: u[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")},
            }
            out += b"data: " + dumpb(payload) + b"\n\n"
        return out + DONE

    def on_error(self, message: str, status: int) -> bytes:
        return b"data: " + dumpb(error_payload("openai_completions", status, message)) + b"\n\n"
