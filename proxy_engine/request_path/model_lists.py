"""The model list, in the shape each dialect's clients parse."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from proxy_engine.request_path.gemini_paths import GEMINI_ACTIONS
from proxy_engine.request_path.model_facts import ListedModel


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


def model_list_response(dialect: str, models: list[ListedModel]) -> web.Response:
    return web.json_response(_model_list(dialect, models))


def _model_list(dialect: str, models: list[ListedModel]) -> dict[str, Any]:
    """Each dialect's documented list shape; context window and output limit only where they are known."""
    if dialect == "anthropic":  # Models API: ModelInfo, with max_input_tokens / max_tokens
        data = [{"type": "model", "id": m.id, "display_name": m.display_name, "created_at": "2025-01-01T00:00:00Z",
                 **_known(max_input_tokens=m.context_window, max_tokens=m.max_output_tokens)}
                for m in models]  # fmt: skip
        return {"data": data, "has_more": False, "first_id": models[0].id if models else None,
                "last_id": models[-1].id if models else None}  # fmt: skip
    if dialect == "gemini":  # models.list: Model, with inputTokenLimit / outputTokenLimit
        methods = list(GEMINI_ACTIONS)
        return {"models": [{"name": f"models/{m.id}", "displayName": m.display_name,
                            "supportedGenerationMethods": methods,
                            **_known(inputTokenLimit=m.context_window, outputTokenLimit=m.max_output_tokens)}
                           for m in models]}  # fmt: skip
    created = int(time.time())
    return {"object": "list", "data": [{"id": m.id, "object": "model", "created": created, "owned_by": "proxypal",
                                        **_known(context_window=m.context_window,
                                                 max_output_tokens=m.max_output_tokens)}
                                       for m in models]}  # fmt: skip


def _known(**fields: int | None) -> dict[str, int]:
    return {k: v for k, v in fields.items() if v is not None}
