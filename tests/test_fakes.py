"""The fake providers speak the real wire formats: proven with the official SDKs, which must parse them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import TypeVar

import aiohttp
import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types

from tests.fakes import FakeAnthropic, FakeGemini, FakeOpenAI, FakeServerThread, ToolCall, parse_sse

pytest_plugins = ["tests.fakes.fixtures"]  # fake_openai, fake_anthropic, fake_gemini

WEATHER = ToolCall("get_weather", {"city": "Paris", "units": "celsius", "days": [1, 2, 3]}, id="call_w1")
T = TypeVar("T")
USER_HI = [{"role": "user", "content": "hi"}]


_OPEN_CLIENTS: list = []


@pytest.fixture(autouse=True)
def _close_sdk_clients() -> Iterator[None]:
    yield
    while _OPEN_CLIENTS:
        _OPEN_CLIENTS.pop().close()


def _keep(client: T) -> T:
    _OPEN_CLIENTS.append(client)
    return client


def oa(fake: FakeOpenAI, key: str | None = None) -> openai.OpenAI:
    return _keep(openai.OpenAI(base_url=fake.base_url, api_key=key or fake.api_key, max_retries=0))


def an(fake: FakeAnthropic, key: str | None = None) -> anthropic.Anthropic:
    return _keep(anthropic.Anthropic(base_url=fake.base_url, api_key=key or fake.api_key, max_retries=0))


def gg(fake: FakeGemini, version: str | None = None) -> genai.Client:
    """google-genai pointed at the fake; version None keeps the SDK's default API version (v1 here)."""
    opts = types.HttpOptions(base_url=fake.base_url, api_version=version) if version else None
    return _keep(genai.Client(api_key=fake.api_key, http_options=opts or types.HttpOptions(base_url=fake.base_url)))


def raw_post(url: str, body: dict, headers: dict) -> httpx.Response:
    return httpx.post(url, json=body, headers=headers, timeout=5)


# ----- OpenAI -----------------------------------------------------------------------------------------
def test_openai_chat_json_is_parsed_and_request_recorded(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(usage={"input_tokens": 30, "output_tokens": 5, "cache_read_tokens": 10})
    reply = oa(fake_openai).chat.completions.create(model="gpt-4o", messages=USER_HI, extra_body={"x_extra": 7})
    assert reply.choices[0].message.content == "Hello from gpt-4o!"
    assert reply.choices[0].finish_reason == "stop"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.total_tokens) == (30, 5, 35)
    assert reply.usage.prompt_tokens_details.cached_tokens == 10
    rec = fake_openai.last_request
    assert (rec.method, rec.path, rec.model) == ("POST", "/v1/chat/completions", "gpt-4o")
    assert rec.headers["authorization"] == f"Bearer {fake_openai.api_key}"
    assert rec.json["x_extra"] == 7 and json.loads(rec.body) == rec.json and rec.completed


def test_openai_chat_stream_usage_chunk_and_tool_call_deltas(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(text="Checking", tool_calls=[WEATHER], arg_chunks=6)
    client = oa(fake_openai)
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o", messages=USER_HI, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 20
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
    arg_deltas = [c for c in chunks if c.choices and c.choices[0].delta.tool_calls]
    assert len(arg_deltas) == 7  # the head (id + name) plus six argument pieces
    with client.chat.completions.stream(model="gpt-4o", messages=USER_HI) as stream:
        final = stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    assert final.choices[0].message.content == "Checking"
    assert (call.id, call.function.name) == ("call_w1", "get_weather")
    assert json.loads(call.function.arguments) == WEATHER.arguments


def test_openai_chat_stream_without_include_usage_has_no_usage_field(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(text="abcdef", chunks=3)
    body = {"model": "gpt-4o", "messages": USER_HI, "stream": True}
    resp = raw_post(
        f"{fake_openai.base_url}/chat/completions", body, {"Authorization": f"Bearer {fake_openai.api_key}"}
    )
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.text.endswith("data: [DONE]\n\n")
    events = [data for _, data in parse_sse(resp.content) if data != "[DONE]"]
    assert all("usage" not in e for e in events)
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events) == "abcdef"


def test_openai_responses_json_with_reasoning_and_function_call(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(thinking="think first", tool_calls=[WEATHER], usage={"reasoning_tokens": 3})
    resp = oa(fake_openai).responses.create(
        model="gpt-5", input="weather?", reasoning={"effort": "low", "summary": "auto"}
    )
    kinds = [item.type for item in resp.output]
    assert kinds == ["reasoning", "function_call"]
    assert resp.output[0].summary[0].text == "think first"
    assert resp.output[1].name == "get_weather" and json.loads(resp.output[1].arguments) == WEATHER.arguments
    assert resp.status == "completed" and resp.usage.output_tokens_details.reasoning_tokens == 3


def test_openai_responses_stream_event_sequence(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(text="Hello there", chunks=4, tool_calls=[WEATHER])
    client = oa(fake_openai)
    with client.responses.stream(model="gpt-5", input=[{"role": "user", "content": "hi"}]) as stream:
        final = stream.get_final_response()
    assert final.output_text == "Hello there" and final.usage.total_tokens == 20
    assert final.output[1].call_id == "call_w1"
    body = {"model": "gpt-5", "input": "hi", "stream": True}
    raw = raw_post(f"{fake_openai.base_url}/responses", body, {"Authorization": f"Bearer {fake_openai.api_key}"})
    events = parse_sse(raw.content)
    assert all(event == data["type"] for event, data in events)
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    types_seen = [e for e, _ in events]
    assert types_seen[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    assert types_seen.count("response.output_text.delta") == 4
    assert types_seen[-1] == "response.completed" and "response.function_call_arguments.done" in types_seen


def test_openai_completions_and_models(fake_openai: FakeOpenAI) -> None:
    client = oa(fake_openai)
    done = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hi")
    assert done.object == "text_completion" and done.choices[0].text == "Hello from gpt-3.5-turbo-instruct!"
    pieces = list(client.completions.create(model="davinci-002", prompt="x", stream=True))
    assert "".join(p.choices[0].text for p in pieces) == "Hello from davinci-002!"
    assert pieces[-1].choices[0].finish_reason == "stop"
    assert "gpt-4o" in [m.id for m in client.models.list()]


def test_openai_auth_validation_and_scripted_errors(fake_openai: FakeOpenAI) -> None:
    with pytest.raises(openai.AuthenticationError) as auth:
        oa(fake_openai, key="sk-wrong").chat.completions.create(model="gpt-4o", messages=USER_HI)
    assert auth.value.body["code"] == "invalid_api_key"
    orphan_tool = [*USER_HI, {"role": "tool", "tool_call_id": "call_x", "content": "42"}]
    with pytest.raises(openai.BadRequestError, match="must be a response to a preceeding message"):
        oa(fake_openai).chat.completions.create(model="gpt-4o", messages=orphan_tool)
    with pytest.raises(openai.BadRequestError, match="stream_options"):
        oa(fake_openai).chat.completions.create(model="gpt-4o", messages=USER_HI, stream_options={"include_usage": 1})
    with pytest.raises(openai.BadRequestError, match="input"):
        oa(fake_openai).responses.create(
            model="gpt-5", input=[{"role": "assistant", "content": [{"type": "input_text", "text": "x"}]}]
        )
    fake_openai.queue(status=429, retry_after=7, error_message="slow down")
    with pytest.raises(openai.RateLimitError) as limited:
        oa(fake_openai).chat.completions.create(model="gpt-4o", messages=USER_HI)
    assert limited.value.response.headers["retry-after"] == "7" and limited.value.body["message"] == "slow down"
    assert oa(fake_openai).chat.completions.create(model="gpt-4o", messages=USER_HI).choices[0].message.content
    assert len(fake_openai.requests) == 6  # rejected requests are recorded too


def test_openai_stream_dropped_mid_way(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(text="a long answer here", chunks=6, drop_after=3)
    seen = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in oa(fake_openai).chat.completions.create(model="gpt-4o", messages=USER_HI, stream=True):
            seen.append(chunk)
    assert 1 <= len(seen) <= 3
    assert fake_openai.last_request.disconnected and not fake_openai.last_request.completed
    fake_openai.script(drop_after=0)
    with pytest.raises(openai.APIConnectionError):
        oa(fake_openai).chat.completions.create(model="gpt-4o", messages=USER_HI)


# ----- Anthropic --------------------------------------------------------------------------------------
def test_anthropic_message_json_and_recording(fake_anthropic: FakeAnthropic) -> None:
    usage = {"input_tokens": 100, "output_tokens": 9, "cache_read_tokens": 60, "cache_write_tokens": 30}
    fake_anthropic.script(usage=usage)
    msg = an(fake_anthropic).messages.create(
        model="claude-sonnet-4-6",
        max_tokens=64,
        messages=USER_HI,
        extra_body={"context_management": {"x": 1}},
    )
    assert msg.content[0].text == "Hello from claude-sonnet-4-6!" and msg.stop_reason == "end_turn"
    assert (msg.usage.input_tokens, msg.usage.cache_read_input_tokens) == (10, 60)
    assert (msg.usage.cache_creation_input_tokens, msg.usage.output_tokens) == (30, 9)
    rec = fake_anthropic.last_request  # this SDK generation sends the API key as a Bearer token
    assert rec.headers["authorization"] == f"Bearer {fake_anthropic.api_key}" and "anthropic-version" in rec.headers
    assert rec.json["context_management"] == {"x": 1}


def test_anthropic_stream_thinking_text_and_tool_use(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(thinking="Let me think", text="Sure", tool_calls=[WEATHER], arg_chunks=5)
    kwargs = {
        "model": "claude-opus-4-7",
        "max_tokens": 4096,
        "messages": USER_HI,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
    }
    with an(fake_anthropic).messages.stream(**kwargs) as stream:
        final = stream.get_final_message()
    thinking, text, tool = final.content
    assert thinking.thinking == "Let me think" and thinking.signature
    assert text.text == "Sure" and tool.input == WEATHER.arguments and tool.id == "call_w1"
    assert final.stop_reason == "tool_use" and final.usage.output_tokens == 8
    headers = {"x-api-key": fake_anthropic.api_key, "anthropic-version": "2023-06-01"}
    raw = raw_post(f"{fake_anthropic.base_url}/v1/messages", {**kwargs, "stream": True}, headers)
    events = parse_sse(raw.content)
    assert all(event == data["type"] for event, data in events)
    names = [e for e, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    deltas = [d["delta"]["type"] for e, d in events if e == "content_block_delta"]
    assert {"thinking_delta", "signature_delta", "text_delta"} <= set(deltas)
    assert deltas.count("input_json_delta") == 5


def test_anthropic_thinking_only_when_requested_and_beta_query(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(thinking="hidden")
    msg = an(fake_anthropic).beta.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=USER_HI)
    assert [b.type for b in msg.content] == ["text"]
    headers = {"x-api-key": fake_anthropic.api_key, "anthropic-version": "2023-06-01"}
    body = {"model": "claude-haiku-4-5", "max_tokens": 5, "messages": USER_HI}
    assert raw_post(f"{fake_anthropic.base_url}/v1/messages?beta=true", body, headers).status_code == 200
    assert fake_anthropic.last_request.query == {"beta": "true"}


def test_anthropic_count_tokens_models_and_oauth_bearer(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(usage={"input_tokens": 77})
    client = an(fake_anthropic)
    assert client.messages.count_tokens(model="claude-opus-4-7", messages=USER_HI).input_tokens == 77
    assert "claude-opus-4-7" in [m.id for m in client.models.list()]
    oauth = _keep(
        anthropic.Anthropic(base_url=fake_anthropic.base_url, auth_token=fake_anthropic.api_key, max_retries=0)
    )
    assert oauth.messages.create(model="claude-opus-4-7", max_tokens=5, messages=USER_HI).content[0].text
    assert fake_anthropic.last_request.headers["authorization"] == f"Bearer {fake_anthropic.api_key}"
    headers = {"x-api-key": fake_anthropic.api_key, "anthropic-version": "2023-06-01"}
    body = {"model": "claude-opus-4-7", "max_tokens": 5, "messages": USER_HI}
    assert raw_post(f"{fake_anthropic.base_url}/v1/messages", body, headers).status_code == 200


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"messages": USER_HI}, "max_tokens"),
        ({"max_tokens": 5, "messages": [{"role": "user", "content": ""}]}, "non-empty"),
        ({"max_tokens": 5, "messages": [*USER_HI, *USER_HI]}, "alternate"),
        ({"max_tokens": 5, "messages": USER_HI, "temperature": 1.5}, "temperature"),
        (
            {
                "max_tokens": 5,
                "messages": [
                    *USER_HI,
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}],
                    },
                    {"role": "user", "content": "no result"},
                ],
            },
            "without `tool_result`",
        ),
        (
            {"max_tokens": 2000, "messages": USER_HI, "thinking": {"type": "enabled", "budget_tokens": 4000}},
            "budget",
        ),
    ],
)
def test_anthropic_validation_400(fake_anthropic: FakeAnthropic, body: dict, fragment: str) -> None:
    headers = {"x-api-key": fake_anthropic.api_key, "anthropic-version": "2023-06-01"}
    resp = raw_post(f"{fake_anthropic.base_url}/v1/messages", {"model": "claude-opus-4-7", **body}, headers)
    assert resp.status_code == 400
    assert resp.json()["type"] == "error" and resp.json()["error"]["type"] == "invalid_request_error"
    assert fragment in resp.json()["error"]["message"]


def test_anthropic_header_errors_and_midstream_error(fake_anthropic: FakeAnthropic) -> None:
    body = {"model": "claude-opus-4-7", "max_tokens": 5, "messages": USER_HI}
    no_version = raw_post(f"{fake_anthropic.base_url}/v1/messages", body, {"x-api-key": fake_anthropic.api_key})
    assert no_version.status_code == 400 and "anthropic-version" in no_version.json()["error"]["message"]
    with pytest.raises(anthropic.AuthenticationError):
        an(fake_anthropic, key="bad").messages.create(**body)
    fake_anthropic.queue(status=529)
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        an(fake_anthropic).messages.create(**body)
    assert overloaded.value.status_code == 529 and overloaded.value.body["error"]["type"] == "overloaded_error"
    fake_anthropic.script(stream_error_after=3, chunks=5)
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        for _ in an(fake_anthropic).messages.create(**body, stream=True):
            pass


# ----- Gemini -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["v1beta", "v1", None])
def test_gemini_generate_content_both_api_versions(fake_gemini: FakeGemini, version: str | None) -> None:
    fake_gemini.script(usage={"input_tokens": 40, "output_tokens": 6, "cache_read_tokens": 16})
    client = gg(fake_gemini, version)  # keep a reference: a collected Client closes its connection pool
    resp = client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert resp.text == "Hello from gemini-2.5-flash!"
    assert resp.candidates[0].finish_reason == types.FinishReason.STOP
    meta = resp.usage_metadata
    assert (meta.prompt_token_count, meta.candidates_token_count, meta.total_token_count) == (40, 6, 46)
    assert meta.cached_content_token_count == 16
    rec = fake_gemini.last_request
    assert rec.path == f"/{version or 'v1'}/models/gemini-2.5-flash:generateContent"
    assert rec.model == "gemini-2.5-flash" and rec.headers["x-goog-api-key"] == fake_gemini.api_key


def test_gemini_sse_stream_with_thoughts_and_function_call(fake_gemini: FakeGemini) -> None:
    fake_gemini.script(thinking="pondering", text="Calling", tool_calls=[WEATHER], usage={"reasoning_tokens": 4})
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True))
    client = gg(fake_gemini, "v1beta")
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-pro", contents="hi", config=config))
    parts = [p for c in chunks for p in c.candidates[0].content.parts]
    assert "".join(p.text for p in parts if p.thought) == "pondering"
    assert "".join(p.text for p in parts if p.text and not p.thought) == "Calling"
    call = next(p.function_call for p in parts if p.function_call)
    assert call.name == "get_weather" and call.args == WEATHER.arguments
    assert any(p.thought_signature for p in parts)
    last = chunks[-1]
    assert last.candidates[0].finish_reason == types.FinishReason.STOP
    assert (last.usage_metadata.thoughts_token_count, last.usage_metadata.candidates_token_count) == (4, 4)
    assert fake_gemini.last_request.query == {"alt": "sse"}
    assert (
        b"\r\n\r\n"
        in httpx.post(
            f"{fake_gemini.base_url}/v1beta/models/m:streamGenerateContent?alt=sse&key={fake_gemini.api_key}",
            json={"contents": [{"role": "user", "parts": [{"text": "x"}]}]},
        ).content
    )


def test_gemini_json_array_stream_count_tokens_and_models(fake_gemini: FakeGemini) -> None:
    fake_gemini.script(text="abcdef", chunks=3, usage={"input_tokens": 21})
    url = f"{fake_gemini.base_url}/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    raw = httpx.post(url, params={"key": fake_gemini.api_key}, json={"contents": [{"parts": [{"text": "hi"}]}]})
    assert raw.headers["content-type"].startswith("application/json") and b"\n,\r\n" in raw.content
    array = json.loads(raw.content)
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in array) == "abcdef"
    client = gg(fake_gemini, "v1beta")
    assert client.models.count_tokens(model="gemini-2.5-flash", contents="hello").total_tokens == 21
    assert "models/gemini-2.5-pro" in [m.name for m in client.models.list()]


def test_gemini_auth_and_validation(fake_gemini: FakeGemini) -> None:
    url = f"{fake_gemini.base_url}/v1beta/models/gemini-2.5-flash:generateContent"
    ok = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    assert httpx.post(url, json=ok).status_code == 403
    bad_key = httpx.post(url, json=ok, headers={"x-goog-api-key": "nope"}).json()["error"]
    assert bad_key["status"] == "INVALID_ARGUMENT" and bad_key["details"][0]["reason"] == "API_KEY_INVALID"
    call_turn = {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]}
    invalid = [
        {"contents": []},
        {"contents": [{"role": "user", "parts": []}]},
        {"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]},
        {"contents": [*ok["contents"], call_turn, {"role": "user", "parts": [{"text": "no response"}]}]},
        {"contents": [{"role": "user", "parts": [{"text": "x", "inlineData": {"mimeType": "a/b", "data": ""}}]}]},
    ]
    for body in invalid:
        resp = httpx.post(url, json=body, params={"key": fake_gemini.api_key})
        assert resp.status_code == 400, body
        assert resp.json()["error"]["status"] == "INVALID_ARGUMENT"
    fake_gemini.queue(status=429, retry_after=3)
    client = gg(fake_gemini)
    with pytest.raises(genai.errors.ClientError) as limited:
        client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert limited.value.code == 429 and limited.value.status == "RESOURCE_EXHAUSTED"
    assert limited.value.details["error"]["details"][0]["retryDelay"] == "3s"


async def test_gemini_strict_mode_rejects_unknown_fields() -> None:
    async with FakeGemini(strict=True) as fake, aiohttp.ClientSession() as http:
        url = f"{fake.base_url}/v1/models/gemini-2.5-pro:generateContent?key={fake.api_key}"
        body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "stream": True}
        async with http.post(url, json=body) as resp:
            assert resp.status == 400 and 'Unknown name "stream"' in (await resp.json())["error"]["message"]
        tool = {
            "functionDeclarations": [{"name": "f", "parameters": {"type": "object", "additionalProperties": False}}]
        }
        async with http.post(url, json={"contents": body["contents"], "tools": [tool]}) as resp:
            assert resp.status == 400 and "additionalProperties" in (await resp.json())["error"]["message"]


# ----- shared behaviour -------------------------------------------------------------------------------
async def test_async_usage_rules_delay_and_stall() -> None:
    async with FakeOpenAI(api_keys=["k1", "k2"], known_models=["gpt-4o", "gpt-5"]) as fake:
        fake.script(key="k1", status=500)
        fake.script(model="gpt-5", text="five")
        async with (
            openai.AsyncOpenAI(base_url=fake.base_url, api_key="k1", max_retries=0) as k1,
            openai.AsyncOpenAI(base_url=fake.base_url, api_key="k2", max_retries=0) as k2,
        ):
            reply = await k2.chat.completions.create(model="gpt-5", messages=USER_HI)
            assert reply.choices[0].message.content == "five"
            with pytest.raises(openai.InternalServerError):
                await k1.chat.completions.create(model="gpt-4o", messages=USER_HI)
            with pytest.raises(openai.NotFoundError):
                await k2.chat.completions.create(model="gpt-9", messages=USER_HI)
            async with asyncio.timeout(2):
                await fake.until_requests(3)
            fake.script(stall_after=2)
            with pytest.raises(openai.APITimeoutError):
                stream = await k2.chat.completions.create(model="gpt-4o", messages=USER_HI, stream=True, timeout=0.3)
                async for _ in stream:
                    pass
        fake.script(delay=0.2)
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": "Bearer k2"}
            body = {"model": "gpt-4o", "messages": USER_HI}
            async with http.post(f"{fake.base_url}/chat/completions", json=body, headers=headers) as resp:
                assert resp.status == 200 and (await resp.json())["model"] == "gpt-4o"
    assert any(r.disconnected for r in fake.requests)


def test_edge_case_mode_still_parses_in_every_sdk() -> None:
    with (
        FakeServerThread(FakeOpenAI()) as fo,
        FakeServerThread(FakeAnthropic()) as fa,
        FakeServerThread(FakeGemini()) as fg,
    ):
        for fake in (fo, fa, fg):
            fake.script(text="edge text", chunks=4, tool_calls=[WEATHER], edge_cases=True)
        with oa(fo).chat.completions.stream(model="gpt-4o", messages=USER_HI) as s:
            assert s.get_final_completion().choices[0].message.content == "edge text"
        with oa(fo).responses.stream(model="gpt-5", input="hi") as s:
            assert s.get_final_response().output_text == "edge text"
        with an(fa).messages.stream(model="claude-opus-4-7", max_tokens=9, messages=USER_HI) as s:
            final = s.get_final_message()
        assert final.content[0].text == "edge text" and final.content[1].input == WEATHER.arguments
        gemini = gg(fg)
        chunks = list(gemini.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"))
        assert "".join(c.text or "" for c in chunks) == "edge text"
        raw = raw_post(
            f"{fa.base_url}/v1/messages",
            {"model": "m", "max_tokens": 5, "messages": USER_HI, "stream": True},
            {"x-api-key": fa.api_key, "anthropic-version": "2023-06-01"},
        )
        assert [e for e, _ in parse_sse(raw.content)].count("ping") > 1


def test_stalled_stream_notices_the_client_hanging_up(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(stall_after=2)
    body = {"model": "claude-haiku-4-5", "max_tokens": 5, "messages": USER_HI, "stream": True}
    headers = {"x-api-key": fake_anthropic.api_key, "anthropic-version": "2023-06-01"}
    with httpx.stream("POST", f"{fake_anthropic.base_url}/v1/messages", json=body, headers=headers) as resp:
        assert next(resp.iter_lines()) == "event: message_start"
        assert fake_anthropic.wait_for_requests(1)
        assert not fake_anthropic.last_request.disconnected
    for _ in range(200):
        if fake_anthropic.last_request.disconnected:
            break
        time.sleep(0.01)
    assert fake_anthropic.last_request.disconnected and not fake_anthropic.last_request.completed
