"""FakeGemini: generateContent, streamGenerateContent (SSE and JSON-array), countTokens, embedContent,
batchEmbedContents and the model list.

base_url is "http://127.0.0.1:PORT"; every route exists under both /v1beta and /v1.
Auth: `x-goog-api-key` header, `?key=`, or `Authorization: Bearer` (OAuth). As the live API does, a wrong
key answers 400 INVALID_ARGUMENT (reason API_KEY_INVALID) and a missing key 403 PERMISSION_DENIED.
Errors use {"error": {"code", "message", "status"[, "details"]}}; a scripted retry_after becomes a
google.rpc.RetryInfo detail ("retryDelay": "3s"), not a Retry-After header, as Google does.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .base import FakeProvider, InvalidRequest, sse
from .embeddings import gemini_embed_json
from .gemini_validate import include_thoughts, validate_count_tokens, validate_generate
from .script import Script, new_id, split_text

DEFAULT_MODELS = ["gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"]
STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class FakeGemini(FakeProvider):
    """A fake generativelanguage.googleapis.com. `strict=True` rejects unknown fields like the live API."""

    default_key = "AIza-fake-gemini"

    def __init__(self, *args: Any, strict: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.strict = strict

    def add_routes(self, router: web.UrlDispatcher) -> None:
        for version in ("v1beta", "v1"):
            router.add_get(f"/{version}/models", self._models)
            router.add_get(f"/{version}/models/{{name}}", self._model)
            router.add_post(f"/{version}/models/{{name}}", self._action)

    def error_response(
        self,
        status: int,
        message: str,
        err_type: str | None = None,
        headers: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> web.Response:
        error: dict[str, Any] = {
            "code": status,
            "message": message,
            "status": err_type or STATUSES.get(status, "UNKNOWN"),
        }
        headers = dict(headers or {})
        retry = headers.pop("Retry-After", None)  # Google sends no Retry-After header, only RetryInfo
        if retry is not None:
            details = [
                *(details or []),
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry}s"},
            ]
        if details:
            error["details"] = details
        return web.json_response({"error": error}, status=status, headers=headers)

    def _auth(self, request: web.Request) -> tuple[str | None, web.Response | None]:
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        bearer = request.headers.get("Authorization", "")
        if not key and bearer.lower().startswith("bearer "):
            key = bearer[7:].strip()
        if not key:
            return None, self.error_response(
                403,
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API.",
            )
        if not self.key_matches(key):
            info = {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
            }
            return key, self.error_response(400, "API key not valid. Please pass a valid API key.", details=[info])
        return key, None

    def model_list(self) -> list[str]:
        return self.known_models or DEFAULT_MODELS

    @staticmethod
    def _model_obj(model: str) -> dict[str, Any]:
        return {
            "name": f"models/{model}",
            "version": "001",
            "displayName": model,
            "description": f"Fake {model}",
            "inputTokenLimit": 1048576,
            "outputTokenLimit": 65536,
            "supportedGenerationMethods": ["generateContent", "countTokens", "streamGenerateContent"],
            "thinking": True,
        }

    async def _models(self, request: web.Request) -> web.Response:
        _, failure = self._auth(request)
        if failure is not None:
            return failure
        return web.json_response({"models": [self._model_obj(m) for m in self.model_list()]})

    async def _model(self, request: web.Request) -> web.Response:
        _, failure = self._auth(request)
        if failure is not None:
            return failure
        model = request.match_info["name"]
        if model not in self.model_list():
            return self.error_response(404, f"models/{model} is not found for API version {_version(request)}")
        return web.json_response(self._model_obj(model))

    async def _action(self, request: web.Request) -> web.StreamResponse:
        key, failure = self._auth(request)
        if failure is not None:
            return failure
        model, _, action = request.match_info["name"].rpartition(":")
        if action in ("embedContent", "batchEmbedContents") and model:
            return self._embed(request, key, model, action)
        if action not in ("generateContent", "streamGenerateContent", "countTokens") or not model:
            return self.error_response(404, f"Method not found: {request.match_info['name']}")
        try:
            body = self.json_body(request)
            check = validate_count_tokens if action == "countTokens" else validate_generate
            check(body, strict=self.strict)
        except InvalidRequest as exc:
            return self.error_response(400, exc.message)
        if not self.model_known(model):
            return self.error_response(
                404,
                f"models/{model} is not found for API version {_version(request)}, or is not supported for "
                f"{action}. Call ListModels to see the list of available models and their supported methods.",
            )
        script = self.pick_script(key, model)
        if script.status is not None:
            if script.delay:
                await self.wait(request, script.delay)
            if script.error_details:
                headers = dict(script.headers)
                if script.retry_after is not None:
                    headers["Retry-After"] = f"{script.retry_after:g}"
                return self.error_response(script.status, script.error_message or "scripted error",
                                           script.error_type, headers, script.error_details)  # fmt: skip
            return self.scripted_error(script, f"scripted error {script.status}")
        if action == "countTokens":
            return web.json_response(count_tokens_json(script))
        renderer = GeminiRenderer(script, model, body)
        if action == "generateContent":
            return await self.send_json(request, script, renderer.as_json())
        if request.query.get("alt") == "sse":
            frames = [sse(chunk, crlf=True) for chunk in renderer.chunks()]
            error = sse(renderer.error_body(), crlf=True)
            return await self.send_stream(request, script, frames, content_type="text/event-stream", error_frame=error)
        return await self.send_stream(
            request,
            script,
            json_array_frames(renderer.chunks()),
            content_type="application/json; charset=UTF-8",
            error_frame=b"\n,\r\n" + json.dumps(renderer.error_body(), indent=2).encode() + b"]",
        )

    def _embed(self, request: web.Request, key: str | None, model: str, action: str) -> web.Response:
        if "embedding" not in model:
            return self.error_response(404, f"models/{model} is not found for API version {_version(request)}, "
                                       f"or is not supported for {action}.")  # fmt: skip
        try:
            reply = gemini_embed_json(action, self.json_body(request), model)
        except InvalidRequest as exc:
            return self.error_response(400, exc.message)
        script = self.pick_script(key, model)
        if script.status is not None:
            return self.scripted_error(script, f"scripted error {script.status}")
        return web.json_response(reply)


def _version(request: web.Request) -> str:
    return request.path.split("/")[1]


def json_array_frames(chunks: list[dict[str, Any]]) -> list[bytes]:
    """Google's non-SSE stream: a JSON array written element by element: `[{...}\\n,\\r\\n{...}]`."""
    frames = []
    for i, chunk in enumerate(chunks):
        text = json.dumps(chunk, indent=2)
        frames.append((("[" if i == 0 else "\n,\r\n") + text).encode())
    frames.append(b"]" if chunks else b"[]")
    return frames


def count_tokens_json(script: Script) -> dict[str, Any]:
    u = script.usage
    out: dict[str, Any] = {
        "totalTokens": u.input_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": u.input_tokens}],
    }
    if u.cache_read_tokens:
        out["cachedContentTokenCount"] = u.cache_read_tokens
    return out


class GeminiRenderer:
    """One GenerateContentResponse, whole or as the list of streamed chunks."""

    def __init__(self, script: Script, model: str, body: dict[str, Any]) -> None:
        self.script = script
        self.model = model
        self.response_id = new_id("", 22)
        self.text = script.reply_text(model)
        self.thoughts = script.thinking if script.thinking and include_thoughts(body) else None

    def finish_reason(self) -> str:
        return self.script.stop_reason or "STOP"

    def usage(self, final: bool = True) -> dict[str, Any]:
        u = self.script.usage
        out: dict[str, Any] = {"promptTokenCount": u.input_tokens}
        if final:
            out["candidatesTokenCount"] = u.output_tokens - u.reasoning_tokens
        out["totalTokenCount"] = u.input_tokens + (u.output_tokens if final else 0)
        if u.cache_read_tokens:
            out["cachedContentTokenCount"] = u.cache_read_tokens
        out["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": u.input_tokens}]
        if u.cache_read_tokens:
            out["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": u.cache_read_tokens}]
        if final and u.reasoning_tokens:
            out["thoughtsTokenCount"] = u.reasoning_tokens
        return out

    def _call_parts(self) -> list[dict[str, Any]]:
        return [{"functionCall": {"name": tc.name, "args": tc.arguments_dict}} for tc in self.script.tool_calls]

    def _sign(self, parts: list[dict[str, Any]]) -> None:
        """Gemini attaches the thought signature to the first non-thought part when the model thought."""
        if self.script.thinking and parts:
            parts[0]["thoughtSignature"] = self.script.signature()

    def response(self, parts: list[dict[str, Any]], finish: bool, final_usage: bool = True) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
        if finish:
            candidate["finishReason"] = self.finish_reason()
        candidate["index"] = 0
        return {
            "candidates": [candidate],
            "usageMetadata": self.usage(final_usage),
            "modelVersion": self.model,
            "responseId": self.response_id,
        }

    def as_json(self) -> dict[str, Any]:
        answer = ([{"text": self.text}] if self.text else []) + self._call_parts()
        self._sign(answer)
        thoughts = [{"text": self.thoughts, "thought": True}] if self.thoughts else []
        return self.response(thoughts + answer, finish=True)

    def error_body(self) -> dict[str, Any]:
        message = self.script.error_message or "An internal error has occurred."
        return {"error": {"code": 500, "message": message, "status": self.script.error_type or "INTERNAL"}}

    def chunks(self) -> list[dict[str, Any]]:
        s = self.script
        parts_per_chunk: list[list[dict[str, Any]]] = [
            [{"text": p, "thought": True}] for p in split_text(self.thoughts or "", s.chunks)
        ]
        answer = [[{"text": p}] for p in split_text(self.text, s.chunks)]
        if s.tool_calls:
            answer.append(self._call_parts())
        if answer:
            self._sign(answer[0])
        parts_per_chunk += answer
        if s.edge_cases:
            parts_per_chunk.insert(0, [{"text": ""}])
        if not parts_per_chunk or s.edge_cases:
            parts_per_chunk.append([{"text": ""}])
        last = len(parts_per_chunk) - 1
        return [
            self.response(parts, finish=i == last, final_usage=i == last) for i, parts in enumerate(parts_per_chunk)
        ]
