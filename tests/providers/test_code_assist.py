"""Gemini CLI's Code Assist backend as an upstream: the envelope codec, against a fake that validates it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from proxy_engine.translate import TranslationError, Translator
from proxy_engine.translate.code_assist import (
    code_assist_url,
    count_tokens_body,
    set_project,
    unwrap_response,
    wrap_request,
)
from tests.fakes.base import parse_sse
from tests.fakes.code_assist_fake import FakeCodeAssist
from tests.fakes.script import ToolCall
from tests.translate.kit import client_body, collect

MODEL = "gemini-2.5-pro"
WEATHER = ToolCall("get_weather", {"city": "Paris"})


@pytest.fixture
async def fake() -> AsyncIterator[FakeCodeAssist]:
    async with FakeCodeAssist() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def auth(fake: FakeCodeAssist) -> dict[str, str]:
    return {"Authorization": f"Bearer {fake.api_key}"}


async def call(http: aiohttp.ClientSession, url: str, body: dict, headers: dict) -> tuple[int, bytes]:
    async with http.post(url, json=body, headers=headers) as resp:
        return resp.status, await resp.read()


def test_the_codec_wraps_the_gemini_body_and_leaves_the_project_to_the_provider() -> None:
    body = Translator("openai_chat", "gemini_code_assist").request(
        client_body("openai_chat", "tools"), model=MODEL, stream=True
    )
    assert set(body) == {"model", "project", "user_prompt_id", "request"}
    assert body["model"] == MODEL and body["project"] == "" and body["user_prompt_id"]
    assert body["request"]["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    assert "model" not in body["request"]
    filled = set_project(body, "proj-1")
    assert filled["project"] == "proj-1" and body["project"] == ""
    assert code_assist_url("https://cloudcode-pa.googleapis.com/v1internal", "streamGenerateContent", True) == (
        "https://cloudcode-pa.googleapis.com/v1internal:streamGenerateContent?alt=sse"
    )


def test_code_assist_is_not_a_client_dialect() -> None:
    with pytest.raises(TranslationError, match="upstream-only"):
        Translator("gemini_code_assist", "gemini").request({"model": MODEL}, model=MODEL, stream=False)


def test_unwrap_takes_the_trace_id_and_passes_errors_through() -> None:
    assert unwrap_response({"response": {"candidates": []}, "traceId": "t1"}) == {"candidates": [], "responseId": "t1"}
    error = {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}
    assert unwrap_response(error) == error


@pytest.mark.parametrize("client", ["openai_chat", "anthropic", "openai_responses"])
async def test_whole_answers_through_the_fake(fake: FakeCodeAssist, http: aiohttp.ClientSession, client: str) -> None:
    fake.script(text="It is sunny.", usage={"input_tokens": 40, "output_tokens": 9, "cache_read_tokens": 10})
    tr = Translator(client, "gemini_code_assist")
    body = set_project(tr.request(client_body(client, "plain"), model=MODEL, stream=False), fake.project)
    status, raw = await call(http, code_assist_url(fake.base_url, "generateContent"), body, auth(fake))
    assert status == 200, raw
    envelope = json.loads(raw)
    out = tr.response(envelope, model="Smart")
    text = json.dumps(out)
    assert "It is sunny." in text
    assert tr.usage["input_tokens"] == 40 and tr.usage["cache_read_tokens"] == 10
    if client == "openai_chat":
        assert out["id"].endswith(envelope["traceId"])  # the trace id stands in for Gemini's responseId


@pytest.mark.parametrize("client", ["openai_chat", "anthropic", "gemini"])
async def test_sse_streams_with_thinking_and_tool_calls(
    fake: FakeCodeAssist, http: aiohttp.ClientSession, client: str
) -> None:
    fake.script(text="Let me look.", thinking="Need the weather tool.", tool_calls=[WEATHER], chunks=3)
    tr = Translator(client, "gemini_code_assist")
    body = tr.request(client_body(client, "tools", stream=True), model=MODEL, stream=True, thinking_budget=2048)
    body["request"].setdefault("generationConfig", {})["thinkingConfig"] = {"includeThoughts": True}
    body = set_project(body, fake.project)
    status, raw = await call(http, code_assist_url(fake.base_url, "streamGenerateContent", True), body, auth(fake))
    assert status == 200, raw
    events = [data for _, data in parse_sse(raw)]
    assert all("response" in e and "traceId" in e for e in events)
    stream = tr.stream("Smart")
    got = collect(client, b"".join(stream.feed(e) for e in events) + stream.finish())
    assert got.text == "Let me look." and got.thinking == "Need the weather tool."
    assert [c["name"] for c in got.calls] == ["get_weather"] and json.loads(got.calls[0]["arguments"]) == {
        "city": "Paris"
    }
    assert stream.usage["input_tokens"] == 12
    assert got.finish == {"openai_chat": "tool_calls", "anthropic": "tool_use", "gemini": "STOP"}[client]


async def test_a_mid_stream_error_reaches_the_client(fake: FakeCodeAssist, http: aiohttp.ClientSession) -> None:
    fake.script(text="abcdef", stream_error_after=2, error_message="backend overloaded")
    tr = Translator("anthropic", "gemini_code_assist")
    body = set_project(tr.request(client_body("anthropic", "plain"), model=MODEL, stream=True), fake.project)
    _, raw = await call(http, code_assist_url(fake.base_url, "streamGenerateContent", True), body, auth(fake))
    stream = tr.stream("Smart")
    got = collect("anthropic", b"".join(stream.feed(d) for _, d in parse_sse(raw)) + stream.finish())
    assert got.error["message"] == "backend overloaded"


async def test_count_tokens_envelope(fake: FakeCodeAssist, http: aiohttp.ClientSession) -> None:
    fake.script(usage={"input_tokens": 77})
    gemini_body = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
    body = count_tokens_body(gemini_body, MODEL)
    assert body == {"request": {"model": f"models/{MODEL}", "contents": gemini_body["contents"]}}
    assert set_project(body, "p") is body  # a countTokens envelope names no project
    status, raw = await call(http, code_assist_url(fake.base_url, "countTokens"), body, auth(fake))
    assert (status, json.loads(raw)) == (200, {"totalTokens": 77})


async def test_gemini_bodies_can_be_wrapped_without_translation(
    fake: FakeCodeAssist, http: aiohttp.ClientSession
) -> None:
    """A Gemini client's own body (safety settings and all) only needs the envelope."""
    raw_body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
    }
    body = wrap_request(raw_body, MODEL, fake.project)
    status, raw = await call(http, code_assist_url(fake.base_url, "generateContent"), body, auth(fake))
    assert status == 200
    assert fake.last_request.json["request"]["safetySettings"] == raw_body["safetySettings"]
    inner = unwrap_response(json.loads(raw))
    assert inner["candidates"][0]["content"]["parts"][0]["text"] == f"Hello from {MODEL}!"


HI = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
GOOD = {"model": MODEL, "project": "fake-project-4242", "user_prompt_id": "u1", "request": HI}


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        ({**GOOD, "project": ""}, None, 400, "no Cloud project"),
        ({**GOOD, "project": "someone-else"}, None, 403, "Permission denied"),
        ({**GOOD, "request": {**HI, "model": MODEL}}, None, 400, "Unknown name"),
        ({**GOOD, "extra": 1}, None, 400, "Unknown name"),
        ({**GOOD, "model": f"models/{MODEL}"}, None, 400, "bare model name"),
        (GOOD, {"x-goog-api-key": "AIza-key"}, 401, "OAuth 2 access token"),
        (GOOD, {"Authorization": "Bearer wrong"}, 401, "invalid authentication"),
    ],
)
async def test_the_fake_rejects_bad_envelopes(
    fake: FakeCodeAssist, http: aiohttp.ClientSession, body: dict, headers: dict | None, status: int, message: str
) -> None:
    got, raw = await call(http, code_assist_url(fake.base_url, "generateContent"), body, headers or auth(fake))
    assert got == status
    assert message in json.loads(raw)["error"]["message"]
