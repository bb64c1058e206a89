"""FakeAnthropic: the Messages API (JSON and SSE), count_tokens and the model list, on 127.0.0.1.

base_url is "http://127.0.0.1:PORT" (the anthropic SDK and the proxy append "/v1/messages").
Auth: `x-api-key: <key>` or `Authorization: Bearer <key>` (OAuth style); `anthropic-version` is required.
Errors use {"type": "error", "error": {"type", "message"}, "request_id"}.
Thinking blocks are signed: a `thinking` block sent back must carry the very text and signature this
fake issued, else 400 "messages.N.content.M: Invalid `signature` in `thinking` block", as the real API
answers a signature another provider (or a proxy) made up.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .anthropic_validate import validate_count_tokens, validate_messages
from .base import FakeProvider, InvalidRequest, sse
from .script import Script, new_id, split_text

DEFAULT_MODELS = ["claude-opus-4-7", "claude-sonnet-4-6", "claude-haiku-4-5"]
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
PING = sse({"type": "ping"}, "ping")


class FakeAnthropic(FakeProvider):
    """A fake api.anthropic.com. `strict_alternation=False` accepts consecutive same-role turns."""

    default_key = "sk-ant-fake"

    def __init__(self, *args: Any, strict_alternation: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.strict_alternation = strict_alternation
        self.issued: set[tuple[str, str]] = set()  # (thinking, signature) pairs this fake answered with

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/messages", self._messages)
        router.add_post("/v1/messages/count_tokens", self._count_tokens)
        router.add_get("/v1/models", self._models)
        router.add_get("/v1/models/{model}", self._model)

    def error_response(
        self, status: int, message: str, err_type: str | None = None, headers: dict[str, str] | None = None
    ) -> web.Response:
        request_id = new_id("req_011", 24)
        kind = err_type or ERROR_TYPES.get(status, "api_error")
        payload = {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}
        return web.json_response(payload, status=status, headers={**(headers or {}), "request-id": request_id})

    def _check_headers(self, request: web.Request) -> tuple[str | None, web.Response | None]:
        key = request.headers.get("x-api-key")
        bearer = request.headers.get("Authorization", "")
        if not key and bearer.lower().startswith("bearer "):
            key = bearer[7:].strip()
        if not key:
            return None, self.error_response(401, "x-api-key header is required")
        if not self.key_matches(key):
            return key, self.error_response(401, "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return key, self.error_response(400, "anthropic-version: header is required")
        return key, None

    async def _prelude(self, request: web.Request, validate: Any) -> tuple[dict[str, Any], Script] | web.Response:
        key, failure = self._check_headers(request)
        if failure is not None:
            return failure
        try:
            body = self.json_body(request)
            validate(body, strict_alternation=self.strict_alternation)
            check_signatures(body, self.issued)
        except InvalidRequest as exc:
            return self.error_response(400, exc.message)
        if not self.model_known(body["model"]):
            return self.error_response(404, f"model: {body['model']}")
        script = self.pick_script(key, body["model"])
        if script.status is not None:
            if script.delay:
                await self.wait(request, script.delay)
            return self.scripted_error(script, f"scripted error {script.status}")
        return body, script

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        got = await self._prelude(request, validate_messages)
        if isinstance(got, web.StreamResponse):
            return got
        body, script = got
        headers = {"request-id": new_id("req_011", 24)}
        rendered = MessageRenderer(script, body)
        if rendered.thinking:
            self.issued.add((rendered.thinking, script.signature()))
        if body.get("stream"):
            return await self.send_stream(
                request,
                script,
                rendered.frames(),
                headers=headers,
                error_frame=rendered.error_frame(),
                keepalive=PING,
            )
        return await self.send_json(request, script, rendered.as_json(), headers)

    async def _count_tokens(self, request: web.Request) -> web.Response:
        got = await self._prelude(request, validate_count_tokens)
        if isinstance(got, web.StreamResponse):
            return got
        _, script = got
        return web.json_response({"input_tokens": script.usage.input_tokens})

    def model_list(self) -> list[str]:
        return self.known_models or DEFAULT_MODELS

    @staticmethod
    def _model_obj(model: str) -> dict[str, Any]:
        return {"type": "model", "id": model, "display_name": model, "created_at": "2025-10-01T00:00:00Z"}

    async def _models(self, request: web.Request) -> web.Response:
        _, failure = self._check_headers(request)
        if failure is not None:
            return failure
        models = self.model_list()
        return web.json_response(
            {
                "data": [self._model_obj(m) for m in models],
                "has_more": False,
                "first_id": models[0] if models else None,
                "last_id": models[-1] if models else None,
            }
        )

    async def _model(self, request: web.Request) -> web.Response:
        _, failure = self._check_headers(request)
        if failure is not None:
            return failure
        model = request.match_info["model"]
        if model not in self.model_list():
            return self.error_response(404, f"model: {model}")
        return web.json_response(self._model_obj(model))


def check_signatures(body: dict[str, Any], issued: set[tuple[str, str]]) -> None:
    """Every `thinking` block in the history must be one this fake issued, text and signature alike."""
    for i, msg in enumerate(body.get("messages") or []):
        content = msg.get("content") if isinstance(msg, dict) else None
        for j, block in enumerate(content if isinstance(content, list) else []):
            if block.get("type") == "thinking" and (block.get("thinking"), block.get("signature")) not in issued:
                raise InvalidRequest(f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block")


class MessageRenderer:
    """One Message, as JSON or as the SSE event sequence."""

    def __init__(self, script: Script, body: dict[str, Any]) -> None:
        self.script = script
        self.model = body["model"]
        self.id = new_id("msg_01", 24)
        thinking_on = (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
        self.thinking = script.thinking if thinking_on else None
        self.text = script.reply_text(self.model)
        self.tool_ids = [tc.id or new_id("toolu_01", 24) for tc in script.tool_calls]

    def stop_reason(self) -> str:
        return self.script.stop_reason or ("tool_use" if self.script.tool_calls else "end_turn")

    def usage(self, output_tokens: int) -> dict[str, Any]:
        u = self.script.usage
        return {
            "input_tokens": u.uncached_input,
            "cache_creation_input_tokens": u.cache_write_tokens,
            "cache_read_input_tokens": u.cache_read_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": u.cache_write_tokens,
                "ephemeral_1h_input_tokens": 0,
            },
            "output_tokens": output_tokens,
            "service_tier": "standard",
        }

    def blocks(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.thinking:
            out.append({"type": "thinking", "thinking": self.thinking, "signature": self.script.signature()})
        if self.text:
            out.append({"type": "text", "text": self.text})
        for tc, tid in zip(self.script.tool_calls, self.tool_ids, strict=True):
            out.append({"type": "tool_use", "id": tid, "name": tc.name, "input": tc.arguments_dict})
        return out

    def message(self, content: list[dict[str, Any]], stop: str | None, output_tokens: int) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": self.usage(output_tokens),
        }

    def as_json(self) -> dict[str, Any]:
        return self.message(self.blocks(), self.stop_reason(), self.script.usage.output_tokens)

    def error_frame(self) -> bytes:
        kind = self.script.error_type or "overloaded_error"
        err = {"type": kind, "message": self.script.error_message or "Overloaded"}
        return sse({"type": "error", "error": err}, "error")

    def frames(self) -> list[bytes]:
        s = self.script
        out = [sse({"type": "message_start", "message": self.message([], None, 1)}, "message_start")]
        index = 0

        def start(block: dict[str, Any]) -> bytes:
            return sse({"type": "content_block_start", "index": index, "content_block": block}, "content_block_start")

        def delta(d: dict[str, Any]) -> bytes:
            return sse({"type": "content_block_delta", "index": index, "delta": d}, "content_block_delta")

        def stop() -> bytes:
            return sse({"type": "content_block_stop", "index": index}, "content_block_stop")

        if self.thinking:
            out.append(start({"type": "thinking", "thinking": "", "signature": ""}))
            out += [delta({"type": "thinking_delta", "thinking": p}) for p in split_text(self.thinking, s.chunks)]
            out += [delta({"type": "signature_delta", "signature": s.signature()}), stop()]
            index += 1
        if self.text:
            out.append(start({"type": "text", "text": ""}))
            pieces = split_text(self.text, s.chunks)
            if s.edge_cases:
                pieces = ["", *pieces]
            out += [delta({"type": "text_delta", "text": p}) for p in pieces]
            out.append(stop())
            index += 1
        for tc, tid in zip(s.tool_calls, self.tool_ids, strict=True):
            out.append(start({"type": "tool_use", "id": tid, "name": tc.name, "input": {}}))
            pieces = split_text(tc.arguments_json, s.arg_chunks)
            if s.edge_cases:
                pieces = ["", *pieces]
            out += [delta({"type": "input_json_delta", "partial_json": p}) for p in pieces]
            out.append(stop())
            index += 1
        message_delta = {
            "type": "message_delta",
            "delta": {"stop_reason": self.stop_reason(), "stop_sequence": None},
            "usage": {"output_tokens": s.usage.output_tokens},
        }
        out.insert(2 if index else 1, PING)  # the API pings right after the first block starts
        out.append(sse(message_delta, "message_delta"))
        out.append(sse({"type": "message_stop"}, "message_stop"))
        return out
