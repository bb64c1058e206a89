"""Every inbound route, driven by the official SDKs, through the real engine to the fake upstreams.

Each test asserts both ends: the SDK parsed the reply, the upstream saw the real model and the
provider's auth, and the ledger row plus the `request.finished` event carry tokens and cost.
"""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types

from tests.fakes import Usage

USAGE = Usage(input_tokens=1200, output_tokens=300, cache_read_tokens=200)


def _finished(engine, sub, model_requested):
    ev = sub.wait_for("request.finished", lambda e: e["model_requested"] == model_requested)
    row = next(r for r in engine.records() if r["id"] == ev["id"])
    return ev, row


@pytest.fixture
def sub(engine):
    s = engine.subscribe()
    s.wait_for("hello")
    yield s
    s.close()


@pytest.mark.parametrize("stream", [False, True])
def test_openai_chat(engine, fakes, sub, stream):
    fo = fakes[0]
    fo.script(usage=USAGE, text="four little words", chunks=4)
    client = openai.OpenAI(base_url=engine.url + "/v1", api_key="unused")
    msgs = [{"role": "user", "content": "hi"}]
    if stream:
        chunks = list(client.chat.completions.create(model="Rush", messages=msgs, stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert all(c.usage is None for c in chunks), "the usage chunk the proxy asked for must stay hidden"
        assert fo.last_request.json["stream_options"] == {"include_usage": True}
    else:
        r = client.chat.completions.create(model="Rush", messages=msgs)
        text = r.choices[0].message.content
        assert r.usage.prompt_tokens == 1200
    assert text == "four little words"
    assert fo.last_request.json["model"] == "gpt-4o-mini"
    assert fo.last_request.headers["authorization"] == "Bearer sk-fake-openai"
    ev, row = _finished(engine, sub, "Rush")
    for rec in (ev, row):
        assert (rec["input_tokens"], rec["output_tokens"], rec["cache_read_tokens"]) == (1200, 300, 200)
        assert rec["provider"] == "openai" and rec["model"] == "gpt-4o-mini" and rec["status"] == 200
        assert rec["cost_usd"] == pytest.approx((1000 * 0.15 + 200 * 0.075 + 300 * 0.6) / 1e6)
        assert rec["stream"] is stream


def test_openai_chat_stream_with_client_usage(engine, fakes):
    fakes[0].script(usage=USAGE)
    client = openai.OpenAI(base_url=engine.url + "/v1", api_key="unused")
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}], stream=True,
            stream_options={"include_usage": True},
        )
    )  # fmt: skip
    assert chunks[-1].usage.prompt_tokens == 1200, "a client that asked for usage gets the usage chunk"


@pytest.mark.parametrize("stream", [False, True])
def test_openai_responses(engine, fakes, sub, stream):
    fo = fakes[0]
    fo.script(usage=USAGE, text="responses reply")
    client = openai.OpenAI(base_url=engine.url + "/v1", api_key="unused")
    if stream:
        with client.responses.stream(model="gpt-4o", input="hi") as s:
            final = s.get_final_response()
        text = final.output_text
    else:
        final = client.responses.create(model="gpt-4o", input="hi")
        text = final.output_text
    assert text == "responses reply"
    assert final.usage.input_tokens == 1200
    assert fo.last_request.path.endswith("/responses")
    ev, row = _finished(engine, sub, "gpt-4o")
    assert ev["dialect_in"] == "openai_responses" == row["dialect_in"]
    assert (row["input_tokens"], row["output_tokens"], row["cache_read_tokens"]) == (1200, 300, 200)
    assert row["cost_usd"] == pytest.approx((1000 * 2.5 + 200 * 1.25 + 300 * 10) / 1e6)


def test_openai_legacy_completions(engine, fakes, sub):
    fakes[0].script(usage=USAGE, text="legacy")
    client = openai.OpenAI(base_url=engine.url + "/v1", api_key="unused")
    r = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="say")
    assert r.choices[0].text == "legacy"
    assert fakes[0].last_request.path.endswith("/completions")
    ev, _ = _finished(engine, sub, "gpt-3.5-turbo-instruct")
    assert ev["input_tokens"] == 1200


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_messages(engine, fakes, sub, stream):
    fa = fakes[1]
    fa.script(usage=Usage(input_tokens=1000, output_tokens=50, cache_read_tokens=400, cache_write_tokens=100))
    client = anthropic.Anthropic(base_url=engine.url, api_key="unused")
    args = dict(model="Smart", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    if stream:
        with client.messages.stream(**args) as s:
            msg = s.get_final_message()
    else:
        msg = client.messages.create(**args)
    assert msg.content[0].text == "Hello from claude-sonnet-4-6!"
    req = fa.last_request
    assert req.json["model"] == "claude-sonnet-4-6"
    assert req.headers["x-api-key"] == "sk-ant-fake" and "authorization" not in req.headers
    ev, row = _finished(engine, sub, "Smart")
    for rec in (ev, row):
        assert (rec["input_tokens"], rec["output_tokens"]) == (1000, 50)
        assert (rec["cache_read_tokens"], rec["cache_write_tokens"]) == (400, 100)
        expected = (500 * 3 + 400 * 0.3 + 100 * 3.75 + 50 * 15) / 1e6
        assert rec["cost_usd"] == pytest.approx(expected)


def test_anthropic_count_tokens_and_models(engine, fakes):
    client = anthropic.Anthropic(base_url=engine.url, api_key="unused")
    n = client.messages.count_tokens(model="claude-sonnet-4-6", messages=[{"role": "user", "content": "hi"}])
    assert n.input_tokens > 0
    assert fakes[1].last_request.path == "/v1/messages/count_tokens"
    ids = [m.id for m in client.models.list()]
    assert "Smart" in ids and "Rush" in ids


def test_claude_code_unknown_fields_pass_through_untouched(engine, fakes):
    """Claude Code's newer fields, nested `model` keys and the beta query must reach the upstream byte for byte."""
    body = (
        b'{"model": "Smart", "max_tokens": 32, "thinking": {"type": "adaptive"}, "output_config": {"effort": "high"},'
        b' "context_management": {"edits": []},'
        b' "messages": [{"role": "user", "content": "a \\"model\\": \\"Smart\\""}],'
        b' "metadata": {"model": "Smart"}}'
    )
    r = httpx.post(engine.url + "/v1/messages?beta=true", content=body,
                   headers={"anthropic-version": "2023-06-01", "content-type": "application/json",
                            "anthropic-beta": "context-management-2025-06-27"})  # fmt: skip
    assert r.status_code == 200, r.text
    seen = fakes[1].last_request
    assert seen.body == body.replace(b'"model": "Smart", "max', b'"model": "claude-sonnet-4-6", "max')
    assert seen.query.get("beta") == "true"
    assert seen.headers["anthropic-beta"] == "context-management-2025-06-27"


@pytest.mark.parametrize("api_version", ["v1beta", "v1"])
@pytest.mark.parametrize("stream", [False, True])
def test_gemini(engine, fakes, sub, stream, api_version):
    fg = fakes[2]
    fg.script(usage=USAGE, text="gemini says hi", chunks=3)
    client = genai.Client(api_key="unused",
                          http_options=types.HttpOptions(base_url=engine.url, api_version=api_version))  # fmt: skip
    if stream:
        text = "".join(c.text or "" for c in client.models.generate_content_stream(model="gemini-2.5-flash",
                                                                                    contents="hi"))  # fmt: skip
    else:
        text = client.models.generate_content(model="gemini-2.5-flash", contents="hi").text
    assert text == "gemini says hi"
    req = fg.last_request
    assert req.headers["x-goog-api-key"] == "AIza-fake-gemini"
    assert req.path.endswith("streamGenerateContent" if stream else ":generateContent")
    _, row = _finished(engine, sub, "gemini-2.5-flash")
    assert (row["input_tokens"], row["output_tokens"], row["cache_read_tokens"]) == (1200, 300, 200)
    assert row["cost_usd"] is not None and row["cost_usd"] > 0


def test_gemini_json_array_stream_and_count(engine, fakes):
    fakes[2].script(text="array form", chunks=2)
    r = httpx.post(engine.url + "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
                   json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})  # fmt: skip
    assert r.status_code == 200
    parts = r.json()
    assert isinstance(parts, list) and len(parts) >= 2
    assert "".join(p["candidates"][0]["content"]["parts"][0].get("text", "") for p in parts) == "array form"
    client = genai.Client(api_key="unused", http_options=types.HttpOptions(base_url=engine.url))
    assert client.models.count_tokens(model="gemini-2.5-flash", contents="hello").total_tokens > 0


def test_unknown_price_is_recorded_as_unknown(engine, fakes, sub):
    client = openai.OpenAI(base_url=engine.url + "/v1", api_key="unused")
    client.chat.completions.create(model="openai/house-model-7", messages=[{"role": "user", "content": "x"}])
    ev, row = _finished(engine, sub, "openai/house-model-7")
    assert row["input_tokens"] > 0
    assert ev["cost_usd"] is None and row["cost_usd"] is None


def test_health_and_head(engine):
    assert httpx.head(engine.url + "/").status_code == 200
    assert httpx.get(engine.url + "/healthz").json()["ok"] is True


def test_openai_legacy_completions_stream_hides_the_added_usage_chunk(engine, fakes, sub):
    fakes[0].script(usage=USAGE, text="streamed legacy", chunks=3)
    client = openai.OpenAI(base_url=engine.url + "/v1", api_key="unused")
    chunks = list(client.completions.create(model="gpt-3.5-turbo-instruct", prompt="say", stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "streamed legacy"
    assert all(c.choices for c in chunks), "the usage-only chunk the proxy asked for must stay hidden"
    ev, _ = _finished(engine, sub, "gpt-3.5-turbo-instruct")
    assert ev["input_tokens"] == 1200 and ev["stream"] is True


def test_translated_stream_records_upstream_usage(engine, fakes, sub):
    """An Anthropic client on an OpenAI model: translated chunk by chunk, usage read from the upstream stream."""
    fakes[0].script(usage=USAGE, text="crossed over", chunks=4)
    client = anthropic.Anthropic(base_url=engine.url, api_key="unused")
    with client.messages.stream(model="gpt-4o", max_tokens=64, messages=[{"role": "user", "content": "hi"}]) as s:
        msg = s.get_final_message()
    assert msg.content[0].text == "crossed over"
    assert fakes[0].last_request.json["stream_options"] == {"include_usage": True}
    ev, row = _finished(engine, sub, "gpt-4o")
    for rec in (ev, row):
        assert rec["dialect_in"] == "anthropic" and rec["dialect_out"] == "openai_chat"
        assert (rec["input_tokens"], rec["output_tokens"], rec["cache_read_tokens"]) == (1200, 300, 200)
