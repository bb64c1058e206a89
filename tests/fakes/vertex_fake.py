"""FakeVertex: Vertex AI publisher models (Google's Gemini and Anthropic's Claude), on 127.0.0.1.

base_url is "http://127.0.0.1:PORT"; routes are
/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent |
:streamGenerateContent (?alt=sse, else a JSON array) | :countTokens (contents, systemInstruction, tools at the
top; no generateContentRequest), and
/v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:rawPredict | :streamRawPredict,
plus .../publishers/anthropic/models/count-tokens:rawPredict. Auth is an OAuth access token (Bearer) only,
and the project and location must be the fake's. Claude bodies must carry
`anthropic_version: "vertex-2023-10-16"` and no `model` (it is in the URL; count-tokens keeps it in the body);
`stream` must agree with the method. Gateway errors are Google-shaped; Claude's own errors Anthropic-shaped.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .anthropic_fake import ERROR_TYPES as ANTHROPIC_ERROR_TYPES
from .anthropic_fake import PING, MessageRenderer, check_signatures
from .anthropic_validate import validate_count_tokens as validate_claude_count
from .anthropic_validate import validate_messages
from .base import InvalidRequest, sse
from .gemini_fake import FakeGemini, GeminiRenderer, count_tokens_json, json_array_frames
from .gemini_validate import validate_generate
from .script import Script, new_id

VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"
# The anthropic-beta flags Claude on Vertex takes; any other is a 400 naming it.
VERTEX_BETAS = frozenset(
    {"interleaved-thinking-2025-05-14", "context-1m-2025-08-07", "context-management-2025-06-27",
     "computer-use-2025-01-24", "web-search-2025-03-05"}
)  # fmt: skip
GOOGLE_METHODS = ("generateContent", "streamGenerateContent", "countTokens")
CLAUDE_METHODS = ("rawPredict", "streamRawPredict")


VERTEX_COUNT_FIELDS = ("model", "instances", "contents", "tools", "systemInstruction", "generationConfig")


def validate_vertex_count(body: dict[str, Any]) -> None:
    """Vertex's CountTokensRequest has no `generateContentRequest` (the Gemini API's wrapper): contents etc. on top."""
    unknown = sorted(set(body) - set(VERTEX_COUNT_FIELDS))
    if unknown:
        raise InvalidRequest(f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.')
    validate_generate({k: v for k, v in body.items() if k not in ("model", "instances")}, strict=True)


class FakeVertex(FakeGemini):
    default_key = "ya29.fake-vertex-token"

    def __init__(
        self, *args: Any, project: str = "fake-vertex-project", location: str = "us-central1", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        self.location = location
        self.claude_issued: set[tuple[str, str]] = set()  # signed thinking this fake answered with

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{tail}", self._call)

    def _auth(self, request: web.Request) -> tuple[str | None, web.Response | None]:
        bearer = request.headers.get("Authorization", "")
        if not bearer.lower().startswith("bearer "):
            return None, self.error_response(
                401, "Request is missing required authentication credential. Expected OAuth 2 access token."
            )
        token = bearer[7:].strip()
        if not self.key_matches(token):
            return token, self.error_response(401, "Request had invalid authentication credentials.")
        return token, None

    def claude_error(self, status: int, message: str, err_type: str | None = None) -> web.Response:
        kind = err_type or ANTHROPIC_ERROR_TYPES.get(status, "api_error")
        return web.json_response({"type": "error", "error": {"type": kind, "message": message}}, status=status)

    async def _call(self, request: web.Request) -> web.StreamResponse:
        key, failure = self._auth(request)
        if failure is not None:
            return failure
        info = request.match_info
        if info["project"] != self.project:
            return self.error_response(
                403, f"Permission 'aiplatform.endpoints.predict' denied on resource projects/{info['project']}."
            )
        if info["location"] != self.location:
            return self.error_response(400, f"Location {info['location']} is not served by this endpoint.")
        model, _, method = info["tail"].rpartition(":")
        publisher = info["publisher"]
        if publisher == "google" and method in GOOGLE_METHODS and model:
            return await self._gemini(request, key, model, method)
        if publisher == "anthropic" and method in CLAUDE_METHODS and model:
            return await self._claude(request, key, model, method)
        return self.error_response(404, f"Publisher model {publisher}/{info['tail']} was not found.")

    async def _scripted(self, request: web.Request, script: Script) -> web.Response | None:
        if script.status is None:
            return None
        if script.delay:
            await self.wait(request, script.delay)
        return self.scripted_error(script, f"scripted error {script.status}")

    async def _gemini(self, request: web.Request, key: str | None, model: str, method: str) -> web.StreamResponse:
        try:
            body = self.json_body(request)
            if method == "countTokens":
                validate_vertex_count(body)
            else:
                validate_generate(body, strict=self.strict)
        except InvalidRequest as exc:
            return self.error_response(400, exc.message)
        if not self.model_known(model):
            return self.error_response(404, f"Publisher Model `publishers/google/models/{model}` was not found.")
        script = self.pick_script(key, model)
        failure = await self._scripted(request, script)
        if failure is not None:
            return failure
        if method == "countTokens":
            return web.json_response(count_tokens_json(script))
        renderer = GeminiRenderer(script, model, body)
        if method == "generateContent":
            return await self.send_json(request, script, renderer.as_json())
        if request.query.get("alt") == "sse":
            frames = [sse(chunk, crlf=True) for chunk in renderer.chunks()]
            error = sse(renderer.error_body(), crlf=True)
            return await self.send_stream(request, script, frames, content_type="text/event-stream", error_frame=error)
        return await self.send_stream(
            request, script, json_array_frames(renderer.chunks()), content_type="application/json; charset=UTF-8"
        )

    async def _claude(self, request: web.Request, key: str | None, model: str, method: str) -> web.StreamResponse:
        counting = model == "count-tokens"
        betas = [f.strip() for f in request.headers.get("anthropic-beta", "").split(",") if f.strip()]
        unknown = [f for f in betas if f not in VERTEX_BETAS]
        if unknown:
            return self.claude_error(
                400,
                f"Unexpected value(s) `{','.join(unknown)}` for the `anthropic-beta` header. Please consult our "
                "documentation at docs.anthropic.com or try again without the header.",
            )
        try:
            body = self.json_body(request)
            if body.get("anthropic_version") != VERTEX_ANTHROPIC_VERSION:
                raise InvalidRequest(f"anthropic_version: Input should be '{VERTEX_ANTHROPIC_VERSION}'")
            plain = {k: v for k, v in body.items() if k != "anthropic_version"}
            if counting:
                if method != "rawPredict":
                    raise InvalidRequest("count-tokens is served by rawPredict only")
                validate_claude_count(plain)
                model = plain["model"]
            else:
                if "model" in plain:
                    raise InvalidRequest("model: Extra inputs are not permitted (the model is in the URL)")
                if bool(plain.get("stream")) != (method == "streamRawPredict"):
                    raise InvalidRequest(f"stream must be {method == 'streamRawPredict'} for {method}")
                validate_messages({**plain, "model": model})
                check_signatures(plain, self.claude_issued)
        except InvalidRequest as exc:
            return self.claude_error(400, exc.message)
        if not self.model_known(model):
            return self.error_response(404, f"Publisher Model `publishers/anthropic/models/{model}` was not found.")
        script = self.pick_script(key, model)
        failure = await self._scripted(request, script)
        if failure is not None:
            return failure
        if counting:
            return web.json_response({"input_tokens": script.usage.input_tokens})
        rendered = MessageRenderer(script, {**plain, "model": model})
        if rendered.thinking:
            self.claude_issued.add((rendered.thinking, script.signature()))
        headers = {"request-id": new_id("req_vrtx_", 24)}
        if method == "rawPredict":
            return await self.send_json(request, script, rendered.as_json(), headers)
        return await self.send_stream(
            request, script, rendered.frames(), headers=headers, error_frame=rendered.error_frame(), keepalive=PING
        )
