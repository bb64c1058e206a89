"""The usage readers (`proxy_engine/usage/upstream.py`) and the pass-through taps that call them."""

from __future__ import annotations

import json

import pytest

from proxy_engine.dialects.usage_taps import StreamTap, usage_from_body
from proxy_engine.translate import Translator
from proxy_engine.usage.tokens import Usage
from proxy_engine.usage.upstream import AnthropicStreamUsage, usage_in_reply

# Each dialect's documented fields, with cached, cache-write, reasoning/thought and tool-use prompt counts.
WHOLE_REPLIES = {
    "openai_chat": (
        {"usage": {"prompt_tokens": 1000, "completion_tokens": 300,
                   "prompt_tokens_details": {"cached_tokens": 400, "cache_write_tokens": 50},
                   "completion_tokens_details": {"reasoning_tokens": 120}}},
        Usage(1000, 300, 400, 50, 120),
    ),
    "openai_completions": (
        {"usage": {"prompt_tokens": 1000, "completion_tokens": 300, "prompt_cache_hit_tokens": 400}},
        Usage(1000, 300, 400, 0, 0),
    ),
    "openai_responses": (
        {"response": {"usage": {"input_tokens": 1000,
                                "input_tokens_details": {"cached_tokens": 400, "cache_write_tokens": 50},
                                "output_tokens": 300, "output_tokens_details": {"reasoning_tokens": 120}}}},
        Usage(1000, 300, 400, 50, 120),
    ),
    "anthropic": (
        {"usage": {"input_tokens": 100, "cache_read_input_tokens": 400, "cache_creation_input_tokens": 500,
                   "output_tokens": 300}},
        Usage(1000, 300, 400, 500, 0),
    ),
    "gemini": (
        {"usageMetadata": {"promptTokenCount": 900, "toolUsePromptTokenCount": 100, "cachedContentTokenCount": 400,
                           "candidatesTokenCount": 180, "thoughtsTokenCount": 120}},
        Usage(1000, 300, 400, 0, 120),
    ),
    "gemini_code_assist": (
        {"response": {"usage_metadata": {"prompt_token_count": 900, "tool_use_prompt_token_count": 100,
                                         "candidates_token_count": 180, "thoughts_token_count": 120}},
         "traceId": "t"},
        Usage(1000, 300, 0, 0, 120),
    ),
    "bedrock": (
        {"usage": {"inputTokens": 100, "cacheReadInputTokens": 400, "cacheWriteInputTokens": 500,
                   "outputTokens": 300}},
        Usage(1000, 300, 400, 500, 0),
    ),
}  # fmt: skip


@pytest.mark.parametrize("dialect", list(WHOLE_REPLIES))
def test_each_dialects_usage_fields_read_into_the_documented_meaning(dialect: str) -> None:
    reply, expected = WHOLE_REPLIES[dialect]
    assert usage_in_reply(dialect, reply) == expected
    assert usage_from_body(dialect, json.dumps(reply).encode()) == expected


def test_a_reply_without_usage_or_not_json_has_none() -> None:
    assert usage_from_body("openai_chat", b'{"choices": []}') is None
    assert usage_from_body("gemini", b"<html>bad gateway</html>") is None
    assert usage_in_reply("no_such_dialect", {"usage": {"prompt_tokens": 3}}) is None


def _anthropic_stream(start_usage: dict, delta_usage: dict, text: str) -> list[bytes]:
    def ev(kind: str, obj: dict) -> bytes:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **obj})}\n\n".encode()

    return [
        ev("message_start", {"message": {"id": "m", "role": "assistant", "content": [], "usage": start_usage}}),
        ev("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        ev("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": text}}),
        ev("content_block_stop", {"index": 0}),
        ev("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": delta_usage}),
        ev("message_stop", {}),
    ]


# A text that looks like usage events must neither be parsed as one nor change the counts.
DECOY = '{"type":"message_delta","usage":{"output_tokens":999999,"input_tokens":999999}}'


def test_anthropic_tap_forwards_every_chunk_unchanged_and_text_that_looks_like_usage_counts_for_nothing() -> None:
    events = _anthropic_stream(
        {"input_tokens": 100, "cache_read_input_tokens": 400, "cache_creation_input_tokens": 500, "output_tokens": 1},
        {"output_tokens": 300},
        DECOY,
    )
    raw = b"".join(events)
    tap = StreamTap("anthropic")
    chunks = [raw[i : i + 7] for i in range(0, len(raw), 7)]  # events cut apart anywhere
    forwarded = b"".join(tap.feed(c) for c in chunks) + tap.finish()
    assert forwarded == raw
    assert tap.usage == Usage(1000, 300, 400, 500)


def test_anthropic_stream_without_event_lines_still_yields_usage() -> None:
    events = _anthropic_stream({"input_tokens": 100, "output_tokens": 1}, {"output_tokens": 30}, DECOY)
    data_only = b"".join(e.split(b"\n", 1)[1] for e in events)  # some compatible servers send no `event:` lines
    tap = StreamTap("anthropic")
    assert tap.feed(data_only) + tap.finish() == data_only
    assert tap.usage == Usage(100, 30, 0, 0)


def test_late_anthropic_usage_is_taken_and_a_zero_never_erases_a_known_count() -> None:
    merged = AnthropicStreamUsage()
    assert merged.update({"input_tokens": 0, "output_tokens": 0}) == Usage()
    late = {"input_tokens": 100, "cache_read_input_tokens": 400, "output_tokens": 30}
    assert merged.update(late) == Usage(500, 30, 400, 0)
    assert merged.update({"input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 42}) == Usage(500, 42, 400)


def test_the_translator_reads_an_anthropic_stream_as_the_tap_does() -> None:
    """A compatible server that reports the prompt only in message_delta: both routes count it."""
    events = _anthropic_stream(
        {"input_tokens": 0, "output_tokens": 0},
        {"input_tokens": 100, "cache_creation_input_tokens": 500, "cache_read_input_tokens": 400, "output_tokens": 7},
        "hi",
    )
    tap = StreamTap("anthropic")
    for e in events:
        tap.feed(e)
    tr = Translator("openai_chat", "anthropic")
    tr.request({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, model="m", stream=True)
    st = tr.stream("m")
    for e in events:
        st.feed_data(e.split(b"data: ", 1)[1].rstrip(b"\n"))
    st.finish()
    assert tap.usage == Usage(**st.usage) == Usage(1000, 7, 400, 500)
