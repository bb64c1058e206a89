"""FakeOpenAI: chat completions, Responses (and its input-token counter), legacy completions, embeddings
and the model list, on 127.0.0.1.

base_url (what the proxy and the openai SDK use) is "http://127.0.0.1:PORT/v1".
Auth is `Authorization: Bearer <key>`; errors use {"error": {"message", "type", "param", "code"}}.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .base import FakeProvider, InvalidRequest, sse
from .embeddings import openai_embeddings_json, openai_inputs, validate_input_tokens
from .openai_responses import ResponsesRenderer, responses_usage
from .openai_socket import serve_responses_socket
from .openai_validate import validate_chat, validate_compact, validate_completions, validate_responses
from .script import Script, new_id, split_text

DEFAULT_MODELS = ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-5", "o3"]
ERROR_KINDS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}
DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": keep-alive\n\n"


class FakeOpenAI(FakeProvider):
    """A fake api.openai.com. `known_models`, when given, makes other models answer 404 model_not_found."""

    default_key = "sk-fake-openai"
    close_idle_sockets = False  # WebSocket mode: close the socket after each response, as a server may

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/chat/completions", self._chat)
        router.add_post("/v1/responses", self._responses)
        router.add_get("/v1/responses", self._responses_socket)
        router.add_post("/v1/responses/compact", self._compact)
        router.add_post("/v1/completions", self._completions)
        router.add_post("/v1/responses/input_tokens", self._input_tokens)
        router.add_post("/v1/embeddings", self._embeddings)
        router.add_get("/v1/models", self._models)
        router.add_get("/v1/models/{model}", self._model)

    def error_response(
        self, status: int, message: str, err_type: str | None = None, headers: dict[str, str] | None = None
    ) -> web.Response:
        kind, code = ERROR_KINDS.get(status, ("server_error", None))
        payload = {"error": {"message": message, "type": err_type or kind, "param": None, "code": code}}
        return web.json_response(payload, status=status, headers=headers)

    def _invalid(self, exc: InvalidRequest) -> web.Response:
        payload = {
            "error": {
                "message": exc.message,
                "type": "invalid_request_error",
                "param": exc.param,
                "code": None,
            }
        }
        return web.json_response(payload, status=400)

    def _auth(self, request: web.Request) -> tuple[str | None, web.Response | None]:
        header = request.headers.get("Authorization", "")
        key = header[7:].strip() if header.lower().startswith("bearer ") else None
        if not key:
            return None, self.error_response(
                401, "You didn't provide an API key. Use 'Authorization: Bearer YOUR_KEY'.", None
            )
        if not self.key_matches(key):
            return key, self.error_response(401, "Incorrect API key provided.")
        return key, None

    async def _prelude(
        self, request: web.Request, validate: Callable[[dict[str, Any]], None]
    ) -> tuple[dict[str, Any], Script] | web.Response:
        """Auth, JSON, validation, model check and script choice shared by the POST endpoints."""
        key, failure = self._auth(request)
        if failure is not None:
            return failure
        try:
            body = self.json_body(request)
            validate(body)
        except InvalidRequest as exc:
            return self._invalid(exc)
        model = body["model"]
        if not self.model_known(model):
            return self.error_response(404, f"The model `{model}` does not exist or you do not have access to it.")
        script = self.pick_script(key, model)
        if script.status is not None:
            if script.delay:
                await self.wait(request, script.delay)
            return self.scripted_error(script, f"scripted error {script.status}")
        return body, script

    # ----- chat completions ------------------------------------------------------------------------
    async def _chat(self, request: web.Request) -> web.StreamResponse:
        got = await self._prelude(request, validate_chat)
        if isinstance(got, web.StreamResponse):
            return got
        body, script = got
        headers = {"x-request-id": new_id("req_", 32)}
        if body.get("stream"):
            frames = chat_frames(script, body)
            return await self.send_stream(
                request,
                script,
                frames,
                headers=headers,
                error_frame=stream_error(script),
                keepalive=KEEPALIVE,
            )
        return await self.send_json(request, script, chat_json(script, body), headers)

    # ----- responses --------------------------------------------------------------------------------
    async def _responses(self, request: web.Request) -> web.StreamResponse:
        got = await self._prelude(request, validate_responses)
        if isinstance(got, web.StreamResponse):
            return got
        return await self._responses_for(request, *got)

    async def _responses_for(self, request: web.Request, body: dict[str, Any], script: Script) -> web.StreamResponse:
        renderer = ResponsesRenderer(script, body["model"], body)
        headers = {"x-request-id": new_id("req_", 32)}
        if body.get("stream"):
            frames = renderer.frames()
            return await self.send_stream(
                request,
                script,
                frames,
                headers=headers,
                error_frame=renderer.error_frame(),
                keepalive=KEEPALIVE,
            )
        return await self.send_json(request, script, renderer.as_json(), headers)

    async def _responses_socket(self, request: web.Request) -> web.StreamResponse:
        return await serve_responses_socket(self, request, self._auth(request)[1], validate_responses)

    async def _compact(self, request: web.Request) -> web.StreamResponse:
        """Remote compaction: the retained user messages and one opaque `compaction` item."""
        got = await self._prelude(request, validate_compact)
        if isinstance(got, web.StreamResponse):
            return got
        return await self._compact_for(request, *got)

    async def _compact_for(self, request: web.Request, body: dict[str, Any], script: Script) -> web.StreamResponse:
        kept = [i for i in body["input"] if i.get("type", "message") == "message" and i.get("role") == "user"]
        summary = {"type": "compaction", "encrypted_content": "enc_" + new_id("", 32)}
        return await self.send_json(request, script, {"output": [*kept, summary], "usage": responses_usage(script)})

    # ----- legacy completions -----------------------------------------------------------------------
    async def _completions(self, request: web.Request) -> web.StreamResponse:
        got = await self._prelude(request, validate_completions)
        if isinstance(got, web.StreamResponse):
            return got
        body, script = got
        if body.get("stream"):
            frames = completion_frames(script, body)
            return await self.send_stream(request, script, frames, error_frame=stream_error(script))
        return await self.send_json(request, script, completion_json(script, body))

    # ----- token counts and embeddings ---------------------------------------------------------------
    async def _scripted(
        self, request: web.Request, validate: Callable[[dict[str, Any]], Any]
    ) -> tuple[Any, Script] | web.Response:
        """Auth, validation and the script, for the endpoints whose model is optional or not a chat model."""
        key, failure = self._auth(request)
        if failure is not None:
            return failure
        try:
            body = self.json_body(request)
            got = validate(body)
        except InvalidRequest as exc:
            return self._invalid(exc)
        script = self.pick_script(key, body.get("model"))
        if script.status is not None:
            return self.scripted_error(script, f"scripted error {script.status}")
        return (body, got), script

    async def _input_tokens(self, request: web.Request) -> web.Response:
        got = await self._scripted(request, validate_input_tokens)
        if isinstance(got, web.Response):
            return got
        _, script = got
        return web.json_response({"object": "response.input_tokens", "input_tokens": script.usage.input_tokens})

    async def _embeddings(self, request: web.Request) -> web.Response:
        got = await self._scripted(request, openai_inputs)
        if isinstance(got, web.Response):
            return got
        (body, texts), script = got
        if "embedding" not in body["model"]:
            return self.error_response(400, f"The model `{body['model']}` does not support embeddings.")
        return web.json_response(openai_embeddings_json(body, texts, script.usage.input_tokens))

    # ----- models ------------------------------------------------------------------------------------
    def model_list(self) -> list[str]:
        return self.known_models or DEFAULT_MODELS

    @staticmethod
    def _model_obj(model: str) -> dict[str, Any]:
        return {"id": model, "object": "model", "created": 1715367049, "owned_by": "system"}

    async def _models(self, request: web.Request) -> web.Response:
        _, failure = self._auth(request)
        if failure is not None:
            return failure
        return web.json_response({"object": "list", "data": [self._model_obj(m) for m in self.model_list()]})

    async def _model(self, request: web.Request) -> web.Response:
        _, failure = self._auth(request)
        if failure is not None:
            return failure
        model = request.match_info["model"]
        if model not in self.model_list():
            return self.error_response(404, f"The model '{model}' does not exist")
        return web.json_response(self._model_obj(model))


# ----- rendering -------------------------------------------------------------------------------------
def _finish_reason(script: Script) -> str:
    return script.stop_reason or ("tool_calls" if script.tool_calls else "stop")


def chat_usage(script: Script) -> dict[str, Any]:
    u = script.usage
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cache_read_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": u.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def chat_json(script: Script, body: dict[str, Any]) -> dict[str, Any]:
    model = body["model"]
    text = script.reply_text(model)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text or None,
        "refusal": None,
        "annotations": [],
    }
    if script.thinking:
        message["reasoning_content"] = script.thinking
    if script.tool_calls:
        message["tool_calls"] = [
            {
                "id": tc.id or new_id("call_", 24),
                "type": "function",
                "function": {"name": tc.name, "arguments": tc.arguments_json},
            }
            for tc in script.tool_calls
        ]
    return {
        "id": new_id("chatcmpl-", 28),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": _finish_reason(script)}],
        "usage": chat_usage(script),
        "service_tier": "default",
        "system_fingerprint": "fp_fake0001",
    }


def _include_usage(body: dict[str, Any]) -> bool:
    return bool((body.get("stream_options") or {}).get("include_usage"))


def chat_frames(script: Script, body: dict[str, Any]) -> list[bytes]:
    model = body["model"]
    base = {
        "id": new_id("chatcmpl-", 28),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "service_tier": "default",
        "system_fingerprint": "fp_fake0001",
    }
    with_usage = _include_usage(body)

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        data = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if with_usage:
            data["usage"] = None
        return sse(data)

    out = [chunk({"role": "assistant", "content": "", "refusal": None})]
    if script.edge_cases:
        out += [chunk({"content": ""}), chunk({})]
    for piece in split_text(script.thinking or "", script.chunks):
        out.append(chunk({"reasoning_content": piece}))
    for piece in split_text(script.reply_text(model), script.chunks):
        out.append(chunk({"content": piece}))
    for i, tc in enumerate(script.tool_calls):
        head = {"index": i, "id": tc.id or new_id("call_", 24), "type": "function"}
        out.append(chunk({"tool_calls": [{**head, "function": {"name": tc.name, "arguments": ""}}]}))
        for piece in split_text(tc.arguments_json, script.arg_chunks):
            out.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}))
    out.append(chunk({}, _finish_reason(script)))
    if with_usage:
        out.append(sse({**base, "choices": [], "usage": chat_usage(script)}))
    out.append(DONE)
    return out


def stream_error(script: Script) -> bytes:
    message = script.error_message or "The server had an error while processing your request."
    err = {"message": message, "type": script.error_type or "server_error", "param": None, "code": None}
    return sse({"error": err})


def completion_json(script: Script, body: dict[str, Any]) -> dict[str, Any]:
    u = script.usage
    return {
        "id": new_id("cmpl-", 28),
        "object": "text_completion",
        "created": int(time.time()),
        "model": body["model"],
        "system_fingerprint": "fp_fake0001",
        "choices": [
            {
                "text": script.reply_text(body["model"]),
                "index": 0,
                "logprobs": None,
                "finish_reason": script.stop_reason or "stop",
            }
        ],
        "usage": {
            "prompt_tokens": u.input_tokens,
            "completion_tokens": u.output_tokens,
            "total_tokens": u.input_tokens + u.output_tokens,
        },
    }


def completion_frames(script: Script, body: dict[str, Any]) -> list[bytes]:
    full = completion_json(script, body)
    base = {k: full[k] for k in ("id", "object", "created", "model", "system_fingerprint")}
    with_usage = _include_usage(body)

    def chunk(text: str, finish: str | None) -> bytes:
        data = {**base, "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}]}
        if with_usage:
            data["usage"] = None
        return sse(data)

    out = [chunk(piece, None) for piece in split_text(full["choices"][0]["text"], script.chunks)]
    out.append(chunk("", full["choices"][0]["finish_reason"]))
    if with_usage:
        out.append(sse({**base, "choices": [], "usage": full["usage"]}))
    out.append(DONE)
    return out
