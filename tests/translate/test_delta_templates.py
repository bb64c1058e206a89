"""Token events read through byte templates (`translate/delta_templates.py`) mean what a full parse says.

Each stream is translated twice: once from the upstream's raw SSE bytes (the relay's path, where token
events that fit a learned template skip the full JSON parse) and once from the parsed event objects
(`StreamTranslator.feed`, which always decodes whole). The client sees the same stream either way.
"""

from __future__ import annotations

import json

import pytest

from proxy_engine.dialects.translated import TranslatedStream
from proxy_engine.translate import get_translator
from proxy_engine.translate.anthropic_stream import AnthropicStreamEncoder
from proxy_engine.translate.context import Context
from proxy_engine.translate.delta_templates import DeltaSpec, DeltaTemplates
from proxy_engine.translate.errors import UpstreamMalformed
from proxy_engine.translate.openai_chat_stream import ChatStreamEncoder
from tests.translate.kit import CLIENTS, collect

# Strings a template must carry exactly: escapes, non-ASCII raw and escaped, an emoji's surrogate pair
# split across two deltas (each half a lone surrogate), JSON punctuation and the key's own name.
TRICKY = [
    "Hello",
    "",
    ' "quoted" ',
    "back\\slash",
    "line\nbreak\ttab",
    "café ünïcode",
    "emoji 😀",
    "\ud83d",
    "\ude00",
    '"content": "x"}]} ',
    '"text":"y"',
    "</script>",
    "\u2028\u2029",
]


def sse(obj: dict, event: str | None = None, compact: bool = True) -> bytes:
    data = json.dumps(obj, separators=(",", ":") if compact else None, ensure_ascii=not compact)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode("utf-8", "backslashreplace")  # a lone surrogate as its JSON escape


def chat_stream(compact: bool) -> list[tuple[dict, str | None]]:
    base = {"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 7, "model": "gpt-4o", "usage": None}

    def chunk(delta: dict, reason: str | None = None) -> dict:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}]}

    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"reasoning_content": t}) for t in TRICKY[:5]]
    out += [chunk({"content": t}) for t in TRICKY]
    out.append(chunk({"content": "x", "refusal": None}))
    out.append(chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "ls"}}]}))
    out += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": a}}]}) for a in ('{"p', 'ath": "', '."}')]
    out.append(chunk({"content": "after the call"}))
    out.append(chunk({}, "stop"))
    out.append({**base, "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 22, "total_tokens": 33}})
    return [(e, None) for e in out]


def anthropic_stream(compact: bool) -> list[tuple[dict, str | None]]:
    def delta(index: int, kind: str, field: str, value: str) -> dict:
        return {"type": "content_block_delta", "index": index, "delta": {"type": kind, field: value}}

    start = {
        "type": "message_start",
        "message": {"id": "msg_9", "type": "message", "role": "assistant", "model": "claude-x", "content": [],
                    "stop_reason": None, "usage": {"input_tokens": 12, "output_tokens": 1}},
    }  # fmt: skip
    out = [start, {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}]
    out += [delta(0, "thinking_delta", "thinking", t) for t in TRICKY[:6]]
    out += [delta(0, "signature_delta", "signature", "c2ln"), {"type": "content_block_stop", "index": 0}]
    out.append({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}})
    out += [delta(1, "text_delta", "text", t) for t in TRICKY]
    out.append({"type": "content_block_stop", "index": 1})
    tool = {"type": "tool_use", "id": "toolu_9", "name": "write", "input": {}}
    out.append({"type": "content_block_start", "index": 2, "content_block": tool})
    out += [delta(2, "input_json_delta", "partial_json", a) for a in ('{"text', '": "a\\"b', '"}')]
    out.append({"type": "content_block_stop", "index": 2})
    out.append({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 40}})
    out.append({"type": "message_stop"})
    return [(e, e["type"]) for e in out]


def gemini_stream(compact: bool) -> list[tuple[dict, str | None]]:
    def chunk(text: str, usage: dict | None, finish: str | None = None) -> dict:
        cand: dict = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
        if finish:
            cand["finishReason"] = finish
        out = {"candidates": [cand], "modelVersion": "gemini-x", "responseId": "r9"}
        return {**out, "usageMetadata": usage} if usage else out

    first = {"promptTokenCount": 5, "totalTokenCount": 5}
    second = {"promptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 8}
    out = [chunk(t, first) for t in TRICKY]
    # Thinking between two text chunks: the text after it is text again, so a signature that follows
    # belongs to no thinking (Gemini puts a thought's signature on a later part).
    thought = chunk("", first)
    thought["candidates"][0]["content"]["parts"] = [{"text": "", "thought": True}]  # no thinking delta, yet
    signed = chunk("", first)
    signed["candidates"][0]["content"]["parts"] = [{"text": "", "thoughtSignature": "c2ln"}]
    out += [thought, chunk("plain", first), signed]
    # The usage changes, then changes back: a chunk that fits the first template is news again, and
    # with no usage on the last chunk the stream's usage is the one it changed back to.
    out += [chunk("more", second), chunk("again", second), chunk("back", first), chunk("", first)]
    out.append(chunk("end", None, "STOP"))
    return [(e, None) for e in out]


STREAMS = {"openai_chat": chat_stream, "anthropic": anthropic_stream, "gemini": gemini_stream}
CASES = [(c, u, compact) for u in STREAMS for c in CLIENTS if c != u for compact in (True, False)]


MADE_UP = {"id", "created", "created_at", "responseId", "item_id"}


def without_made_up(value: object) -> object:
    if isinstance(value, dict):
        return {k: without_made_up(v) for k, v in value.items() if k not in MADE_UP}
    if isinstance(value, list):
        return [without_made_up(v) for v in value]
    return value


def normalised(client: str, raw: bytes) -> list:
    """The client's events with the ids and timestamps each translator makes up itself taken out."""
    return [without_made_up(data) for _, data in collect(client, raw).events]


@pytest.mark.parametrize(("client", "upstream", "compact"), CASES)
def test_raw_bytes_and_parsed_events_translate_alike(client: str, upstream: str, compact: bool) -> None:
    events = STREAMS[upstream](compact)
    from_bytes = TranslatedStream(get_translator(client, upstream).stream("m"))
    raw = b"".join(from_bytes.feed(sse(e, name, compact)) for e, name in events) + from_bytes.finish()
    from_objects = get_translator(client, upstream).stream("m")
    parsed = b"".join(from_objects.feed(e) for e, _ in events) + from_objects.finish()
    assert normalised(client, raw) == normalised(client, parsed)
    assert from_bytes.usage is not None and from_bytes.usage.as_dict() == from_objects.usage
    assert "".join(TRICKY) in collect(client, raw).text  # every string arrived whole, in order


def chat_data(content: str, prefix: str = "") -> bytes:
    obj = {"id": "c", "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}
    return (prefix + json.dumps(obj)).encode()


def learned(data: bytes) -> DeltaTemplates:
    templates = DeltaTemplates()
    templates.learn(data, json.loads(data), DeltaSpec("content", ("choices", 0, "delta", "content")))
    return templates


def test_a_template_reads_the_string_of_an_event_with_the_same_bytes_around_it() -> None:
    templates = learned(chat_data("first"))
    hit = templates.match(chat_data('a "quoted" \\ é 😀'))
    assert hit is not None and hit[1] == 'a "quoted" \\ é 😀'
    assert templates.match(chat_data("x").replace(b'"id": "c"', b'"id": "d"')) is None  # other bytes around it
    assert templates.match(chat_data("x").replace(b'"x"', b"null")) is None  # not a string there
    assert templates.match(chat_data("x").replace(b'"x"', b'"x" "y"')) is None  # two literals: the parser decides
    assert templates.match(chat_data("x").replace(b'"x"', b'"\xff"')) is None  # not UTF-8


def test_no_template_is_kept_where_the_string_is_not_the_one_the_spec_names() -> None:
    """A key named `x"content` holding the same string comes first in the bytes: the seam check refuses it."""
    obj = {'x"content': "tok", "choices": [{"index": 0, "delta": {"content": "tok"}, "finish_reason": None}]}
    data = json.dumps(obj).encode()
    templates = DeltaTemplates()
    templates.learn(data, obj, DeltaSpec("content", ("choices", 0, "delta", "content")))
    assert templates.match(data) is None
    # An event whose string is the probe's own marker proves nothing about where the string is.
    assert learned(chat_data("#~%")).match(chat_data("other")) is None
    assert learned(chat_data("#~")).match(chat_data("other")) is not None


def test_an_event_that_fits_a_template_but_is_not_json_still_ends_the_stream_as_malformed() -> None:
    stream = TranslatedStream(get_translator("anthropic", "openai_chat").stream("m"))
    stream.feed(b"data: " + chat_data("one") + b"\n\n")
    broken = chat_data("two").replace(b'"two"', b'"two\\q"')  # an invalid escape between the template's bytes
    with pytest.raises(UpstreamMalformed):
        stream.feed(b"data: " + broken + b"\n\n")


def test_byte_rendered_frames_equal_the_payloads_they_stand_for() -> None:
    """Frames rendered from byte templates are what dumping their payload gives, byte for byte."""
    enc = AnthropicStreamEncoder(Context(client="anthropic", upstream="openai_chat"), "claude-é")
    enc.usage.input_tokens = 9
    message = {"id": enc.id, "type": "message", "role": "assistant", "model": "claude-é", "content": [],
               "stop_reason": None, "stop_sequence": None,
               "usage": {"input_tokens": 9, "output_tokens": 0, "cache_creation_input_tokens": 0,
                         "cache_read_input_tokens": 0}}  # fmt: skip
    assert enc.on_start() == enc._event("message_start", {"type": "message_start", "message": message})
    block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert enc.open_text() == enc._event("content_block_start", block)
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": 'a"\n😀'}}
    assert enc.text('a"\n😀') == enc._event("content_block_delta", delta)
    assert enc.close_text() == enc._event("content_block_stop", {"type": "content_block_stop", "index": 0})
    enc.usage.cache_read_tokens, enc.usage.cache_write_tokens, enc.usage.output_tokens = 3, 2, 40
    usage = {"input_tokens": 4, "output_tokens": 40, "cache_creation_input_tokens": 2, "cache_read_input_tokens": 3}
    end = {"type": "message_delta", "delta": {"stop_reason": "max_tokens", "stop_sequence": None}, "usage": usage}
    stop = enc._event("message_stop", {"type": "message_stop"})
    assert enc.on_end("length") == enc._event("message_delta", end) + stop
    enc.stop_sequence = 'END"é'
    end["delta"] = {"stop_reason": "stop_sequence", "stop_sequence": 'END"é'}
    assert enc.on_end("stop") == enc._event("message_delta", end) + stop

    chat = ChatStreamEncoder(Context(client="openai_chat", upstream="anthropic"), "gpt-é")
    assert chat.on_start() == chat._chunk({"role": "assistant", "content": ""})
    assert chat.on_end("length").startswith(chat._chunk({}, "length"))
