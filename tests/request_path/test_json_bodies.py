"""Request and reply bodies are decoded by msgspec with json's answer kept (dialects/json_decode.py).

The fast decoder must never change what the proxy accepts, what a body becomes, or the words of
its 400: every case here is compared with `json.loads` itself, and the bodies msgspec refuses but
`json` accepts still reach the upstream through a real engine.
"""

from __future__ import annotations

import json

import httpx
import pytest

from proxy_engine.dialects.json_decode import loads

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
