"""Bad input and upstream failures: a clear error in the caller's own dialect, never a crash, always recorded."""

from __future__ import annotations

import json
import time

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

CHAT = "/v1/chat/completions"
MSGS = "/v1/messages"
GEM = "/v1beta/models/gemini-2.5-flash:generateContent"


def _shape(dialect: str, body: dict) -> str:
    if dialect == "anthropic":
        assert body["type"] == "error" and body["error"]["message"]
        return body["error"]["message"]
    if dialect == "gemini":
        assert isinstance(body["error"]["code"], int) and body["error"]["status"]
        return body["error"]["message"]
    assert body["error"]["message"] and body["error"]["type"]
    return body["error"]["message"]


CASES = [(CHAT, "openai_chat"), ("/v1/responses", "openai_responses"), (MSGS, "anthropic"), (GEM, "gemini")]


@pytest.mark.parametrize(("path", "dialect"), CASES)
def test_malformed_json(engine, path, dialect):
    r = httpx.post(engine.url + path, content=b'{"model": "gpt-4o", ', headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert "not valid JSON" in _shape(dialect, r.json())


@pytest.mark.parametrize(("path", "dialect"), CASES[:3])
def test_missing_model(engine, path, dialect):
    r = httpx.post(engine.url + path, json={"messages": [], "input": "x"})
    assert r.status_code == 400
    assert "model" in _shape(dialect, r.json())


@pytest.mark.parametrize(("path", "dialect"), CASES)
def test_unknown_model_names_the_models_that_exist(engine, path, dialect):
    if dialect == "gemini":
        path = "/v1beta/models/no-such-model:generateContent"
    r = httpx.post(engine.url + path, json={"model": "no-such-model", "contents": []})
    assert r.status_code == 404
    msg = _shape(dialect, r.json())
    assert "no-such-model" in msg and "Smart" in msg and "Rush" in msg


@pytest.mark.parametrize(("path", "dialect"), CASES)
def test_oversized_body(engine, path, dialect):
    big = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 80_000}]}
    r = httpx.post(engine.url + path, json=big)
    assert r.status_code == 413
    assert "max_body_mb" in _shape(dialect, r.json())


def test_same_dialect_upstream_500_reaches_the_client_as_sent_and_is_recorded(engine, fakes):
    fakes[1].script(status=500, error_message="kaboom")
    client = anthropic.Anthropic(base_url=engine.url, api_key="unused", max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as exc:
        client.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert exc.value.status_code == 500 and exc.value.body["error"] == {"type": "api_error", "message": "kaboom"}
    row = engine.records(1)[0]
    assert row["status"] == 500 and row["model_requested"] == "claude-haiku-4-5" and "kaboom" in row["error"]["message"]


def test_failover_to_next_candidate_before_first_byte(engine, fakes):
    fo, fa, _ = fakes
    fo.script(status=429, retry_after=3)
    client = openai.OpenAI(base_url=engine.url + "/v1", api_key="unused", max_retries=0)
    r = client.chat.completions.create(model="Rush", messages=[{"role": "user", "content": "x"}])
    assert r.choices[0].message.content == "Hello from claude-haiku-4-5!", "Rush fails over from openai to anthropic"
    assert len(fo.requests) == 1 and len(fa.requests) == 1
    row = engine.records(1)[0]
    assert row["attempts"] == 2 and row["provider"] == "anthropic" and row["status"] == 200


def test_all_candidates_failing_returns_last_error(engine, fakes):
    fakes[0].script(status=503)
    fakes[1].script(status=500)
    client = openai.OpenAI(base_url=engine.url + "/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.APIStatusError) as exc:
        client.chat.completions.create(model="Rush", messages=[{"role": "user", "content": "x"}])
    assert exc.value.status_code == 502


def test_upstream_400_passes_through_with_its_status(engine, fakes):
    client = anthropic.Anthropic(base_url=engine.url, api_key="unused", max_retries=0)
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=[])  # the fake rejects no messages


@pytest.mark.parametrize("dialect", ["openai_chat", "anthropic", "gemini", "openai_responses"])
def test_upstream_drop_mid_stream(engine, fakes, dialect):

    for f in fakes:
        f.script(text="a b c d e f g h", chunks=8, drop_after=3)
    if dialect == "openai_chat":
        client = openai.OpenAI(base_url=engine.url + "/v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.APIError):
            for _ in client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}],
                                                    stream=True):  # fmt: skip
                pass
    elif dialect == "openai_responses":
        client = openai.OpenAI(base_url=engine.url + "/v1", api_key="unused", max_retries=0)
        events = [e.type for e in client.responses.create(model="gpt-4o", input="x", stream=True)]
        assert events[-1] == "error"
    elif dialect == "anthropic":
        client = anthropic.Anthropic(base_url=engine.url, api_key="unused", max_retries=0)
        with (
            pytest.raises(anthropic.APIStatusError),
            client.messages.stream(
                model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}]
            ) as s,
        ):
            s.get_final_text()
    else:
        client = genai.Client(api_key="unused", http_options=types.HttpOptions(base_url=engine.url))
        with pytest.raises(genai_errors.APIError):
            for _ in client.models.generate_content_stream(model="gemini-2.5-flash", contents="x"):
                pass
    row = engine.records(1)[0]
    assert row["status"] == 502 and row["error"]["code"] == "upstream_disconnected"
    assert row["ttfb_ms"] is not None


def test_client_disconnect_cancels_upstream(engine, fakes):
    fo = fakes[0]
    fo.script(text="slow " * 50, chunks=50, chunk_delay=0.1)
    with httpx.stream("POST", engine.url + CHAT, json={"model": "gpt-4o", "stream": True,
                      "messages": [{"role": "user", "content": "x"}]}) as r:  # fmt: skip
        next(r.iter_bytes())
    deadline = time.time() + 5
    while not fo.requests[-1].disconnected and time.time() < deadline:
        time.sleep(0.05)
    assert fo.requests[-1].disconnected, "the upstream request must be cancelled when the client goes away"
    deadline = time.time() + 5
    while time.time() < deadline:
        rows = engine.records(1)
        if rows and rows[0]["status"] == 499:
            break
        time.sleep(0.1)
    assert rows[0]["status"] == 499


def test_worker_survives_all_of_the_above(engine):
    assert httpx.get(engine.url + "/healthz").status_code == 200


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/v1/chat/completions", {"Origin": "https://evil.example", "Content-Type": "text/plain"}),
        ("/v1/messages", {"Sec-Fetch-Site": "cross-site", "anthropic-version": "2023-06-01"}),
        ("/v1/chat/completions", {"Host": "rebound.evil.example:8317"}),
    ],
)
def test_browser_made_requests_to_a_keyless_proxy_are_refused(engine, fakes, path, headers):
    model = "claude-haiku-4-5" if "messages" in path else "gpt-4o-mini"
    body = json.dumps({"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})
    r = httpx.post(engine.url + path, content=body, headers=headers, timeout=10)
    assert r.status_code == 403
    err = r.json()
    if "messages" in path:
        assert err["type"] == "error" and "refused" in err["error"]["message"]
    else:
        assert err["error"]["code"] == "browser_request_refused"
    assert all(not f.requests for f in fakes), "nothing reached an upstream"
    # a same-origin page (the proxy's own origin) and ordinary tools are fine
    same = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]})
    ok = httpx.post(engine.url + "/v1/chat/completions", content=same, headers={"Origin": engine.url}, timeout=10)
    assert ok.status_code == 200
