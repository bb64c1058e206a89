"""FakeCodeAssist: Gemini CLI's Code Assist backend (cloudcode-pa.googleapis.com/v1internal), on 127.0.0.1.

base_url is "http://127.0.0.1:PORT/v1internal"; methods are `:generateContent`, `:streamGenerateContent?alt=sse`
and `:countTokens`. Auth is an OAuth access token (`Authorization: Bearer`) only. Requests are the envelope
{"model", "project", "user_prompt_id", "request": <generateContent body>}; the project must be the one the
login was onboarded to. Every answer and SSE event is {"response": <GenerateContentResponse>, "traceId"}; the
inner response carries no responseId (the CLI takes the traceId). countTokens takes
{"request": {"model": "models/M", "contents"}} and answers {"totalTokens"}. Errors are Google-shaped.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .base import InvalidRequest, sse
from .gemini_fake import FakeGemini, GeminiRenderer
from .gemini_validate import validate_count_tokens, validate_generate
from .script import new_id

ENVELOPE_FIELDS = {"model", "project", "user_prompt_id", "request"}


class FakeCodeAssist(FakeGemini):
    default_key = "ya29.fake-code-assist-token"

    def __init__(self, *args: Any, project: str = "fake-project-4242", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1internal"

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1internal:{method}", self._call)

    def _auth(self, request: web.Request) -> tuple[str | None, web.Response | None]:
        bearer = request.headers.get("Authorization", "")
        if not bearer.lower().startswith("bearer ") or request.headers.get("x-goog-api-key"):
            return None, self.error_response(
                401, "Request is missing required authentication credential. Expected OAuth 2 access token."
            )
        token = bearer[7:].strip()
        if not self.key_matches(token):
            return token, self.error_response(401, "Request had invalid authentication credentials.")
        return token, None

    def _envelope(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        unknown = set(body) - ENVELOPE_FIELDS
        if unknown:
            raise InvalidRequest(f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}"')
        model = body.get("model")
        if not isinstance(model, str) or not model or model.startswith("models/"):
            raise InvalidRequest("model: expected a bare model name such as gemini-2.5-pro")
        if not isinstance(body.get("user_prompt_id", ""), str):
            raise InvalidRequest("user_prompt_id: expected a string")
        inner = body.get("request")
        if not isinstance(inner, dict):
            raise InvalidRequest("request: expected a GenerateContentRequest object")
        if "model" in inner:
            raise InvalidRequest("Invalid JSON payload received. Unknown name \"model\" at 'request'")
        validate_generate(inner, strict=self.strict)
        return model, inner

    def _project_error(self, body: dict[str, Any]) -> web.Response | None:
        project = body.get("project")
        if not isinstance(project, str) or not project:
            return self.error_response(400, "Invalid project: the request names no Cloud project.")
        if project != self.project:
            return self.error_response(403, f"Permission denied on resource project {project}.")
        return None

    async def _call(self, request: web.Request) -> web.StreamResponse:
        key, failure = self._auth(request)
        if failure is not None:
            return failure
        method = request.match_info["method"]
        if method not in ("generateContent", "streamGenerateContent", "countTokens"):
            return self.error_response(404, f"Method not found: v1internal:{method}")
        try:
            body = self.json_body(request)
            if method == "countTokens":
                model = self._count_envelope(body)
            else:
                model, inner = self._envelope(body)
        except InvalidRequest as exc:
            return self.error_response(400, exc.message)
        if method != "countTokens":
            project_failure = self._project_error(body)
            if project_failure is not None:
                return project_failure
        if not self.model_known(model):
            return self.error_response(404, "Requested entity was not found.")
        script = self.pick_script(key, model)
        if script.status is not None:
            if script.delay:
                await self.wait(request, script.delay)
            return self.scripted_error(script, f"scripted error {script.status}")
        if method == "countTokens":
            return web.json_response({"totalTokens": script.usage.input_tokens})
        renderer = GeminiRenderer(script, model, inner)
        trace = new_id("", 16)
        if method == "generateContent":
            return await self.send_json(request, script, wrap(renderer.as_json(), trace))
        if request.query.get("alt") != "sse":
            return self.error_response(400, "streamGenerateContent is served as SSE only: add alt=sse")
        frames = [sse(wrap(chunk, trace)) for chunk in renderer.chunks()]
        return await self.send_stream(
            request, script, frames, content_type="text/event-stream", error_frame=sse(renderer.error_body())
        )

    def _count_envelope(self, body: dict[str, Any]) -> str:
        inner = body.get("request")
        if set(body) != {"request"} or not isinstance(inner, dict):
            raise InvalidRequest('countTokens takes {"request": {"model": "models/...", "contents": [...]}}')
        name = inner.get("model")
        if not isinstance(name, str) or not name.startswith("models/"):
            raise InvalidRequest("request.model: expected models/{model}")
        validate_count_tokens({"contents": inner.get("contents")})
        return name.removeprefix("models/")


def wrap(response: dict[str, Any], trace: str) -> dict[str, Any]:
    """Code Assist's envelope; the inner response has no responseId of its own."""
    inner = {k: v for k, v in response.items() if k != "responseId"}
    return {"response": inner, "traceId": trace}
