"""count_tokens across dialects: ask the upstream's own counter when it has one.

Anthropic (`/v1/messages/count_tokens`) and Gemini (`:countTokens`) count exactly; the
client's request is translated like a normal one and trimmed to what the counter takes.
Upstreams without a counter get the local estimate instead (see `translate.estimate`).
"""

from __future__ import annotations

import json
from typing import Any

from proxy_engine.translate import TranslationError, count_tokens_response
from proxy_engine.translate.translator import Translator

_ANTHROPIC_COUNT_KEYS = ("model", "messages", "system", "tools", "tool_choice", "thinking")
COUNT_ACTIONS = ("count_tokens", "countTokens")


def count_request(translator: Translator, body: dict[str, Any], model: str) -> dict[str, Any]:
    """The client's count request as the upstream's counter wants it."""
    if translator.client_dialect == "gemini" and isinstance(body.get("generateContentRequest"), dict):
        body = body["generateContentRequest"]
    if translator.client_dialect == "anthropic" and "max_tokens" not in body:
        body = {**body, "max_tokens": 1}  # count requests carry no max_tokens; the decoder wants one
    up = translator.request(body, model=model, stream=False)
    if translator.upstream_dialect == "anthropic":
        return {k: up[k] for k in _ANTHROPIC_COUNT_KEYS if k in up}
    inner = {k: v for k, v in up.items() if k in ("contents", "systemInstruction", "tools", "toolConfig")}
    return {"generateContentRequest": {"model": f"models/{model}", **inner}}


def count_reply(client_dialect: str, upstream_dialect: str, body: bytes) -> dict[str, Any]:
    """The upstream's count, in the client's dialect."""
    try:
        obj = json.loads(body)
    except ValueError:
        raise TranslationError("the upstream's token count is not JSON", status=502) from None
    key = "input_tokens" if upstream_dialect == "anthropic" else "totalTokens"
    n = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(n, int):
        raise TranslationError(f"the upstream's token count has no {key}", status=502)
    return count_tokens_response(client_dialect, n)
