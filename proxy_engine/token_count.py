"""count_tokens across dialects: ask the upstream's own counter when it has one.

Anthropic (`/v1/messages/count_tokens`), Gemini (`:countTokens`, also on Vertex and Code
Assist), OpenAI (`/v1/responses/input_tokens`) and Bedrock (`/model/{id}/count-tokens`) count
exactly; the client's request is translated like a normal one and trimmed to what the counter
takes. Upstreams without a counter get the local estimate instead (see `translate.estimate`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from proxy_engine.translate import TranslationError, count_tokens_response

if TYPE_CHECKING:  # the codecs load with the first translated call, not with the engine
    from proxy_engine.translate.translator import Translator

_ANTHROPIC_COUNT_KEYS = ("model", "messages", "system", "tools", "tool_choice", "thinking")
# What POST /v1/responses/input_tokens takes (the OpenAI API reference, "Get input token counts").
_RESPONSES_COUNT_KEYS = ("model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls",
                         "reasoning", "text", "conversation", "previous_response_id", "truncation")  # fmt: skip
_BEDROCK_COUNT_KEYS = ("messages", "system", "toolConfig", "additionalModelRequestFields")
_GEMINI_COUNT_KEYS = ("contents", "systemInstruction", "tools", "toolConfig")
COUNT_ACTIONS = ("count_tokens", "countTokens", "input_tokens")
# Where each counter puts its number.
_COUNT_KEY = {"anthropic": "input_tokens", "openai_responses": "input_tokens", "bedrock": "inputTokens"}


def count_request(translator: Translator, body: dict[str, Any], model: str) -> dict[str, Any]:
    """The client's count request as the upstream's counter wants it."""
    if translator.client_dialect == "gemini" and isinstance(body.get("generateContentRequest"), dict):
        body = body["generateContentRequest"]
    if translator.client_dialect == "anthropic" and "max_tokens" not in body:
        body = {**body, "max_tokens": 1}  # count requests carry no max_tokens; the decoder wants one
    up = translator.request(body, model=model, stream=False)
    dialect = translator.upstream_dialect
    if dialect == "anthropic":
        return {k: up[k] for k in _ANTHROPIC_COUNT_KEYS if k in up}
    if dialect == "openai_responses":
        return {k: up[k] for k in _RESPONSES_COUNT_KEYS if k in up}
    if dialect == "bedrock":  # CountTokens' ConverseTokensRequest mirrors Converse's input fields
        return {"input": {"converse": {k: up[k] for k in _BEDROCK_COUNT_KEYS if k in up}}}
    if dialect != "gemini":
        return up  # Code Assist: the kind reshapes its envelope for v1internal:countTokens
    inner = {k: v for k, v in up.items() if k in _GEMINI_COUNT_KEYS}
    return {"generateContentRequest": {"model": f"models/{model}", **inner}}


def count_reply(client_dialect: str, upstream_dialect: str, body: bytes) -> dict[str, Any]:
    """The upstream's count, in the client's dialect."""
    try:
        obj = json.loads(body)
    except ValueError:
        raise TranslationError("the upstream's token count is not JSON", status=502) from None
    key = _COUNT_KEY.get(upstream_dialect, "totalTokens")
    n = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(n, int):
        raise TranslationError(f"the upstream's token count has no {key}", status=502)
    return count_tokens_response(client_dialect, n)
