"""Vertex AI publisher models: where each request goes, and the body Claude-on-Vertex expects.

Gemini models on Vertex take the ordinary generateContent body. Anthropic models take the Messages
body with the model moved into the URL and `anthropic_version` added; their token counter is the
shared `count-tokens:rawPredict` endpoint, which keeps the model in the body.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"
_COUNT_ACTIONS = ("countTokens", "count_tokens", "input_tokens")


def vertex_base(location: str) -> str:
    """The regional endpoint; `global` has its own host."""
    if location == "global":
        return "https://aiplatform.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


def vertex_url(
    base: str,
    project: str,
    location: str,
    model: str,
    publisher: str = "google",
    stream: bool = False,
    action: str | None = None,
) -> str:
    """`{base}/v1/projects/{p}/locations/{l}/publishers/{publisher}/models/{model}:{method}`.

    method: google -> generateContent | streamGenerateContent?alt=sse | countTokens;
    anthropic -> rawPredict | streamRawPredict, and token counts at models/count-tokens:rawPredict.
    `action` "countTokens"/"count_tokens"/"input_tokens" asks for the counter; any other value is used as the method.
    """
    root = base.rstrip("/")
    if not root.endswith(("/v1", "/v1beta1")):
        root += "/v1"
    prefix = f"{root}/projects/{quote(project, safe='')}/locations/{quote(location, safe='')}/publishers/{publisher}"
    if publisher == "anthropic":
        if action in _COUNT_ACTIONS:
            return f"{prefix}/models/count-tokens:rawPredict"
        method = action or ("streamRawPredict" if stream else "rawPredict")
        return f"{prefix}/models/{quote(model, safe='@')}:{method}"
    if action in _COUNT_ACTIONS:
        method = "countTokens"
    else:
        method = action or ("streamGenerateContent" if stream else "generateContent")
    url = f"{prefix}/models/{quote(model, safe='@')}:{method}"
    return url + "?alt=sse" if method == "streamGenerateContent" else url


def anthropic_body_for_vertex(body: dict[str, Any]) -> dict[str, Any]:
    """A Messages body for rawPredict/streamRawPredict: no `model`, plus `anthropic_version`."""
    out = {k: v for k, v in body.items() if k != "model"}
    out.setdefault("anthropic_version", VERTEX_ANTHROPIC_VERSION)
    return out


def anthropic_count_body_for_vertex(body: dict[str, Any], model: str) -> dict[str, Any]:
    """A count_tokens body for count-tokens:rawPredict: the model stays in the body."""
    out = {**body, "model": model}
    out.setdefault("anthropic_version", VERTEX_ANTHROPIC_VERSION)
    return out


def gemini_count_body_for_vertex(body: dict[str, Any]) -> dict[str, Any]:
    """Vertex's countTokens takes `contents`, `systemInstruction`, `tools` at the top (no `generateContentRequest`)."""
    inner = body.get("generateContentRequest")
    if not isinstance(inner, dict):
        return body
    return {k: inner[k] for k in ("contents", "systemInstruction", "tools", "generationConfig") if k in inner}
