"""The internal model every dialect decodes into and encodes from.

Kept deliberately small: only what at least two dialects can express. Anything a
dialect holds that the others cannot (cache_control, logprobs, ...) stays behind
in that dialect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from proxy_engine.usage.tokens import Usage  # the one usage type, shared with the request record

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"]


@dataclass(slots=True)
class Text:
    text: str


@dataclass(slots=True)
class Image:
    """Either inline base64 `data` with its `media_type`, or a `url` (http(s) or a provider file URI)."""

    media_type: str = ""
    data: str | None = None
    url: str | None = None


@dataclass(slots=True)
class Document:
    """A file such as a PDF: inline base64 `data`, a `url`, or plain `text`."""

    media_type: str = "application/pdf"
    data: str | None = None
    url: str | None = None
    text: str | None = None
    title: str | None = None


@dataclass(slots=True)
class ToolCall:
    """`arguments` is JSON text, exactly as the model produced it.

    `signature`/`signature_source` carry an opaque token some providers attach to a call
    (Gemini's thoughtSignature); it may be replayed only to the dialect that issued it.
    """

    id: str
    name: str
    arguments: str = "{}"
    signature: str | None = None
    signature_source: str | None = None
    kind: Literal["function", "custom"] = "function"


@dataclass(slots=True)
class ToolResult:
    call_id: str
    content: list[Text | Image | Document] = field(default_factory=list)
    is_error: bool = False
    name: str | None = None


@dataclass(slots=True)
class Thinking:
    """Reasoning text. `source` is the dialect that issued `signature` (or `redacted` data)."""

    text: str = ""
    signature: str | None = None
    source: str | None = None
    redacted: str | None = None


Part = Text | Image | Document | ToolCall | ToolResult | Thinking


@dataclass(slots=True)
class Message:
    role: Role
    parts: list[Part] = field(default_factory=list)


@dataclass(slots=True)
class Tool:
    name: str
    description: str = ""
    parameters: dict = field(default_factory=lambda: {"type": "object", "properties": {}})
    kind: Literal["function", "custom"] = "function"


@dataclass(slots=True)
class ToolChoice:
    mode: Literal["auto", "none", "required", "tool"] = "auto"
    name: str | None = None


@dataclass(slots=True)
class Reasoning:
    """What the client asked about thinking. `enabled=False` means explicitly off."""

    enabled: bool | None = None
    effort: str | None = None
    budget: int | None = None


@dataclass(slots=True)
class Request:
    messages: list[Message] = field(default_factory=list)
    system: list[str] = field(default_factory=list)
    model: str = ""
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] = field(default_factory=list)
    reasoning: Reasoning | None = None
    user: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    json_schema: dict | None = None
    json_mode: bool = False


@dataclass(slots=True)
class Response:
    id: str = ""
    model: str = ""
    parts: list[Part] = field(default_factory=list)
    finish_reason: FinishReason = "stop"
    stop_sequence: str | None = None
    usage: Usage | None = None

    def finish_for_tools(self) -> FinishReason:
        """Gemini and Responses never say "tool_calls"; a response holding a call still ended for it."""
        if self.finish_reason == "stop" and any(isinstance(p, ToolCall) for p in self.parts):
            return "tool_calls"
        return self.finish_reason


# ---- stream events: what a stream decoder yields and a stream encoder consumes ----


@dataclass(slots=True)
class Start:
    id: str | None = None
    model: str | None = None


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class ThinkingDelta:
    text: str


@dataclass(slots=True)
class ThinkingSignature:
    """Closes the current thinking block with its signature (or redacted data)."""

    signature: str | None
    source: str
    redacted: str | None = None


@dataclass(slots=True)
class ToolStart:
    """`key` identifies the call within the upstream stream (index or id)."""

    key: object
    id: str
    name: str
    signature: str | None = None
    signature_source: str | None = None
    kind: Literal["function", "custom"] = "function"


@dataclass(slots=True)
class ToolDelta:
    key: object
    arguments: str


@dataclass(slots=True)
class UsageUpdate:
    """Fields that are not None replace what was known so far."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None


@dataclass(slots=True)
class Finish:
    reason: FinishReason = "stop"
    stop_sequence: str | None = None


@dataclass(slots=True)
class StreamError:
    message: str
    status: int = 502
    kind: str | None = None


Event = (
    Start | TextDelta | ThinkingDelta | ThinkingSignature | ToolStart | ToolDelta | UsageUpdate | Finish | StreamError
)


def apply_usage(usage: Usage, update: UsageUpdate) -> None:
    for name in (
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
    ):
        value = getattr(update, name)
        if value is not None:
            setattr(usage, name, value)
