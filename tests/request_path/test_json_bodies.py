"""Request and reply bodies are decoded by msgspec with json's answer kept (dialects/json_decode.py).

The fast decoder must never change what the proxy accepts, what a body becomes, or the words of
its 400: every case here is compared with `json.loads` itself, and the bodies msgspec refuses but
`json` accepts still reach the upstream through a real engine.
"""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from msgspec import UNSET

from proxy_engine.dialects.json_decode import loads, read_head
from proxy_engine.request_path.errors import ProxyError
from proxy_engine.request_path.exchange import Exchange

ACCEPTED = [
    b'{"model": "m", "messages": [{"role": "user", "content": "caf\\u00e9 \\ud83d\\ude00"}]}',
    b'{"a": NaN, "b": Infinity, "c": -Infinity}',  # json accepts these; msgspec does not
    b'{"a": 1e999}',  # beyond a double: json says inf
    b'{"a": "cut emoji \\ud83d"}',  # a lone surrogate escape, as a JS string cut mid-emoji gives
    b'{"a": 123456789012345678901234567890, "b": -0.0, "c": 1.5e-7}',
    b'{"a": 1, "a": 2}',  # the last duplicate wins in both
    '{"a": "é"}'.encode("utf-16"),  # json sniffs UTF-16 from the BOM
    b'  \n{"a": [true, false, null, {}, []]}\t ',
    '{"ünï": "cödé 中文"}'.encode(),
]
REFUSED = [b'{"model": "gpt-4o", ', b'{"a": 1} x', b'{"a": "\xff"}', b"", b"{'a': 1}", b'{"a": 01}', b"[1,]"]


@pytest.mark.parametrize("raw", ACCEPTED)
def test_accepted_bodies_decode_exactly_as_json_does(raw):
    got, want = loads(raw), json.loads(raw)
    assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)  # NaN compares unequal to itself
    assert repr(got) == repr(want)


@pytest.mark.parametrize("raw", REFUSED)
def test_refused_bodies_raise_what_json_raises(raw):
    with pytest.raises(ValueError) as ours:
        loads(raw)
    with pytest.raises(ValueError) as theirs:
        json.loads(raw)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)


def test_nesting_too_deep_is_a_recursion_error_as_with_json():
    with pytest.raises(RecursionError):
        loads(b"[" * 200_000 + b"]" * 200_000)


def test_an_agent_sized_body_decodes_to_the_same_objects():
    turns = [{"role": "user" if i % 2 else "assistant", "content": [{"type": "text", "text": f"turn {i} é 😀 " * 50}]}
             for i in range(400)]  # fmt: skip
    raw = json.dumps({"model": "Smart", "max_tokens": 32, "messages": turns}).encode()
    assert len(raw) > 500_000
    assert loads(raw) == json.loads(raw)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b'{"model": "Smart", "max_tokens": 32, "messages": [{"role": "user", "content": "cut emoji \\ud83d"}]}', 200),
        # The fake refuses a NaN temperature as Anthropic does: its own 400 reaches the client, not the proxy's.
        (
            b'{"model": "Smart", "max_tokens": 32, "temperature": NaN, "messages": [{"role": "user", "content": "x"}]}',
            400,
        ),
    ],
)
def test_bodies_only_json_accepts_still_reach_the_upstream_unchanged(engine, fakes, raw, status):
    r = httpx.post(engine.url + "/v1/messages", content=raw,
                   headers={"anthropic-version": "2023-06-01", "content-type": "application/json"})  # fmt: skip
    assert r.status_code == status, r.text
    if status == 400:
        assert r.json()["error"]["message"] == "temperature: range: 0..1"
    assert fakes[1].last_request.body == raw.replace(b'"model": "Smart"', b'"model": "claude-sonnet-4-6"')


def test_a_malformed_body_gets_json_s_own_words(engine):
    r = httpx.post(engine.url + "/v1/messages", content=b'{"model": "Smart", ',
                   headers={"anthropic-version": "2023-06-01", "content-type": "application/json"})  # fmt: skip
    assert r.status_code == 400
    want = None
    try:
        json.loads(b'{"model": "Smart", ')
    except ValueError as e:
        want = str(e)
    assert r.json()["error"]["message"] == f"the request body is not valid JSON: {want}"


def test_a_stream_that_turned_usage_off_still_goes_upstream_as_the_routed_model(engine, fakes):
    """`stream_options` without include_usage is re-encoded with it: from the rewritten bytes, not the client's
    own body, so the upstream gets `gpt-4o-mini` and not the friendly name `Rush` (it got `Rush` before)."""
    client = openai.OpenAI(base_url=engine.url + "/v1", api_key="unused")
    chunks = list(client.chat.completions.create(model="Rush", messages=[{"role": "user", "content": "hi"}],
                                                 stream=True, stream_options={"include_usage": False}))  # fmt: skip
    assert chunks and all(c.usage is None for c in chunks)
    sent = fakes[0].last_request.json
    assert sent["model"] == "gpt-4o-mini"
    assert sent["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    ("raw", "head"),
    [
        (b'{"messages": [], "model": "m", "stream": true}', ("m", True, UNSET)),
        (
            b'{"model": "a", "stream_options": {"include_usage": false}, "model": "b"}',
            ("b", None, {"include_usage": False}),
        ),
        (b'{"model": 5, "stream": "yes", "stream_options": null}', (5, "yes", None)),
        (b'{"model": "m", "temperature": NaN}', ("m", None, UNSET)),  # json's parse: the whole body comes with it
        (b'{"model": "m", "x": "\\ud83d", "stream_options": null}', ("m", None, None)),
    ],
)
def test_the_head_is_what_the_whole_parse_says(raw, head):
    got, whole = read_head(raw)
    assert (got.model, got.stream, got.stream_options) == head
    want = json.loads(raw)
    assert whole is None or repr(whole) == repr(want)
    assert (whole is None) == (b"NaN" not in raw and b"\\ud83d" not in raw)  # msgspec read it: nothing built


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"3", b"null"])
def test_json_that_is_not_an_object_has_no_head(raw):
    assert read_head(raw) == (None, json.loads(raw))


def test_invalid_utf8_inside_a_skipped_string_is_still_refused():
    """msgspec passes over the bytes of a string it skips; the body is still refused as json refuses it."""
    raw = b'{"messages": [{"content": "caf\xc3 \xff"}], "model": "m"}'
    with pytest.raises(UnicodeDecodeError):
        json.loads(raw)
    with pytest.raises(UnicodeDecodeError):
        read_head(raw)


def test_a_pass_through_forwards_an_agent_sized_turn_byte_for_byte(engine, fakes):
    turns = [
        {"role": ("user", "assistant")[i % 2], "content": f"turn {i}: caf\u00e9 \U0001f600 " * 20} for i in range(41)
    ]  # fmt: skip (under this engine's max_body_mb)
    raw = json.dumps({"max_tokens": 32, "messages": turns, "model": "Smart"}).encode()
    r = httpx.post(engine.url + "/v1/messages", content=raw,
                   headers={"anthropic-version": "2023-06-01", "content-type": "application/json"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert fakes[1].last_request.body == raw.replace(b'"model": "Smart"', b'"model": "claude-sonnet-4-6"')


def test_an_explicit_null_stream_options_still_gets_the_usage_chunk(engine, fakes):
    """`"stream_options": null` is not "absent": a key spliced in front would lose to the client's null, the
    upstream would send no usage and the call would be recorded without tokens or cost."""
    raw = b'{"model": "Rush", "stream": true, "stream_options": null, "messages": [{"role": "user", "content": "hi"}]}'
    with httpx.stream("POST", engine.url + "/v1/chat/completions", content=raw,
                      headers={"content-type": "application/json"}) as r:  # fmt: skip
        assert r.status_code == 200
        body = r.read()
    assert b'"usage"' not in body.replace(b'"usage":null', b"")  # the usage chunk the proxy asked for stays hidden
    sent = fakes[0].last_request.json
    assert sent["model"] == "gpt-4o-mini" and sent["stream_options"] == {"include_usage": True}


def test_a_body_too_deep_for_a_deeper_stack_is_a_400_not_a_crash():
    """The head was read near the top of the stack; the whole body may be parsed much deeper (an embeddings
    relay): a RecursionError there is the client's 400, not the proxy's 500."""
    depth = 800  # readable near the top of the stack (the limit is 1000 frames), not 500 frames down
    raw = b'{"model": "m", "x": ' + b"[" * depth + b"]" * depth + b"}"
    head, whole = read_head(raw)
    assert head is not None and head.model == "m" and whole is None
    ex = Exchange(None, None, None, None, raw, head)  # type: ignore[arg-type]  # only raw and head are read

    def deep(n: int) -> object:
        return deep(n - 1) if n else ex.body

    with pytest.raises(ProxyError) as err:
        deep(500)
    assert err.value.status == 400 and "nested too deeply" in err.value.message
