"""Upstream faults (issue #17): nothing failed counts as a success, every failure before the client's
first byte fails over, and a hung upstream is cut by the first-byte and idle timeouts.

A real engine subprocess in front of the real fake upstream servers; small timeouts so a hang is
quick to see. `Rush` fails over from openai/gpt-4o-mini to anthropic/claude-haiku-4-5.
"""

from __future__ import annotations

import time

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from tests.engine_harness import EngineProcess, free_port
from tests.fakes import parse_sse

CHAT = "/v1/chat/completions"
MSGS = "/v1/messages"
ASK = [{"role": "user", "content": "x"}]
TIMEOUTS = "first_byte_timeout_s: 1.0, idle_timeout_s: 1.0"


@pytest.fixture(scope="module")
def engine(fakes):
    fo, fa, fg = fakes
    port = free_port()
    cfg = f"""port: {port}
providers:
  openai: {{base_url: "{fo.base_url}", api_key: env:OK, {TIMEOUTS}}}
  anthropic: {{base_url: "{fa.base_url}", api_key: env:AK, {TIMEOUTS}}}
  gemini: {{base_url: "{fg.base_url}", api_key: env:GK, {TIMEOUTS}}}
models:
  Rush: ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"]
"""
    with EngineProcess(cfg, port) as eng:
        yield eng


_BEFORE: dict[str, str | None] = {}


@pytest.fixture(autouse=True)
def _newest_row_before(engine):
    rows = engine.records(1)
    _BEFORE["id"] = rows[0]["id"] if rows else None


def _row(engine: EngineProcess) -> dict:
    """The row of this test's request: the handler records it just after the client's last byte."""
    deadline = time.time() + 5
    rows = engine.records(1)
    while time.time() < deadline and (not rows or rows[0]["id"] == _BEFORE["id"]):
        time.sleep(0.05)
        rows = engine.records(1)
    assert rows and rows[0]["id"] != _BEFORE["id"], "the request was not recorded"
    return rows[0]


def _cooldowns(engine: EngineProcess, provider: str) -> list[dict]:
    """The provider's cooldowns; they are written off the request path, so poll briefly."""
    deadline = time.time() + 5
    while True:
        status = engine.api("GET", "/v0/auth/status").json()
        found = [c for p in status["providers"] if p["name"] == provider for cred in p["credentials"]
                 for c in cred["cooldowns"]]  # fmt: skip
        if found or time.time() > deadline:
            return found
        time.sleep(0.05)


def _chat(engine: EngineProcess, model: str, stream: bool) -> httpx.Response:
    body = {"model": model, "messages": ASK, "stream": stream}
    return httpx.post(engine.url + CHAT, json=body, timeout=20)


# ----- 17: a reply the engine cannot read is a 502 in the caller's dialect, a failure, a cooldown -----


@pytest.mark.parametrize("model", ["gpt-4o", "claude-haiku-4-5"], ids=["same-dialect", "translated"])
def test_a_stream_of_non_json_events_is_a_502_failure_that_cools_down(engine, fakes, model):
    for f in fakes:
        f.script(garbage_after=0)
    client = openai.OpenAI(base_url=engine.url + "/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.APIStatusError) as exc:
        for _ in client.chat.completions.create(model=model, messages=ASK, stream=True):
            pass
    assert exc.value.status_code == 502 and "cannot read" in exc.value.message
    row = _row(engine)
    assert row["status"] == 502 and row["error"]["code"] == "upstream_malformed" and row["output_tokens"] == 0
    provider = "openai" if model == "gpt-4o" else "anthropic"
    assert [c["model"] for c in _cooldowns(engine, provider)] == [model]


@pytest.mark.parametrize("model", ["gpt-4o", "claude-haiku-4-5"], ids=["same-dialect", "translated"])
def test_a_non_json_event_after_bytes_were_sent_ends_the_stream_with_an_error_event(engine, fakes, model):
    for f in fakes:
        f.script(text="a b c d e f", chunks=6, garbage_after=5, chunk_delay=0.05)
    r = _chat(engine, model, stream=True)
    assert r.status_code == 200
    events = parse_sse(r.content)
    last = events[-1][1]
    assert isinstance(last, dict) and "cannot read" in last["error"]["message"]
    assert all(data != "this is not json {" for _, data in events), "the broken event is not relayed"
    row = _row(engine)
    assert row["status"] == 502 and row["error"]["code"] == "upstream_malformed"
    assert row["output_tokens"] > 0, "what reached the client is counted"
    assert _cooldowns(engine, "openai" if model == "gpt-4o" else "anthropic")


def test_anthropic_sdk_gets_a_typed_error_for_a_broken_stream(engine, fakes):
    fakes[1].script(text="a b c d e f", chunks=6, garbage_after=3, chunk_delay=0.05)
    client = anthropic.Anthropic(base_url=engine.url, api_key="unused", max_retries=0)
    with (
        pytest.raises(anthropic.APIStatusError) as exc,
        client.messages.stream(model="claude-haiku-4-5", max_tokens=5, messages=ASK) as s,
    ):
        s.get_final_text()
    assert "cannot read" in str(exc.value)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_google_genai_gets_a_typed_502_for_an_unreadable_reply(engine, fakes, stream):
    fakes[2].script(garbage_after=0) if stream else fakes[2].script(raw_body=b"<html>oops</html>")
    client = genai.Client(api_key="unused", http_options=types.HttpOptions(base_url=engine.url))
    with pytest.raises(genai_errors.ServerError) as exc:
        if stream:
            for _ in client.models.generate_content_stream(model="gemini-2.5-flash", contents="x"):
                pass
        else:
            client.models.generate_content(model="gemini-2.5-flash", contents="x")
    assert exc.value.code == 502
    assert "cannot read" in str(exc.value) or "not JSON" in str(exc.value)
    assert _row(engine)["error"]["code"] == "upstream_malformed"


@pytest.mark.parametrize("model", ["gpt-4o", "claude-haiku-4-5"], ids=["same-dialect", "translated"])
def test_a_whole_reply_that_is_not_json_is_a_502_in_the_callers_dialect(engine, fakes, model):
    for f in fakes:
        f.script(raw_body=b"<html>upstream gateway page</html>")
    client = anthropic.Anthropic(base_url=engine.url, api_key="unused", max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as exc:
        client.messages.create(model=model, max_tokens=5, messages=ASK)
    assert exc.value.status_code == 502 and exc.value.body["error"]["type"] == "api_error"
    row = _row(engine)
    assert row["status"] == 502 and row["error"]["code"] == "upstream_malformed"
    assert _cooldowns(engine, "openai" if model == "gpt-4o" else "anthropic")


@pytest.mark.parametrize(
    ("fault", "stream"),
    [
        ({"raw_body": b"{not json"}, False),
        ({"body": [1, 2]}, False),
        ({"raw_body": b"[" * 100_000 + b"]" * 100_000}, False),  # valid JSON no parser can nest that deep
        ({"garbage_after": 0}, True),
    ],
    ids=["not-json", "not-an-object", "too-deep", "non-json-event"],
)
def test_an_unreadable_reply_fails_over_to_the_next_candidate(engine, fakes, fault, stream):
    fakes[0].script(**fault)
    client = openai.OpenAI(base_url=engine.url + "/v1", api_key="unused", max_retries=0)
    if stream:
        chunks = client.chat.completions.create(model="Rush", messages=ASK, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        text = client.chat.completions.create(model="Rush", messages=ASK).choices[0].message.content
    assert text == "Hello from claude-haiku-4-5!"
    row = _row(engine)
    assert row["status"] == 200 and row["provider"] == "anthropic" and row["attempts"] == 2
    assert _cooldowns(engine, "openai"), "the credential that sent the broken reply cools down"


def test_an_untranslatable_whole_reply_fails_over(engine, fakes):
    fakes[1].script(body=["not", "a", "message"])  # Anthropic answering an OpenAI client
    client = openai.OpenAI(base_url=engine.url + "/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.APIStatusError) as exc:
        client.chat.completions.create(model="claude-haiku-4-5", messages=ASK)
    assert exc.value.status_code == 502
    assert _row(engine)["error"]["code"] == "upstream_malformed"
    assert _cooldowns(engine, "anthropic")


# ----- 18: a failure after the upstream's first bytes but before the client's fails over -----


def test_a_whole_reply_dropped_midway_fails_over(engine, fakes):
    fakes[0].script(drop_after=1)  # headers and half the body, then the connection is cut
    r = _chat(engine, "Rush", stream=False)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "Hello from claude-haiku-4-5!"
    row = _row(engine)
    assert row["provider"] == "anthropic" and row["attempts"] == 2
    assert _cooldowns(engine, "openai")


def test_a_whole_reply_dropped_midway_is_recorded_as_a_disconnect(engine, fakes):
    fakes[0].script(drop_after=1)
    r = _chat(engine, "gpt-4o", stream=False)
    assert r.status_code == 502 and "dropped" in r.json()["error"]["message"]
    row = _row(engine)
    assert row["status"] == 502 and row["error"]["code"] == "upstream_disconnected"


def test_a_success_is_reported_only_for_a_good_reply(engine, fakes):
    """A broken reply with a 200 status must not clear the cooldown a previous failure left."""
    fo = fakes[0]
    fo.script(status=500)
    assert _chat(engine, "gpt-4o", stream=False).status_code == 500
    assert _cooldowns(engine, "openai")
    engine.clear_cooldowns()
    fo.script(raw_body=b"nope")
    assert _chat(engine, "gpt-4o", stream=False).status_code == 502
    cools = _cooldowns(engine, "openai")
    assert cools and cools[0]["status"] == 502


# ----- 20: first-byte and idle timeouts -----


@pytest.mark.parametrize(
    ("fault", "stream"),
    [({"delay": 5}, True), ({"stall_after": 0}, True), ({"delay": 5}, False)],
    ids=["no-headers-stream", "headers-no-body-stream", "no-headers-whole"],
)
def test_an_upstream_that_hangs_before_the_first_byte_times_out_with_504(engine, fakes, fault, stream):
    fakes[0].script(**fault)
    r = _chat(engine, "gpt-4o", stream=stream)
    assert r.status_code == 504
    assert r.json()["error"]["code"] == "upstream_timeout"
    row = _row(engine)
    assert row["status"] == 504 and row["error"]["code"] == "upstream_timeout"
    assert _cooldowns(engine, "openai")


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
def test_a_hung_upstream_fails_over_before_the_first_byte(engine, fakes, stream):
    fakes[0].script(stall_after=0) if stream else fakes[0].script(delay=5)
    client = openai.OpenAI(base_url=engine.url + "/v1", api_key="unused", max_retries=0)
    if stream:
        chunks = client.chat.completions.create(model="Rush", messages=ASK, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        text = client.chat.completions.create(model="Rush", messages=ASK).choices[0].message.content
    assert text == "Hello from claude-haiku-4-5!"
    row = _row(engine)
    assert row["provider"] == "anthropic" and row["attempts"] == 2


def test_an_upstream_that_goes_silent_mid_stream_ends_with_an_error_event(engine, fakes):
    fakes[1].script(text="a b c d e f", chunks=6, stall_after=4)
    r = httpx.post(engine.url + MSGS, json={"model": "claude-haiku-4-5", "max_tokens": 5, "messages": ASK,
                                            "stream": True}, timeout=20)  # fmt: skip
    assert r.status_code == 200
    event, data = parse_sse(r.content)[-1]
    assert event == "error" and data["error"]["type"] == "timeout_error"
    row = _row(engine)
    assert row["status"] == 504 and row["error"]["code"] == "upstream_timeout"


# ----- 21: a cut stream is billed for what was relayed -----


def test_a_dropped_stream_counts_the_tokens_that_reached_the_client(engine, fakes):
    fakes[0].script(text="a b c d e f g h", chunks=8, drop_after=6)
    r = _chat(engine, "gpt-4o", stream=True)
    assert r.status_code == 200
    row = _row(engine)
    assert row["error"]["code"] == "upstream_disconnected"
    assert row["output_tokens"] == 5 and "estimated" in row["error"]["message"]


def test_a_dropped_anthropic_stream_keeps_its_input_tokens_and_estimates_its_output(engine, fakes):
    fakes[1].script(text="a b c d e f g h", chunks=8, drop_after=7)  # start, block start, ping, 4 deltas
    body = {"model": "claude-haiku-4-5", "max_tokens": 50, "messages": ASK, "stream": True}
    r = httpx.post(engine.url + MSGS, json=body, timeout=20)
    assert r.status_code == 200 and parse_sse(r.content)[-1][0] == "error"
    row = _row(engine)
    assert row["error"]["code"] == "upstream_disconnected"
    assert row["input_tokens"] == 12, "message_start's input tokens are kept"
    assert row["output_tokens"] == 6 and "estimated" in row["error"]["message"]


def test_a_dropped_gemini_stream_keeps_the_usage_the_upstream_reported(engine, fakes):
    fakes[2].script(text="a b c d e f g h", chunks=8, drop_after=4)
    url = engine.url + "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    r = httpx.post(url, json={"contents": [{"role": "user", "parts": [{"text": "x"}]}]}, timeout=20)
    assert r.status_code == 200
    row = _row(engine)
    assert row["error"]["code"] == "upstream_disconnected"
    assert row["input_tokens"] == 12 and row["output_tokens"] > 0


def test_the_worker_survives_every_fault(engine):
    assert httpx.get(engine.url + "/healthz").status_code == 200
