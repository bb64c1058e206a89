"""The model list, in the shape each dialect's clients parse."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from proxy_engine.request_path.gemini_paths import GEMINI_ACTIONS


def list_dialect(request: web.Request, path_hint: str | None) -> str:
    """Which shape a model-list call wants.

    `path_hint` is the provider a route family's path names (Amp's segment); when it names
    one, it wins over the key headers a client happens to send.
    """
    if path_hint == "anthropic" or "anthropic-version" in request.headers:
        return "anthropic"
    if path_hint == "gemini" or "/v1beta/" in request.path:
        return "gemini"
    if path_hint is None and ("x-goog-api-key" in request.headers or "key" in request.query):
        return "gemini"
    return "openai_chat"


def model_list_response(dialect: str, ids: list[str]) -> web.Response:
    return web.json_response(_model_list(dialect, ids))


def _model_list(dialect: str, ids: list[str]) -> dict[str, Any]:
    if dialect == "anthropic":
        data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"} for m in ids]
        return {"data": data, "has_more": False, "first_id": ids[0] if ids else None,
                "last_id": ids[-1] if ids else None}  # fmt: skip
    if dialect == "gemini":
        methods = list(GEMINI_ACTIONS)
        return {"models": [{"name": f"models/{m}", "displayName": m, "supportedGenerationMethods": methods}
                           for m in ids]}  # fmt: skip
    created = int(time.time())
    return {"object": "list", "data": [{"id": m, "object": "model", "created": created, "owned_by": "proxypal"}
                                       for m in ids]}  # fmt: skip
