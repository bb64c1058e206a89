"""Token usage as each upstream dialect reports it, read into one `Usage`, the same way on every route.

The pass-through usage taps (`dialects/usage_taps.py`) and the translators (`translate/*`) both call
these functions, so one upstream answer is counted and billed the same whether the client spoke the
upstream's dialect or another one.

What the fields mean (what providers bill; genai-prices counts input the same way):
- `input_tokens`: the whole prompt, cached parts included. Anthropic and Bedrock report only the
  uncached part, so their cache reads and writes are added back. Gemini's `toolUsePromptTokenCount`
  (the prompt of its built-in tools) is prompt the user pays for, so it is added to `promptTokenCount`.
- `cache_read_tokens`: prompt served from a cache. OpenAI `prompt_tokens_details.cached_tokens`
  (Responses: `input_tokens_details.cached_tokens`; DeepSeek: `prompt_cache_hit_tokens`), Anthropic
  `cache_read_input_tokens`, Gemini `cachedContentTokenCount`, Bedrock `cacheReadInputTokens`.
- `cache_write_tokens`: prompt written to a cache. Anthropic `cache_creation_input_tokens`, Bedrock
  `cacheWriteInputTokens`, and the `cache_write_tokens` some OpenAI-compatible servers (OpenRouter, Azure
  AI) report in the prompt/input details (already inside the OpenAI-style prompt count).
- `output_tokens`: everything generated, reasoning included. OpenAI `completion_tokens`/`output_tokens`
  and Anthropic `output_tokens` already include it; Gemini's `thoughtsTokenCount` is added to
  `candidatesTokenCount`.
- `reasoning_tokens`: the reasoning part of `output_tokens` (OpenAI `reasoning_tokens`, Gemini thoughts),
  for display; it is never billed twice.

Streams: OpenAI, Gemini and Bedrock report cumulative usage, so the last report wins. Anthropic splits
it between `message_start` and `message_delta`; `AnthropicStreamUsage` merges the two.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proxy_engine.usage.tokens import Usage, as_int


def _obj(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _first(u: dict, *keys: str) -> int:
    """The first of `keys` that holds a count (camelCase or snake_case spellings of one field)."""
    for key in keys:
        if key in u:
            return as_int(u[key])
    return 0


def from_openai_chat(u: Any) -> Usage | None:
    """Chat Completions (and legacy Completions) `usage`; `prompt_tokens` already includes cached ones."""
    if not isinstance(u, dict):
        return None
    prompt = _obj(u.get("prompt_tokens_details"))
    completion = _obj(u.get("completion_tokens_details"))
    return Usage(
        input_tokens=as_int(u.get("prompt_tokens")),
        output_tokens=as_int(u.get("completion_tokens")),
        cache_read_tokens=as_int(prompt.get("cached_tokens")) or as_int(u.get("prompt_cache_hit_tokens")),
        cache_write_tokens=as_int(prompt.get("cache_write_tokens")) or as_int(prompt.get("cache_creation_tokens")),
        reasoning_tokens=as_int(completion.get("reasoning_tokens")),
    )


from_openai_completions = from_openai_chat


def from_openai_responses(u: Any) -> Usage | None:
    """Responses API `usage`; `input_tokens` includes cached ones, `output_tokens` reasoning."""
    if not isinstance(u, dict):
        return None
    details = _obj(u.get("input_tokens_details"))
    return Usage(
        input_tokens=as_int(u.get("input_tokens")),
        output_tokens=as_int(u.get("output_tokens")),
        cache_read_tokens=as_int(details.get("cached_tokens")),
        cache_write_tokens=as_int(details.get("cache_write_tokens")),
        reasoning_tokens=as_int(_obj(u.get("output_tokens_details")).get("reasoning_tokens")),
    )


def from_anthropic(u: Any) -> Usage | None:
    """Messages API `usage`; its `input_tokens` leave out cache reads and writes."""
    if not isinstance(u, dict):
        return None
    read = as_int(u.get("cache_read_input_tokens"))
    write = as_int(u.get("cache_creation_input_tokens"))
    return Usage(
        input_tokens=as_int(u.get("input_tokens")) + read + write,
        output_tokens=as_int(u.get("output_tokens")),
        cache_read_tokens=read,
        cache_write_tokens=write,
    )


def from_gemini(u: Any) -> Usage | None:
    """`usageMetadata`: thoughts are counted apart from candidates, tool-use prompt apart from the prompt."""
    if not isinstance(u, dict):
        return None
    thoughts = _first(u, "thoughtsTokenCount", "thoughts_token_count")
    return Usage(
        input_tokens=_first(u, "promptTokenCount", "prompt_token_count")
        + _first(u, "toolUsePromptTokenCount", "tool_use_prompt_token_count"),
        output_tokens=_first(u, "candidatesTokenCount", "candidates_token_count") + thoughts,
        cache_read_tokens=_first(u, "cachedContentTokenCount", "cached_content_token_count"),
        reasoning_tokens=thoughts,
    )


def from_bedrock(u: Any) -> Usage | None:
    """Converse `usage`; like Anthropic's, its `inputTokens` leave out cache reads and writes."""
    if not isinstance(u, dict):
        return None
    read = as_int(u.get("cacheReadInputTokens"))
    write = as_int(u.get("cacheWriteInputTokens"))
    return Usage(
        input_tokens=as_int(u.get("inputTokens")) + read + write,
        output_tokens=as_int(u.get("outputTokens")),
        cache_read_tokens=read,
        cache_write_tokens=write,
    )


def _gemini_meta(obj: dict) -> Any:
    meta = obj.get("usageMetadata")
    return obj.get("usage_metadata") if meta is None else meta


def _responses_usage(obj: dict) -> Any:
    inner = obj.get("response")
    return (inner if isinstance(inner, dict) else obj).get("usage")


def _anthropic_usage(obj: dict) -> Any:
    inner = obj.get("message")  # a message_start event carries the message, usage inside
    return (inner if isinstance(inner, dict) and "usage" in inner else obj).get("usage")


# dialect -> (where the usage object sits in a whole reply or a stream event, how to read it)
_READERS: dict[str, tuple[Callable[[dict], Any], Callable[[Any], Usage | None]]] = {
    "openai_chat": (lambda o: o.get("usage"), from_openai_chat),
    "openai_completions": (lambda o: o.get("usage"), from_openai_completions),
    "openai_responses": (_responses_usage, from_openai_responses),
    "anthropic": (_anthropic_usage, from_anthropic),
    "gemini": (_gemini_meta, from_gemini),
    "gemini_code_assist": (lambda o: _gemini_meta(_obj(o.get("response"))), from_gemini),
    "bedrock": (lambda o: o.get("usage"), from_bedrock),
}


def usage_in_reply(dialect: str, obj: Any) -> Usage | None:
    """The usage of a whole reply, or of one stream event, in `dialect`; None when it carries none."""
    reader = _READERS.get(dialect)
    if reader is None or not isinstance(obj, dict):
        return None
    find, read = reader
    return read(find(obj))


class AnthropicStreamUsage:
    """Anthropic streams put the prompt side in `message_start` and cumulative counts in `message_delta`.

    A field a later event reports replaces the known one, except that a zero never erases a known count
    (some compatible servers send zeros in the event that does not own the field).
    """

    __slots__ = ("_raw",)
    _FIELDS = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "output_tokens")

    def __init__(self) -> None:
        self._raw: dict[str, int] = dict.fromkeys(self._FIELDS, 0)

    def update(self, u: dict) -> Usage:
        """Merge one event's `usage` object and return the usage known so far."""
        raw = self._raw
        for key in self._FIELDS:
            if value := as_int(u.get(key)):
                raw[key] = value
        read, write = raw["cache_read_input_tokens"], raw["cache_creation_input_tokens"]
        return Usage(raw["input_tokens"] + read + write, raw["output_tokens"], read, write)
