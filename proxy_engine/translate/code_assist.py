"""Gemini CLI's Code Assist backend (cloudcode-pa `v1internal`), as an upstream.

It speaks Gemini's generateContent inside an envelope: requests are
`{"model", "project", "user_prompt_id", "request": <generateContent body>}`, and every answer (and
every SSE event) is `{"response": <GenerateContentResponse>, "traceId": ...}`. So this codec only
wraps and unwraps, and lets the gemini codec do the translating. The project comes from the user's
login, so the codec encodes `project: ""` and the provider fills it in with `set_project`.
"""

from __future__ import annotations

import uuid
from typing import Any

from . import gemini
from .context import Context
from .errors import TranslationError
from .gemini_stream import GeminiStreamDecoder
from .ir import Event, Request, Response

ME = "gemini_code_assist"
UPSTREAM_ONLY = "gemini_code_assist is an upstream-only dialect"


def upstream_only(*_args: Any, **_kwargs: Any) -> Any:
    raise TranslationError(UPSTREAM_ONLY)


def code_assist_url(base: str, method: str, stream: bool = False) -> str:
    """`{base}:{method}`, where base ends in /v1internal; streams always use `alt=sse`."""
    url = f"{base.rstrip('/')}:{method}"
    return url + "?alt=sse" if stream else url


def wrap_request(body: dict, model: str, project: str = "", user_prompt_id: str | None = None) -> dict:
    """A generateContent body (no `model` inside) in the Code Assist envelope."""
    inner = {k: v for k, v in body.items() if k != "model"}
    return {
        "model": model,
        "project": project,
        "user_prompt_id": user_prompt_id or str(uuid.uuid4()),
        "request": inner,
    }


def set_project(body: dict, project: str) -> dict:
    """The envelope with the login's Cloud project filled in (countTokens envelopes carry none)."""
    if "model" not in body:
        return body
    return {**body, "project": project}


def count_tokens_body(body: dict, model: str) -> dict:
    """`:countTokens` wants `{"request": {"model": "models/M", "contents": [...]}}` and answers {totalTokens}."""
    inner = body.get("request") if isinstance(body.get("request"), dict) else body
    contents = inner.get("contents")
    if contents is None and isinstance(inner.get("generateContentRequest"), dict):
        contents = inner["generateContentRequest"].get("contents")
    name = model if model.startswith("models/") else f"models/{model}"
    return {"request": {"model": name, "contents": contents if isinstance(contents, list) else []}}


def unwrap_response(obj: dict) -> dict:
    """The GenerateContentResponse inside an envelope; errors (never wrapped) come back as they are."""
    inner = obj.get("response")
    if not isinstance(inner, dict):
        return obj if "error" in obj else {"candidates": []}
    trace = obj.get("traceId")
    if isinstance(trace, str) and trace and not inner.get("responseId"):
        inner = {**inner, "responseId": trace}
    return inner


def encode_request(req: Request, ctx: Context, *, model: str, stream: bool) -> dict:
    return wrap_request(gemini.encode_request(req, ctx, model=model, stream=stream), model)


def decode_response(body: dict, ctx: Context) -> Response:
    return gemini.decode_response(unwrap_response(body), ctx)


class CodeAssistStreamDecoder(GeminiStreamDecoder):
    def feed(self, chunk: dict) -> list[Event]:
        return super().feed(unwrap_response(chunk))
