"""Finish reasons and usage fields, dialect by dialect."""

from __future__ import annotations

from typing import Any

from .common import as_int, as_obj
from .ir import FinishReason, Usage

OPENAI_FINISH = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
    "function_call": "tool_calls",
}
ANTHROPIC_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "stop",
}
ANTHROPIC_FROM_IR = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
    "error": "end_turn",
}
GEMINI_FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error",
    "UNEXPECTED_TOOL_CALL": "error",
}
GEMINI_FROM_IR = {
    "stop": "STOP",
    "length": "MAX_TOKENS",
    "tool_calls": "STOP",
    "content_filter": "SAFETY",
    "error": "OTHER",
}


def openai_finish(value: Any) -> FinishReason:
    return OPENAI_FINISH.get(value, "stop") if isinstance(value, str) else "stop"


def anthropic_finish(value: Any) -> FinishReason:
    return ANTHROPIC_FINISH.get(value, "stop") if isinstance(value, str) else "stop"


def gemini_finish(value: Any) -> FinishReason:
    return GEMINI_FINISH.get(value, "stop") if isinstance(value, str) else "stop"


# ---- usage ----


def _n(value: Any) -> int:
    return as_int(value) or 0


def usage_from_openai_chat(u: Any) -> Usage | None:
    if not isinstance(u, dict):
        return None
    prompt = as_obj(u.get("prompt_tokens_details"))
    completion = as_obj(u.get("completion_tokens_details"))
    cached = _n(prompt.get("cached_tokens")) or _n(u.get("prompt_cache_hit_tokens"))
    return Usage(
        input_tokens=_n(u.get("prompt_tokens")),
        output_tokens=_n(u.get("completion_tokens")),
        cache_read_tokens=cached,
        cache_write_tokens=_n(prompt.get("cache_write_tokens") or prompt.get("cache_creation_tokens")),
        reasoning_tokens=_n(completion.get("reasoning_tokens")),
    )


def usage_to_openai_chat(u: Usage) -> dict:
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
    }


def usage_from_responses(u: Any) -> Usage | None:
    if not isinstance(u, dict):
        return None
    return Usage(
        input_tokens=_n(u.get("input_tokens")),
        output_tokens=_n(u.get("output_tokens")),
        cache_read_tokens=_n(as_obj(u.get("input_tokens_details")).get("cached_tokens")),
        reasoning_tokens=_n(as_obj(u.get("output_tokens_details")).get("reasoning_tokens")),
    )


def usage_to_responses(u: Usage) -> dict:
    return {
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": u.cache_read_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.input_tokens + u.output_tokens,
    }


def usage_from_anthropic(u: Any) -> Usage | None:
    """Anthropic's input_tokens exclude cache reads and writes; the IR's include them."""
    if not isinstance(u, dict):
        return None
    read = _n(u.get("cache_read_input_tokens"))
    write = _n(u.get("cache_creation_input_tokens"))
    return Usage(
        input_tokens=_n(u.get("input_tokens")) + read + write,
        output_tokens=_n(u.get("output_tokens")),
        cache_read_tokens=read,
        cache_write_tokens=write,
    )


def usage_to_anthropic(u: Usage) -> dict:
    return {
        "input_tokens": max(0, u.input_tokens - u.cache_read_tokens - u.cache_write_tokens),
        "output_tokens": u.output_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
        "cache_read_input_tokens": u.cache_read_tokens,
    }


def usage_from_gemini(u: Any) -> Usage | None:
    """Gemini counts thoughts apart from candidates; the IR's output includes them."""
    if not isinstance(u, dict):
        return None
    thoughts = _n(u.get("thoughtsTokenCount", u.get("thoughts_token_count")))
    return Usage(
        input_tokens=_n(u.get("promptTokenCount", u.get("prompt_token_count")))
        + _n(u.get("toolUsePromptTokenCount", u.get("tool_use_prompt_token_count"))),
        output_tokens=_n(u.get("candidatesTokenCount", u.get("candidates_token_count"))) + thoughts,
        cache_read_tokens=_n(u.get("cachedContentTokenCount", u.get("cached_content_token_count"))),
        reasoning_tokens=thoughts,
    )


def usage_to_gemini(u: Usage) -> dict:
    out = {
        "promptTokenCount": u.input_tokens,
        "candidatesTokenCount": max(0, u.output_tokens - u.reasoning_tokens),
        "totalTokenCount": u.input_tokens + u.output_tokens,
    }
    if u.reasoning_tokens:
        out["thoughtsTokenCount"] = u.reasoning_tokens
    if u.cache_read_tokens:
        out["cachedContentTokenCount"] = u.cache_read_tokens
    return out
