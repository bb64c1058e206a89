"""The translated-stream relay and its fast paths: byte-for-byte what the plain versions produce, plus the
stream faults that used to break it (a lone surrogate, a Gemini history of streamed thought pieces)."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy_engine.dialects.sse import SSEFramer, block_data
from proxy_engine.dialects.translated import TranslatedStream
from proxy_engine.dialects.usage_taps import StreamTap
from proxy_engine.translate import get_translator
from proxy_engine.translate.json_text import dumpb, dumps, loads, quote
from proxy_engine.translate.thinking import Signature as Sig
from proxy_engine.translate.thinking import wrap
from tests.fakes import Script, ToolCall, Usage
from tests.fakes.anthropic_fake import MessageRenderer
from tests.fakes.base import sse
from tests.fakes.gemini_fake import GeminiRenderer
from tests.fakes.openai_fake import chat_frames
from tests.translate.kit import CLIENTS, client_body, collect

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(JSON_VALUES)
def test_json_helpers_agree_with_the_standard_library(value: object) -> None:
    assert dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    data = json.dumps(value).encode()
    assert loads(data) == json.loads(data) and loads(b" \n" + data + b"\n") == value
    assert json.loads(dumpb(value)) == value
    for obj in (value, {"k": value, "lone": "\ud83d"}):  # dumpb's own encoder gives json's compact bytes
        try:
            expected = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
        except UnicodeEncodeError:  # a lone surrogate cannot be UTF-8: \u-escaped instead
            expected = json.dumps(obj, separators=(",", ":")).encode()
        assert dumpb(obj) == expected
    if isinstance(value, str):
        assert json.loads(quote(value)) == value


def test_loads_rejects_what_json_loads_rejects() -> None:
    for bad in (b'{"a":1} x', b"{", b"", b"\xff"):
        with pytest.raises(ValueError):
            loads(bad)


def _lines_reference(block: bytes) -> bytes:
    return b"\n".join(
        line[6:] if line.startswith(b"data: ") else line[5:] for line in block.split(b"\n") if line.startswith(b"data:")
    )


LINES = [
    b"data: {}",
    b"data:x",
    b"event: a",
    b": ping",
    b"id: 3",
    b"data: ",
    b"data:",
    b"retry: 1",
    b"dat",
    b"xdata: q",
]


@given(st.lists(st.sampled_from(LINES), min_size=1, max_size=5))
def test_block_data_reads_every_data_line(lines: list[bytes]) -> None:
    block = b"\n".join(lines)
    assert block_data(block) == _lines_reference(block)


@given(
    st.lists(st.sampled_from([b"data: a\n\n", b"event: x\r\ndata: y\r\n\r\n", b"\n", b"data: z\n", b"\r\n"])), st.data()
)
def test_framer_gives_the_same_blocks_however_the_stream_is_cut(pieces: list[bytes], data: st.DataObject) -> None:
    raw = b"".join(pieces)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=4)))
    chunks = [raw[i:j] for i, j in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    framer, got = SSEFramer(), []
    for chunk in chunks:
        got += framer.feed(chunk)
    got += framer.flush()
    whole = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    *blocks, rest = whole.split(b"\n\n")
    assert got == [b for b in blocks if b.strip(b"\n")] + ([rest] if rest.strip() else [])


@pytest.mark.parametrize("client", [c for c in CLIENTS if c != "openai_chat"])
def test_lone_surrogate_in_an_upstream_delta_is_escaped_not_fatal(client: str) -> None:
    """An upstream that splits an emoji's escape pair across two deltas sends lone surrogates; they
    cannot be UTF-8, so they are sent \\u-escaped (the client rejoins them) instead of ending the stream."""
    tr = get_translator(client, "openai_chat")
    assert tr is not None
    tr.request(client_body(client, "text", stream=True), model="gpt-4o", stream=True)
    stream = tr.stream("Smart")
    out = b""
    for piece in ("a\ud83d", "\ude00b"):
        out += stream.feed({"id": "c", "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
    out += stream.finish()
    out.decode("utf-8")  # valid UTF-8 throughout
    assert collect(client, out).text == "a\ud83d\ude00b"


def _upstream_frames(upstream: str, script: Script) -> list[bytes]:
    if upstream == "openai_chat":
        return chat_frames(script, {"model": "gpt-4o", "stream_options": {"include_usage": True}})
    if upstream == "anthropic":
        return MessageRenderer(script, {"model": "claude-sonnet-4-5"}).frames()
    return [sse(c, crlf=True) for c in GeminiRenderer(script, "gemini-2.5-flash", {}).chunks()]


@pytest.mark.parametrize("upstream", ["openai_chat", "anthropic", "gemini"])
def test_translated_stream_reports_the_usage_a_tap_would(upstream: str) -> None:
    """The relay reads usage from the translator's own decoding: the same numbers as the pass-through tap,
    with no second parse of the usage event."""
    script = Script(text="Hello there, friend.", chunks=4, usage=Usage(120, 30, 20, 5, 4), edge_cases=True)
    frames = _upstream_frames(upstream, script)
    tap = StreamTap(upstream)
    client = "openai_responses" if upstream != "openai_chat" else "anthropic"
    tr = get_translator(client, upstream)
    assert tr is not None
    tr.request(client_body(client, "text", stream=True), model="m", stream=True)
    relay = TranslatedStream(tr.stream("Smart"))
    out = b""
    rng = random.Random(7)
    raw = b"".join(frames)
    cuts = sorted(rng.sample(range(len(raw)), 12))
    for chunk in (raw[i:j] for i, j in zip([0, *cuts], [*cuts, len(raw)], strict=True)):
        tap.feed(chunk)
        out += relay.feed(chunk)
    tap.finish()
    out += relay.finish()
    assert relay.usage == tap.usage and relay.usage is not None and relay.usage.input_tokens == 120
    assert relay.error is None
    assert collect(client, out).text == "Hello there, friend."


def test_translated_stream_remembers_an_upstream_error() -> None:
    tr = get_translator("anthropic", "openai_chat")
    assert tr is not None
    tr.request(client_body("anthropic", "text", stream=True), model="gpt-4o", stream=True)
    relay = TranslatedStream(tr.stream("Smart"))
    relay.feed(b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n')
    out = relay.feed(b'data: {"error":{"message":"boom","type":"server_error"}}\n\n')
    assert relay.error == (502, "boom")
    assert collect("anthropic", out + relay.finish()).error["message"] == "boom"


def test_gemini_history_of_streamed_thought_pieces_keeps_its_signature() -> None:
    """A Gemini client that streamed Anthropic thinking sends it back as several thought parts with the
    (wrapped) signature on a last, empty one, then the call: Anthropic must get one signed thinking block."""
    token = wrap(Sig(source="anthropic", signature="sig-anthropic"))
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "Weather?"}]},
            {
                "role": "model",
                "parts": [
                    {"text": "Let me ", "thought": True},
                    {"text": "check.", "thought": True},
                    {"text": "", "thought": True, "thought_signature": token.replace("+", "-").replace("/", "_")},
                    {"functionCall": {"id": "toolu_1", "name": "get_weather", "args": {"city": "Paris"}}},
                ],
            },
            {"role": "user", "parts": [{"functionResponse": {"id": "toolu_1", "name": "get_weather", "response": {}}}]},
        ],
        "generationConfig": {"thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": True}},
    }
    tr = get_translator("gemini", "anthropic")
    assert tr is not None
    up = tr.request(body, model="claude-sonnet-4-5", stream=False)
    assert up["messages"][1]["content"][0] == {
        "type": "thinking",
        "thinking": "Let me check.",
        "signature": "sig-anthropic",
    }
    assert up["thinking"] == {"type": "enabled", "budget_tokens": 2048}


def test_responses_failed_event_lists_what_was_streamed() -> None:
    tr = get_translator("openai_responses", "anthropic")
    assert tr is not None
    tr.request(client_body("openai_responses", "text", stream=True), model="claude-sonnet-4-5", stream=True)
    stream = tr.stream("Smart")
    script = Script(text="Partial", chunks=2, tool_calls=[ToolCall("get_weather", {"city": "Paris"})], arg_chunks=4)
    events = [json.loads(block_data(f.rstrip(b"\n"))) for f in MessageRenderer(script, {"model": "c"}).frames()]
    out = b"".join(stream.feed(e) for e in events[:-4])  # cut inside the call's arguments
    out += stream.fail("upstream went away")
    failed = collect("openai_responses", out).events[-1][1]["response"]
    message, call = failed["output"]
    assert message["content"][0]["text"] == "Partial" and message["status"] == "completed"
    assert call["status"] == "incomplete" and '{"city"' in call["arguments"]
