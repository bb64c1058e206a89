"""Plain text deltas read as whole SSE blocks (`dialects/text_blocks.py`) give the client the same stream.

The relay's path (`TranslatedStream` over raw upstream bytes, in one-event, coalesced and CRLF chunks)
is compared with the parsed events fed to a translator that has no templates at all. Strings that need
an escape, non-ASCII text and bytes that are not UTF-8 must take the payload path and still mean the same.
"""

from __future__ import annotations

import json

import pytest

from proxy_engine.dialects.text_blocks import TextBlockTemplate
from proxy_engine.dialects.translated import TranslatedStream
from proxy_engine.translate import get_translator
from proxy_engine.translate.delta_templates import DeltaSpec
from proxy_engine.translate.errors import UpstreamMalformed
from tests.translate.kit import CLIENTS, collect
from tests.translate.test_delta_templates import STREAMS, TRICKY, normalised, sse

PLAIN = ["tok ", "café ", "😀", "", "a b c", "</script>", "\u2028"]


def texts_stream(upstream: str) -> list[tuple[dict, str | None]]:
    """The upstream's stream from test_delta_templates, with a run of plain deltas added to each text part."""
    events = STREAMS[upstream](True)
    out: list[tuple[dict, str | None]] = []
    for event, name in events:
        out.append((event, name))
        text = _text_of(upstream, event)
        if text is not None and text == "Hello":  # the first text delta: plain ones follow, many of them
            for word in PLAIN * 3:
                out.append((_with_text(upstream, event, word), name))
    return out


def _text_of(upstream: str, event: dict) -> str | None:
    try:
        if upstream == "openai_chat":
            return event["choices"][0]["delta"].get("content")
        if upstream == "anthropic":
            return event["delta"]["text"] if event["type"] == "content_block_delta" else None
        return event["candidates"][0]["content"]["parts"][0]["text"]
    except (KeyError, IndexError, TypeError):
        return None


def _with_text(upstream: str, event: dict, text: str) -> dict:
    event = json.loads(json.dumps(event))
    if upstream == "openai_chat":
        event["choices"][0]["delta"]["content"] = text
    elif upstream == "anthropic":
        event["delta"]["text"] = text
    else:
        event["candidates"][0]["content"]["parts"][0]["text"] = text
    return event


def chunked(raw: list[bytes], how: str) -> list[bytes]:
    if how == "one event a chunk":
        return raw
    whole = b"".join(raw)
    if how == "crlf":
        return [r.replace(b"\n", b"\r\n") for r in raw]
    size = 97 if how == "odd chunks" else 4096
    return [whole[i : i + size] for i in range(0, len(whole), size)]


CASES = [(c, u, how) for u in STREAMS for c in CLIENTS if c != u
         for how in ("one event a chunk", "odd chunks", "coalesced", "crlf")]  # fmt: skip


@pytest.mark.parametrize(("client", "upstream", "how"), CASES)
def test_text_read_from_whole_blocks_means_what_the_parsed_events_say(client: str, upstream: str, how: str) -> None:
    events = texts_stream(upstream)
    relay = TranslatedStream(get_translator(client, upstream).stream("m"))
    raw = b"".join(relay.feed(c) for c in chunked([sse(e, name) for e, name in events], how)) + relay.finish()
    parsed = get_translator(client, upstream).stream("m")
    reference = b"".join(parsed.feed(e) for e, _ in events) + parsed.finish()
    assert normalised(client, raw) == normalised(client, reference)
    assert relay.usage is not None and relay.usage.as_dict() == parsed.usage
    assert "Hello" + "".join(PLAIN * 3) + "".join(TRICKY[1:]) in collect(client, raw).text  # whole, in order
    assert relay._text is not None, "the plain deltas were read as whole blocks"  # the path under test ran


def _spec(data: bytes) -> DeltaSpec:
    spec = DeltaSpec("content", ("choices", 0, "delta", "content"), text_only=True)
    cut = data.index(b'"tok"')
    spec.prefix, spec.suffix = data[:cut], data[cut + len(b'"tok"') :]
    return spec


DATA = b'{"choices":[{"index":0,"delta":{"content":"tok"}}]}'


def test_a_block_template_reads_only_literals_that_need_no_escape() -> None:
    spec = _spec(DATA)
    template = TextBlockTemplate.learn(b"event: x\ndata: " + DATA, DATA, spec)
    assert template is not None
    block = b"event: x\ndata: " + DATA
    assert template.literal(block) == b'"tok"'
    assert template.literal(block.replace(b'"tok"', '"é 😀"'.encode())) == '"é 😀"'.encode()
    assert template.literal(block.replace(b'"tok"', b'"a\\"b"')) is None  # an escape: the payload path decides
    assert template.literal(block.replace(b'"tok"', b'"a\tb"')) is None  # a raw control character is not JSON
    assert template.literal(block.replace(b'"tok"', b'"\xff"')) is None  # not UTF-8
    assert template.literal(block.replace(b'"tok"', b'"a" "b"')) is None  # two literals
    assert template.literal(block.replace(b'"tok"', b"null")) is None
    assert template.literal(block.replace(b"event: x", b"event: y")) is None


def test_no_block_template_where_the_payload_is_not_the_blocks_only_and_last_data_line() -> None:
    spec = _spec(DATA)
    assert TextBlockTemplate.learn(b"data: " + DATA, DATA, spec) is not None
    assert TextBlockTemplate.learn(b"data:" + DATA, DATA, spec) is not None
    assert TextBlockTemplate.learn(b"data: x\ndata: " + DATA, DATA, spec) is None  # two data lines join
    assert TextBlockTemplate.learn(b"data: x\nevent: e\ndata: " + DATA, DATA, spec) is None
    assert TextBlockTemplate.learn(b"id: 1\nretry: 5\ndata: " + DATA, DATA, spec) is not None
    assert TextBlockTemplate.learn(b"data: " + DATA + b"\nid: 1", DATA, spec) is None  # the payload is not last
    assert TextBlockTemplate.learn(b"comment: " + DATA, DATA, spec) is None


def test_a_block_that_fits_but_holds_an_invalid_escape_still_ends_the_stream_as_malformed() -> None:
    stream = TranslatedStream(get_translator("anthropic", "openai_chat").stream("m"))
    for word in ("one", "two", "three"):
        stream.feed(b"data: " + DATA.replace(b"tok", word.encode()) + b"\n\n")
    assert stream._text is not None
    with pytest.raises(UpstreamMalformed):
        stream.feed(b"data: " + DATA.replace(b'"tok"', b'"two\\q"') + b"\n\n")


def _token(word: str) -> bytes:
    return b"data: " + DATA.replace(b"tok", word.encode()) + b"\n\n"


def test_a_chunk_is_read_as_one_event_only_when_it_is_one_and_nothing_is_held_back() -> None:
    stream = TranslatedStream(get_translator("anthropic", "openai_chat").stream("m"))
    out = stream.feed(_token("one")) + stream.feed(_token("two"))
    assert stream._text is not None  # from here on a token's chunk is read without framing
    out += stream.feed(_token("a") + _token("b"))  # two events, short enough to be tried as one
    out += stream.feed(_token("c").replace(b"\n\n", b"\r\n\r\n"))  # CRLF-framed, one line
    out += stream.feed(b"data: " + DATA[:20])  # half an event: the framer holds it
    with pytest.raises(UpstreamMalformed):  # joined with the half, this chunk is no event of its own
        stream.feed(_token("d"))
    got = collect("anthropic", out + stream.finish())
    assert got.text == "onetwoabc"
    assert stream.events == 6
