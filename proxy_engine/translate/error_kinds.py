"""Which upstream errors a client must recognise by their type and wording, whatever the upstream.

Claude Code recovers from some errors by what they say: a 400 `invalid_request_error` whose
message starts "prompt is too long: N tokens > M maximum" makes it compact the conversation, one
saying "input length and `max_tokens` exceed context limit: I + O > M" makes it lower `max_tokens`,
`rate_limit_error` (429) and `overloaded_error` (529) make it wait and retry. A translated route
must say the same thing when OpenAI answers `context_length_exceeded` or Gemini "exceeds the
maximum number of tokens", or Claude Code gives up instead of recovering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

CONTEXT_OVERFLOW = "context_overflow"
RATE_LIMIT = "rate_limit"
OVERLOADED = "overloaded"

# OpenAI: "This model's maximum context length is 128000 tokens. However, your messages resulted in 130532 tokens".
_OPENAI_LIMITS = re.compile(r"maximum context length is (\d+) tokens.*?(?:resulted in|requested) (\d+) tokens", re.S)
# The same with the prompt and the completion apart (OpenAI; vLLM and other compatible servers).
_SPLIT_LIMITS = (
    re.compile(r"maximum context length is (\d+) tokens.*?requested \d+ tokens \((\d+) in the messages, (\d+) in "
               r"the completion\)", re.S),
    re.compile(r"maximum context length of (\d+) tokens.*?total of \d+ tokens: (\d+) tokens from the input messages "
               r"and (\d+) tokens for the completion", re.S),
)  # fmt: skip
# Gemini: "The input token count (1234567) exceeds the maximum number of tokens allowed (1048576)."
_GEMINI_LIMITS = re.compile(r"input token count \(?(\d+)\)? exceeds the maximum number of tokens allowed \(?(\d+)")
_OVERFLOW_WORDS = (
    "context_length_exceeded",
    "maximum context length",
    "exceeds the context window",
    "exceeds the maximum number of tokens",
    "input is too long",
    "prompt is too long",
    "too many input tokens",
)
_RATE_CODES = frozenset(
    {"rate_limit_exceeded", "rate_limit_error", "resource_exhausted", "throttlingexception", "too_many_requests"}
)
_OVERLOAD_CODES = frozenset(
    {"overloaded_error", "unavailable", "serviceunavailableexception", "modelnotreadyexception", "server_is_overloaded"}
)


@dataclass(frozen=True, slots=True)
class ErrorKind:
    """A recognised upstream error; `tokens`/`maximum` when the upstream named the sizes."""

    kind: str
    tokens: int | None = None
    maximum: int | None = None
    completion: int | None = None  # the max_tokens asked for, when the upstream counted it apart

    def anthropic_message(self, original: str) -> str:
        """The wording Claude Code matches on, for a context overflow."""
        if self.tokens is not None and self.maximum is not None and self.completion is not None:
            if self.tokens < self.maximum:  # the prompt fits: a smaller max_tokens is the fix, not compaction
                return (f"input length and `max_tokens` exceed context limit: {self.tokens} + {self.completion} > "
                        f"{self.maximum}, decrease input length or `max_tokens` and try again")  # fmt: skip
            return f"prompt is too long: {self.tokens} tokens > {self.maximum} maximum"
        if self.tokens is not None and self.maximum is not None:
            return f"prompt is too long: {self.tokens} tokens > {self.maximum} maximum"
        return original if original.lower().startswith("prompt is too long") else f"prompt is too long: {original}"


def classify(status: int, data: Any, message: str) -> ErrorKind | None:
    """The kind of an upstream error from its status, its parsed body (`data`) and its message."""
    codes = _codes(data)
    low = message.lower()
    if "context_length_exceeded" in codes or (status in (400, 413, 422) and any(w in low for w in _OVERFLOW_WORDS)):
        return _overflow(message)
    if status == 429 or codes & _RATE_CODES:
        return ErrorKind(RATE_LIMIT)
    if status in (503, 529) or codes & _OVERLOAD_CODES or "overloaded" in low:
        return ErrorKind(OVERLOADED)
    return None


def _overflow(message: str) -> ErrorKind:
    for pattern in _SPLIT_LIMITS:
        if m := pattern.search(message):
            maximum, prompt, completion = (int(g) for g in m.groups())
            return ErrorKind(CONTEXT_OVERFLOW, tokens=prompt, maximum=maximum, completion=completion)
    if m := _OPENAI_LIMITS.search(message):
        return ErrorKind(CONTEXT_OVERFLOW, tokens=int(m.group(2)), maximum=int(m.group(1)))
    if m := _GEMINI_LIMITS.search(message):
        return ErrorKind(CONTEXT_OVERFLOW, tokens=int(m.group(1)), maximum=int(m.group(2)))
    return ErrorKind(CONTEXT_OVERFLOW)


def _codes(data: Any) -> set[str]:
    """Every machine-readable code an error body carries (OpenAI `code`/`type`, Google `status`, AWS `__type`)."""
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    if not isinstance(data, dict):
        return set()
    out: set[str] = set()
    for holder in (data, data.get("error")):
        if isinstance(holder, dict):
            for key in ("code", "type", "status", "__type"):
                value = holder.get(key)
                if isinstance(value, str):
                    out.add(value.rsplit("#", 1)[-1].lower())
    return out
