"""The official SDKs read translated answers: each SDK against each fake upstream of another dialect.

A small translating relay (a real aiohttp server on 127.0.0.1, no engine) sits between the SDK and the
fake: it calls the translation package exactly as the proxy does (request -> upstream HTTP -> response or
stream events -> client bytes). The fake rejects any request that is invalid for its own API, so a
passing test proves both ends: the upstream accepted the encoded request and the SDK parsed the reply.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from aiohttp import web
from google import genai
from google.genai import types

from proxy_engine.dialects.sse import SSEFramer, block_data
from proxy_engine.translate import TranslationError, get_translator
from tests.fakes import FakeAnthropic, FakeGemini, FakeOpenAI, FakeServerThread, ToolCall, Usage
from tests.test_translate_kit import PNG_1PX, UP_MODEL

CLIENT_ROUTES = {
    "/v1/chat/completions": "openai_chat",
    "/v1/responses": "openai_responses",
    "/v1/messages": "anthropic",
}


class Relay:
    """Translate between an SDK (client dialect by route) and one upstream fake of `upstream` dialect."""

    def __init__(self) -> None:
        self.upstream = "openai_chat"
        self.fake: Any = None
        self.port = 0
        self.warnings: list[str] = []
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        app = web.Application()
        for path in CLIENT_ROUTES:
            app.router.add_post(path, self._handle)
        app.router.add_post("/v1beta/models/{action}", self._handle)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _target(self, stream: bool) -> tuple[str, dict[str, str]]:
        fake, model = self.fake, UP_MODEL[self.upstream]
        if self.upstream == "openai_chat":
            return f"{fake.base_url}/chat/completions", {"Authorization": f"Bearer {fake.api_key}"}
        if self.upstream == "openai_responses":
            return f"{fake.base_url}/responses", {"Authorization": f"Bearer {fake.api_key}"}
        if self.upstream == "anthropic":
            return f"{fake.origin}/v1/messages", {
                "x-api-key": fake.api_key,
                "anthropic-version": "2023-06-01",
            }
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"{fake.origin}/v1beta/models/{model}:{action}", {"x-goog-api-key": fake.api_key}

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        client = CLIENT_ROUTES.get(request.path, "gemini")
        body = await request.json()
        stream = bool(body.get("stream"))
        sse = True
        if client == "gemini":
            stream = request.match_info["action"].endswith(":streamGenerateContent")
            sse = request.query.get("alt") == "sse"
        tr = get_translator(client, self.upstream)
        assert tr is not None
        try:
            up_body = tr.request(body, model=UP_MODEL[self.upstream], stream=stream, thinking_budget=8000)
        except TranslationError as exc:
            status, payload = tr.error(exc.status, json.dumps({"error": {"message": exc.message}}).encode())
            return web.Response(status=status, body=payload, content_type="application/json")
        self.warnings = tr.warnings
        url, headers = self._target(stream)
        assert self._session is not None
        async with self._session.post(url, json=up_body, headers=headers) as up:
            if up.status >= 400:
                status, payload = tr.error(up.status, await up.read())
                return web.Response(status=status, body=payload, content_type="application/json")
            if not stream:
                out = tr.response(await up.json(), model_requested=body.get("model", "Smart"))
                return web.json_response(out)
            ctype = "text/event-stream" if sse else "application/json"
            resp = web.StreamResponse(headers={"Content-Type": ctype})
            await resp.prepare(request)
            st = tr.stream(body.get("model", "Smart"), client_sse=sse)
            framer = SSEFramer()
            try:
                async for chunk in up.content.iter_any():
                    for block in framer.feed(chunk):
                        data = block_data(block)
                        if data and data != b"[DONE]":
                            await resp.write(st.feed(json.loads(data)))
                await resp.write(st.finish())
            except aiohttp.ClientPayloadError:
                await resp.write(st.fail("upstream connection lost"))
            await resp.write_eof()
            return resp


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, Any]]:
    with (
        FakeServerThread(FakeOpenAI()) as oa,
        FakeServerThread(FakeAnthropic()) as an,
        FakeServerThread(FakeGemini(strict=True)) as gm,
        FakeServerThread(Relay()) as relay,  # type: ignore[type-var]
    ):
        yield {"openai_chat": oa, "openai_responses": oa, "anthropic": an, "gemini": gm, "relay": relay}


UPSTREAMS = ("openai_chat", "openai_responses", "anthropic", "gemini")
PAIRS = [
    (sdk, up)
    for sdk in ("openai_chat", "openai_responses", "anthropic", "gemini")
    for up in UPSTREAMS
    if sdk != up
]
USAGE = Usage(input_tokens=50, output_tokens=12, cache_read_tokens=10)


@pytest.fixture
def env(fakes: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any, str]]:
    sdk, upstream = request.param
    fake, relay = fakes[upstream], fakes["relay"]
    fake.reset()
    relay.upstream, relay.fake = upstream, fake
    url = f"http://127.0.0.1:{relay.port}"
    if sdk in ("openai_chat", "openai_responses"):
        client: Any = openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
    elif sdk == "anthropic":
        client = anthropic.Anthropic(base_url=url, api_key="k", max_retries=0)
    else:
        client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=url, api_version="v1beta"))
    yield client, fake, sdk
    client.close()


TOOL_SPEC = {
    "name": "get_weather",
    "description": "Weather for a city",
    "schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
}


def ask(
    client: Any,
    sdk: str,
    prompt: Any,
    *,
    stream: bool = False,
    tools: bool = False,
    thinking: bool = False,
    history: list | None = None,
) -> dict:
    """One turn through the SDK; returns text, thinking, calls and usage as the SDK parsed them."""
    return {
        "openai_chat": _ask_chat,
        "openai_responses": _ask_responses,
        "anthropic": _ask_anthropic,
        "gemini": _ask_gemini,
    }[sdk](client, prompt, stream, tools, thinking, history)


def _ask_chat(
    client: Any, prompt: Any, stream: bool, tools: bool, thinking: bool, history: list | None
) -> dict:
    messages = history or [{"role": "user", "content": prompt}]
    kw: dict[str, Any] = {"model": "Smart", "messages": messages}
    if tools:
        kw["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": TOOL_SPEC["name"],
                    "description": TOOL_SPEC["description"],
                    "parameters": TOOL_SPEC["schema"],
                },
            }
        ]
    if thinking:
        kw["reasoning_effort"] = "medium"
    if stream:
        with client.chat.completions.stream(**kw, stream_options={"include_usage": True}) as s:
            for _ in s:
                pass
            done = s.get_final_completion()
    else:
        done = client.chat.completions.create(**kw)
    msg = done.choices[0].message
    calls = [
        {"id": c.id, "name": c.function.name, "args": json.loads(c.function.arguments)}
        for c in msg.tool_calls or []
    ]
    extra = msg.model_extra or {}
    return {
        "text": msg.content or "",
        "thinking": extra.get("reasoning_content") or "",
        "calls": calls,
        "input": done.usage.prompt_tokens,
        "output": done.usage.completion_tokens,
        "raw": msg,
    }


def _ask_responses(
    client: Any, prompt: Any, stream: bool, tools: bool, thinking: bool, history: list | None
) -> dict:
    kw: dict[str, Any] = {"model": "Smart", "input": history or [{"role": "user", "content": prompt}]}
    if tools:
        kw["tools"] = [
            {
                "type": "function",
                "name": TOOL_SPEC["name"],
                "description": TOOL_SPEC["description"],
                "parameters": TOOL_SPEC["schema"],
                "strict": False,
            }
        ]
    if thinking:
        kw["reasoning"] = {"effort": "medium", "summary": "auto"}
    if stream:
        with client.responses.stream(**kw) as s:
            for _ in s:
                pass
            done = s.get_final_response()
    else:
        done = client.responses.create(**kw)
    calls, reasoning = [], ""
    for item in done.output:
        if item.type == "function_call":
            calls.append({"id": item.call_id, "name": item.name, "args": json.loads(item.arguments)})
        elif item.type == "reasoning":
            reasoning += "".join(s.text for s in item.summary)
    return {
        "text": done.output_text,
        "thinking": reasoning,
        "calls": calls,
        "input": done.usage.input_tokens,
        "output": done.usage.output_tokens,
        "raw": done.output,
    }


def _ask_anthropic(
    client: Any, prompt: Any, stream: bool, tools: bool, thinking: bool, history: list | None
) -> dict:
    kw: dict[str, Any] = {
        "model": "Smart",
        "max_tokens": 2048,
        "messages": history or [{"role": "user", "content": prompt}],
    }
    if tools:
        kw["tools"] = [
            {
                "name": TOOL_SPEC["name"],
                "description": TOOL_SPEC["description"],
                "input_schema": TOOL_SPEC["schema"],
            }
        ]
    if thinking:
        kw["thinking"] = {"type": "enabled", "budget_tokens": 1024}
    if stream:
        with client.messages.stream(**kw) as s:
            for _ in s:
                pass
            done = s.get_final_message()
    else:
        done = client.messages.create(**kw)
    text = "".join(b.text for b in done.content if b.type == "text")
    reasoning = "".join(b.thinking for b in done.content if b.type == "thinking")
    calls = [{"id": b.id, "name": b.name, "args": b.input} for b in done.content if b.type == "tool_use"]
    u = done.usage
    total_in = u.input_tokens + (u.cache_read_input_tokens or 0) + (u.cache_creation_input_tokens or 0)
    return {
        "text": text,
        "thinking": reasoning,
        "calls": calls,
        "input": total_in,
        "output": u.output_tokens,
        "raw": done.content,
    }


def _ask_gemini(
    client: Any, prompt: Any, stream: bool, tools: bool, thinking: bool, history: list | None
) -> dict:
    config: dict[str, Any] = {}
    if tools:
        decl = types.FunctionDeclaration(
            name=TOOL_SPEC["name"],
            description=TOOL_SPEC["description"],
            parameters_json_schema=TOOL_SPEC["schema"],
        )
        config["tools"] = [types.Tool(function_declarations=[decl])]
        config["automatic_function_calling"] = types.AutomaticFunctionCallingConfig(disable=True)
    if thinking:
        config["thinking_config"] = types.ThinkingConfig(thinking_budget=2048, include_thoughts=True)
    contents = history or prompt
    cfg = types.GenerateContentConfig(**config) if config else None
    if stream:
        chunks = list(client.models.generate_content_stream(model="Smart", contents=contents, config=cfg))
    else:
        chunks = [client.models.generate_content(model="Smart", contents=contents, config=cfg)]
    text, reasoning, calls, parts = "", "", [], []
    for chunk in chunks:
        for part in chunk.candidates[0].content.parts or []:
            parts.append(part)
            if part.thought:
                reasoning += part.text or ""
            elif part.function_call:
                calls.append(
                    {
                        "id": part.function_call.id,
                        "name": part.function_call.name,
                        "args": part.function_call.args,
                    }
                )
            elif part.text:
                text += part.text
    usage = chunks[-1].usage_metadata
    return {
        "text": text,
        "thinking": reasoning,
        "calls": calls,
        "input": usage.prompt_token_count,
        "output": (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0),
        "raw": parts,
    }


ALL = pytest.mark.parametrize("env", PAIRS, indirect=True, ids=[f"{a}-via-{b}" for a, b in PAIRS])


@ALL
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_plain_text(env: tuple[Any, Any, str], stream: bool) -> None:
    client, fake, sdk = env
    fake.script(text="Hello from the other side.", usage=USAGE, chunks=4)
    got = ask(client, sdk, "Hi there", stream=stream)
    assert got["text"] == "Hello from the other side."
    assert got["input"] == 50 and got["output"] == 12
    assert "Hi there" in json.dumps(fake.last_request.json)


@ALL
def test_image_input(env: tuple[Any, Any, str]) -> None:
    client, fake, sdk = env
    fake.script(text="A single pixel.")
    if sdk == "openai_chat":
        prompt: Any = [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}"}},
        ]
    elif sdk == "openai_responses":
        prompt = [
            {"type": "input_text", "text": "What is this?"},
            {"type": "input_image", "image_url": f"data:image/png;base64,{PNG_1PX}"},
        ]
    elif sdk == "anthropic":
        prompt = [
            {"type": "text", "text": "What is this?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_1PX}},
        ]
    else:
        prompt = [
            types.Part.from_text(text="What is this?"),
            types.Part.from_bytes(data=__import__("base64").b64decode(PNG_1PX), mime_type="image/png"),
        ]
    assert ask(client, sdk, prompt)["text"] == "A single pixel."
    sent = json.dumps(fake.last_request.json)
    assert PNG_1PX in sent and "What is this?" in sent


@ALL
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_tool_round_trip(env: tuple[Any, Any, str], stream: bool) -> None:
    client, fake, sdk = env
    fake.queue(text="", tool_calls=[ToolCall("get_weather", {"city": "Paris"})], arg_chunks=6)
    first = ask(client, sdk, "Weather in Paris?", stream=stream, tools=True)
    assert [(c["name"], c["args"]) for c in first["calls"]] == [("get_weather", {"city": "Paris"})]
    call = first["calls"][0]
    fake.queue(text="It is sunny in Paris.")
    history = _history_with_result(sdk, first, call, "sunny, 21C")
    second = ask(client, sdk, None, stream=stream, tools=True, history=history)
    assert second["text"] == "It is sunny in Paris."
    upstream_saw = json.dumps(fake.last_request.json)
    assert "sunny, 21C" in upstream_saw and "get_weather" in upstream_saw


def _history_with_result(sdk: str, first: dict, call: dict, result: str) -> list:
    if sdk == "openai_chat":
        return [
            {"role": "user", "content": "Weather in Paris?"},
            first["raw"].model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call["id"], "content": result},
        ]
    if sdk == "openai_responses":
        items = [i.model_dump(exclude_none=True) for i in first["raw"]]
        return [
            {"role": "user", "content": "Weather in Paris?"},
            *items,
            {"type": "function_call_output", "call_id": call["id"], "output": result},
        ]
    if sdk == "anthropic":
        return [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first["raw"]]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": result}],
            },
        ]
    response = types.Part.from_function_response(name=call["name"], response={"output": result})
    return [
        types.Content(role="user", parts=[types.Part.from_text(text="Weather in Paris?")]),
        types.Content(role="model", parts=first["raw"]),
        types.Content(role="user", parts=[response]),
    ]


@ALL
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_thinking(env: tuple[Any, Any, str], stream: bool) -> None:
    client, fake, sdk = env
    fake.script(
        text="Four.",
        thinking="Two and two make four.",
        usage=Usage(input_tokens=30, output_tokens=20, reasoning_tokens=8),
    )
    got = ask(client, sdk, "2+2?", stream=stream, thinking=True)
    assert got["text"] == "Four."
    assert got["thinking"] == "Two and two make four."
    sent = fake.last_request.json
    if fake is not None and isinstance(fake, FakeAnthropic):
        assert sent["thinking"]["type"] == "enabled" and sent["thinking"]["budget_tokens"] >= 1024
    elif isinstance(fake, FakeGemini):
        assert sent["generationConfig"]["thinkingConfig"]["includeThoughts"] is True
    elif "reasoning" in sent:
        assert sent["reasoning"]["effort"] in ("low", "medium", "high")
    else:
        assert sent["reasoning_effort"] in ("low", "medium", "high")


@ALL
def test_upstream_error_reaches_sdk_in_its_own_shape(env: tuple[Any, Any, str]) -> None:
    client, fake, sdk = env
    fake.script(status=429, error_message="slow down please", retry_after=1)
    with pytest.raises(Exception) as info:
        ask(client, sdk, "Hi")
    err = info.value
    status = getattr(err, "status_code", None) or getattr(err, "code", None)
    assert status == 429
    assert "slow down please" in str(err)
