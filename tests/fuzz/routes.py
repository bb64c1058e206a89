"""What the fuzz suite calls: every inbound model route (at `/` and under Amp's prefix), the model
lists and `/v0`, each with a well-formed body to start from and the dialect its errors must have."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.fuzz.conftest import CLIENT_KEY

# Same-dialect and translated on every route: the friendly names fail over across dialects.
MODELS = ("Smart", "Rush", "openai/gpt-4o", "anthropic/claude-haiku-4-5", "gemini/gemini-2.5-pro", "no-such-model")
_TOOL = {
    "name": "lookup",
    "description": "find a thing",
    "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
}
_FN = {
    "name": "lookup",
    "description": "find a thing",
    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # `{model}` where the path names the model
    dialect: str
    body: str | None = None  # the key of BODIES; None: no body

    def target(self, model: str) -> str:
        return self.path.replace("{model}", model)

    def base_body(self, model: str) -> dict[str, Any] | None:
        if self.body is None:
            return None
        body = BODIES[self.body]()
        if "{model}" not in self.path:
            body["model"] = model
        return body

    def headers(self) -> list[tuple[bytes, bytes]]:
        key = CLIENT_KEY.encode()
        if self.dialect == "anthropic":
            return [(b"x-api-key", key), (b"anthropic-version", b"2023-06-01"), (b"Content-Type", b"application/json")]
        if self.dialect == "gemini":
            return [(b"x-goog-api-key", key), (b"Content-Type", b"application/json")]
        return [(b"Authorization", b"Bearer " + key), (b"Content-Type", b"application/json")]


def _chat() -> dict[str, Any]:
    return {
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "max_tokens": 16,
        "stream": False,
        "temperature": 0.5,
        "tools": [{"type": "function", "function": _FN}],
    }


def _responses() -> dict[str, Any]:
    return {
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "instructions": "brief",
        "max_output_tokens": 16,
        "tools": [{"type": "function", **_FN}],
    }


def _messages() -> dict[str, Any]:
    return {
        "max_tokens": 16,
        "system": "be brief",
        "tools": [_TOOL],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }


def _gemini() -> dict[str, Any]:
    return {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"maxOutputTokens": 16},
        "systemInstruction": {"parts": [{"text": "be brief"}]},
        "tools": [{"functionDeclarations": [_FN]}],
    }


BODIES = {
    "chat": _chat,
    "responses": _responses,
    "completions": lambda: {"prompt": "hi", "max_tokens": 16},
    "messages": _messages,
    "count": lambda: {k: v for k, v in _messages().items() if k != "max_tokens"},
    "gemini": _gemini,
    "input_tokens": lambda: {"input": "hi", "instructions": "be brief"},
    "embeddings": lambda: {"input": ["hi", "there"], "dimensions": 8},
    "embed": lambda: {"content": {"parts": [{"text": "hi"}]}, "outputDimensionality": 8},
    "batch_embed": lambda: {"requests": [{"content": {"parts": [{"text": "hi"}]}, "taskType": "RETRIEVAL_QUERY"}]},
}
MODEL_ROUTES = (
    Route("POST", "/v1/chat/completions", "openai_chat", "chat"),
    Route("POST", "/v1/responses", "openai_responses", "responses"),
    Route("POST", "/v1/completions", "openai_completions", "completions"),
    Route("POST", "/v1/messages", "anthropic", "messages"),
    Route("POST", "/v1/messages/count_tokens", "anthropic", "count"),
    Route("POST", "/v1beta/models/{model}:generateContent", "gemini", "gemini"),
    Route("POST", "/v1beta/models/{model}:streamGenerateContent?alt=sse", "gemini", "gemini"),
    Route("POST", "/v1beta/models/{model}:streamGenerateContent", "gemini", "gemini"),
    Route("POST", "/v1beta/models/{model}:countTokens", "gemini", "gemini"),
    Route("POST", "/v1/models/{model}:generateContent", "gemini", "gemini"),
    Route("POST", "/v1/models/{model}:countTokens", "gemini", "gemini"),
    Route("POST", "/v1/responses/input_tokens", "openai_responses", "input_tokens"),
    Route("POST", "/v1/embeddings", "openai_chat", "embeddings"),  # errors in OpenAI's shape
    Route("POST", "/v1beta/models/{model}:embedContent", "gemini", "embed"),
    Route("POST", "/v1beta/models/{model}:batchEmbedContents", "gemini", "batch_embed"),
    Route("POST", "/api/provider/openai/v1/chat/completions", "openai_chat", "chat"),
    Route("POST", "/api/provider/openai/responses", "openai_responses", "responses"),
    Route("POST", "/api/provider/anthropic/v1/messages", "anthropic", "messages"),
    Route("POST", "/api/provider/anthropic/v1/messages/count_tokens", "anthropic", "count"),
    Route("POST", "/api/provider/google/v1beta/models/{model}:generateContent", "gemini", "gemini"),
    Route(
        "POST",
        "/api/provider/google/v1beta1/publishers/google/models/{model}:streamGenerateContent?alt=sse",
        "gemini",
        "gemini",
    ),
)
LIST_ROUTES = (
    Route("GET", "/v1/models", "openai_chat"),
    Route("GET", "/v1beta/models", "gemini"),
    Route("GET", "/api/provider/anthropic/v1/models", "anthropic"),
    Route("GET", "/api/provider/openai/models", "openai_chat"),
)
# /v0: PUT /v0/config is left out with the key (a fuzzed config that happens to be valid would
# replace the one the suite runs on); it is fuzzed without the key, where it must be refused.
MANAGEMENT = (
    ("GET", "/v0/status"),
    ("GET", "/v0/auth/status"),
    ("GET", "/v0/usage"),
    ("GET", "/v0/quota"),
    ("GET", "/v0/requests"),
    ("GET", "/v0/config"),
    ("POST", "/v0/config/reload"),
    ("POST", "/v0/auth/reload"),
    ("POST", "/v0/auth/cooldowns/clear"),
    ("GET", "/v0/keys"),
    ("POST", "/v0/keys"),
    ("POST", "/v0/keys/x/revoke"),
    ("POST", "/v0/keys/x/rotate"),
    ("POST", "/v0/keys/refresh"),
    ("GET", "/v0/audit"),
    ("GET", "/metrics"),
)
