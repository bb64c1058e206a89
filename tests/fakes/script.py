"""What a fake provider should answer: text, tool calls, thinking, usage, errors and stream faults.

Tests build a `Script` (usually through `fake.script(...)` / `fake.queue(...)`) before sending a request;
the fake renders it in its own wire format, so one script describes the same answer for every dialect.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ToolCall:
    """A function call the model makes; `arguments` is a dict (sent as compact JSON) or a JSON string."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, separators=(",", ":"))

    @property
    def arguments_dict(self) -> dict[str, Any]:
        if isinstance(self.arguments, dict):
            return self.arguments
        return json.loads(self.arguments)


@dataclass
class Usage:
    """Token counts, provider-neutral.

    `input_tokens` is the WHOLE prompt including cached tokens (as in the ProxyPal request record); each
    fake converts: Anthropic reports input_tokens = input - cache_read - cache_write, OpenAI prompt_tokens =
    input with cached_tokens = cache_read, Gemini promptTokenCount = input with cachedContentTokenCount =
    cache_read.
    `output_tokens` includes `reasoning_tokens` (OpenAI completion_tokens semantics); Gemini reports
    candidatesTokenCount = output - reasoning and thoughtsTokenCount = reasoning.
    """

    input_tokens: int = 12
    output_tokens: int = 8
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def uncached_input(self) -> int:
        return max(0, self.input_tokens - self.cache_read_tokens - self.cache_write_tokens)


@dataclass
class Script:
    """The next answer(s) of a fake. All fields are optional; the default is a short reply naming the model.

    - text: reply text; None means "Hello from <model>!" (or no text when tool_calls are set); "" means none.
    - chunks: how many stream deltas the text (and thinking) is split into.
    - tool_calls: function calls, streamed as argument deltas split into `arg_chunks` pieces.
    - thinking / thinking_signature: reasoning text. Emitted only when the request asks for it
      (Anthropic thinking.type enabled|adaptive, Gemini thinkingConfig.includeThoughts, Responses `reasoning`
      present); chat completions always emit it as `reasoning_content` (DeepSeek/OpenRouter style).
    - usage: token counts (see Usage). stop_reason: provider-native override (e.g. "max_tokens", "length",
      "MAX_TOKENS", "max_output_tokens").
    - status / error_message / error_type / retry_after: answer with this HTTP error in the provider's shape
      (Retry-After header when retry_after is set).
    - error_details: Google `error.details` entries a Gemini error carries (QuotaFailure, ...); the
      RetryInfo entry comes from retry_after.
    - headers: extra response headers (`tests.fakes.quota_headers` builds each provider's quota headers).
      delay: seconds before the first byte.
      chunk_delay: seconds between stream events.
    - drop_after: abort the TCP connection after K stream events (non-stream: 0 = no response at all,
      >=1 = headers plus half the body). stall_after: after K events stop sending until the client hangs up.
    - stream_error_after: after K events send the provider's in-stream error event and end the stream.
    - end_after: after K events end the stream cleanly (a proper end of the HTTP body), leaving out the
      rest: the finish, usage and stop events a well-behaved upstream sends last.
    - edge_cases: empty deltas, keep-alive comments/pings, SSE frames split across TCP writes.
    - body: a raw JSON body to send instead of the rendered one (non-stream only).
    - raw_body: bytes sent as the whole (non-stream) body instead of JSON, e.g. b"<html>oops" (invalid JSON).
    - garbage_after: in a stream, after K events send one event whose `data:` is not JSON, then go on.
    """

    text: str | None = None
    chunks: int = 3
    tool_calls: list[ToolCall] = field(default_factory=list)
    arg_chunks: int = 4
    thinking: str | None = None
    thinking_signature: str | None = None
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    status: int | None = None
    error_message: str | None = None
    error_type: str | None = None
    retry_after: float | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error_details: list[dict[str, Any]] = field(default_factory=list)
    delay: float = 0.0
    chunk_delay: float = 0.0
    drop_after: int | None = None
    stall_after: int | None = None
    stream_error_after: int | None = None
    end_after: int | None = None
    edge_cases: bool = False
    body: Any = None
    raw_body: bytes | None = None
    garbage_after: int | None = None

    def __post_init__(self) -> None:
        self.tool_calls = [tc if isinstance(tc, ToolCall) else ToolCall(**tc) for tc in self.tool_calls]
        if isinstance(self.usage, dict):
            self.usage = Usage(**self.usage)
        for tc in self.tool_calls:
            tc.arguments_dict  # noqa: B018 - fail early on invalid JSON arguments

    def reply_text(self, model: str) -> str:
        if self.text is not None:
            return self.text
        return "" if self.tool_calls else f"Hello from {model}!"

    def signature(self) -> str:
        return self.thinking_signature or "c2lnLWZha2UtdGhpbmtpbmctc2lnbmF0dXJl"


def split_text(text: str, parts: int) -> list[str]:
    """Split text into at most `parts` non-empty, roughly equal pieces (empty text gives no pieces)."""
    if not text:
        return []
    parts = max(1, min(parts, len(text)))
    size, extra = divmod(len(text), parts)
    out, pos = [], 0
    for i in range(parts):
        step = size + (1 if i < extra else 0)
        out.append(text[pos : pos + step])
        pos += step
    return out


def new_id(prefix: str, length: int = 24) -> str:
    """A provider-looking identifier, e.g. new_id("chatcmpl-")."""
    return prefix + secrets.token_hex(length // 2)


@dataclass
class ScriptRule:
    """A script with optional filters: it applies only to requests using `key` and/or asking for `model`."""

    script: Script
    key: str | None = None
    model: str | None = None

    def matches(self, key: str | None, model: str | None) -> bool:
        return (self.key is None or self.key == key) and (self.model is None or self.model == model)
