"""The translation matrix through one real engine: every client SDK on every upstream dialect.

One `proxypal-engine serve` subprocess routes `oai/...` to a fake OpenAI chat upstream, `ant/...` to a fake
Anthropic and `gem/...` to a fake Gemini (strict: unknown fields are rejected as the live API does). Each
test asserts both ends: what the upstream received, read from its own wire shape after the fake's validator
accepted it (the tool result as its tool-result shape, the image as its image shape, thinking as its own
setting), and what the client SDK parsed (text, tool calls with parsed arguments, reasoning, usage).
Same-dialect pairs (chat on chat, anthropic on anthropic, gemini on gemini) are included: they exercise the
byte pass-through with the same assertions. Engine-level stream edge cases close the file.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx
import openai
import pytest

from proxy_engine.translate.thinking import WRAP_PREFIX
from tests.engine_harness import EngineProcess, free_port
from tests.fakes import (
    FakeAnthropic,
    FakeGemini,
    FakeOpenAI,
    FakeServerThread,
    Script,
    ToolCall,
    Usage,
    parse_sse,
    split_text,
)
from tests.fakes.base import InvalidRequest, RecordedRequest
from tests.fakes.gemini_validate import get as gget
from tests.translate.kit import PNG_1PX, validate_upstream
from tests.translate.sdks import (
    IMAGE_QUESTION,
    SDKS,
    SYSTEM,
    THINKING_ASKED,
    TOOLS,
    ask,
    history_with_results,
    image_prompt,
    make_clients,
)

UPSTREAMS = ("openai_chat", "anthropic", "gemini")
MODELS = {"openai_chat": "gpt-4o", "anthropic": "claude-sonnet-4-5", "gemini": "gemini-2.5-flash"}
ROUTE = {"openai_chat": "oai", "anthropic": "ant", "gemini": "gem"}
PAIRS = [(sdk, up) for sdk in SDKS for up in UPSTREAMS]
TRANSLATED = [(sdk, up) for sdk, up in PAIRS if sdk != up]
USAGE = Usage(input_tokens=50, output_tokens=12, cache_read_tokens=10)
CALLS = [
    ToolCall("get_weather", {"city": "Paris"}, id="toolu_weather01"),
    ToolCall("get_time", {"zone": "Europe/Paris"}, id="toolu_time02"),
]
RESULTS = {"get_weather": "sunny, 21C", "get_time": "14:05"}
SIGNATURE = Script().signature()  # what the fakes sign thinking with


def _ids(pairs: list[tuple[str, str]]) -> list[str]:
    return [f"{sdk}-{'passthrough' if sdk == up else 'on-' + up}" for sdk, up in pairs]


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, Any]]:
    with (
        FakeServerThread(FakeOpenAI()) as fo,
        FakeServerThread(FakeAnthropic()) as fa,
        FakeServerThread(FakeGemini(strict=True)) as fg,
    ):
        port = free_port()
        config = f"""port: {port}
providers:
  oai: {{kind: openai, base_url: "{fo.base_url}", api_key: env:OK, dialects: [openai_chat]}}
  ant: {{kind: anthropic, base_url: "{fa.base_url}", api_key: env:AK}}
  gem: {{kind: gemini, base_url: "{fg.base_url}", api_key: env:GK}}
"""
        with EngineProcess(config, port) as eng:
            clients = make_clients(eng.url)
            yield {"engine": eng, "clients": clients, "openai_chat": fo, "anthropic": fa, "gemini": fg}
            for client in {id(c): c for c in clients.values()}.values():
                client.close()


@dataclass
class Case:
    sdk: str
    upstream: str
    client: Any
    fake: Any
    engine: EngineProcess

    @property
    def model(self) -> str:
        return f"{ROUTE[self.upstream]}/{MODELS[self.upstream]}"

    def ask(self, prompt: Any = None, **kw: Any) -> Any:
        return ask(self.client, self.sdk, self.model, prompt, **kw)

    def sent(self, index: int = -1) -> Sent:
        """What the upstream received, after checking it is valid for the upstream's own API."""
        rec = self.fake.requests[index]
        validate_upstream(self.upstream, rec.json)
        return READERS[self.upstream](rec)


@pytest.fixture
def case(stack: dict[str, Any], request: pytest.FixtureRequest) -> Case:
    sdk, upstream = request.param
    fake = stack[upstream]
    fake.reset()
    return Case(sdk, upstream, stack["clients"][sdk], fake, stack["engine"])


ALL = pytest.mark.parametrize("case", PAIRS, indirect=True, ids=_ids(PAIRS))
CROSS = pytest.mark.parametrize("case", TRANSLATED, indirect=True, ids=_ids(TRANSLATED))
STREAM = pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])


# ---- what the upstream received, in each upstream's own shape ----


@dataclass
class Sent:
    model: str
    stream: bool
    system: str = ""
    user_text: str = ""
    images: list[tuple[str, str]] = field(default_factory=list)  # (media type, base64)
    tools: list[str] = field(default_factory=list)
    calls: list[tuple[str | None, str, dict]] = field(default_factory=list)  # assistant calls in history
    results: list[tuple[str | None, str | None, str]] = field(default_factory=list)  # (call id, name, text)
    thinking: Any = None


def _chat_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p["text"] for p in content if p["type"] == "text")


def read_openai_chat(rec: RecordedRequest) -> Sent:
    body = rec.json
    assert rec.path == "/v1/chat/completions"
    sent = Sent(model=body["model"], stream=body.get("stream") is True, thinking=body.get("reasoning_effort"))
    if sent.stream:
        assert body["stream_options"] == {"include_usage": True}
    for msg in body["messages"]:
        role, content = msg["role"], msg.get("content")
        if role in ("system", "developer"):
            sent.system += _chat_text(content)
        elif role == "user":
            sent.user_text += _chat_text(content)
            for part in content if isinstance(content, list) else []:
                if part["type"] == "image_url":
                    head, data = part["image_url"]["url"].split(",", 1)
                    assert head.startswith("data:") and head.endswith(";base64")
                    sent.images.append((head[5:-7], data))
        elif role == "assistant":
            for call in msg.get("tool_calls") or []:
                fn = call["function"]
                sent.calls.append((call["id"], fn["name"], json.loads(fn["arguments"])))
        elif role == "tool":
            sent.results.append((msg["tool_call_id"], None, _chat_text(content)))
    sent.tools = [t["function"]["name"] for t in body.get("tools") or []]
    return sent


def read_anthropic(rec: RecordedRequest) -> Sent:
    body = rec.json
    assert rec.path == "/v1/messages" and rec.headers["anthropic-version"]
    system = body.get("system") or ""
    sent = Sent(model=body["model"], stream=body.get("stream") is True, thinking=body.get("thinking"))
    sent.system = system if isinstance(system, str) else "".join(b["text"] for b in system)
    if sent.thinking:
        assert body["max_tokens"] > sent.thinking["budget_tokens"]
    for msg in body["messages"]:
        blocks = msg["content"] if isinstance(msg["content"], list) else [{"type": "text", "text": msg["content"]}]
        for block in blocks:
            kind = block["type"]
            if kind == "text" and msg["role"] == "user":
                sent.user_text += block["text"]
            elif kind == "image":
                src = block["source"]
                assert src["type"] == "base64"
                sent.images.append((src["media_type"], src["data"]))
            elif kind == "tool_use":
                sent.calls.append((block["id"], block["name"], block["input"]))
            elif kind == "tool_result":
                content = block["content"]
                text = content if isinstance(content, str) else "".join(b["text"] for b in content)
                sent.results.append((block["tool_use_id"], None, text))
    sent.tools = [t["name"] for t in body.get("tools") or []]
    return sent


def read_gemini(rec: RecordedRequest) -> Sent:
    """Field names in camelCase or snake_case (Google accepts both; google-genai sends some snake_case)."""
    body = rec.json
    assert "model" not in body, "a Gemini body has no model: it is in the URL"
    model, _, action = rec.path.split("/models/", 1)[1].rpartition(":")
    stream = action == "streamGenerateContent"
    assert rec.query.get("alt") == ("sse" if stream else None)
    config = gget(body, "generationConfig") or {}
    thinking = gget(config, "thinkingConfig")
    if thinking is not None:
        thinking = {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): v for k, v in thinking.items()}
    sent = Sent(model=model, stream=stream, thinking=thinking)
    sent.system = "".join(p["text"] for p in (gget(body, "systemInstruction") or {}).get("parts", []))
    for content in body["contents"]:
        for part in content["parts"]:
            inline, call, resp = gget(part, "inlineData"), gget(part, "functionCall"), gget(part, "functionResponse")
            if "text" in part and content["role"] == "user":
                sent.user_text += part["text"]
            elif inline is not None:
                # proto JSON bytes: standard or URL-safe base64 (google-genai sends the latter)
                data = base64.b64decode(inline["data"].replace("-", "+").replace("_", "/"), validate=True)
                sent.images.append((gget(inline, "mimeType"), base64.b64encode(data).decode()))
            elif call is not None:
                sent.calls.append((call.get("id"), call["name"], call.get("args") or {}))
            elif resp is not None:
                sent.results.append((resp.get("id"), resp["name"], json.dumps(resp["response"])))
    decls = [gget(t, "functionDeclarations") or [] for t in body.get("tools") or []]
    sent.tools = [d["name"] for group in decls for d in group]
    return sent


READERS = {"openai_chat": read_openai_chat, "anthropic": read_anthropic, "gemini": read_gemini}


def expected_thinking(sdk: str, upstream: str, model: str) -> Any:
    """The upstream's own setting for what the client asked: effort <-> budget_tokens <-> thinkingConfig."""
    effort, budget = THINKING_ASKED[sdk]
    if upstream == "openai_chat":
        return effort
    if upstream == "anthropic":
        return {"type": "enabled", "budget_tokens": budget}
    return {"includeThoughts": True, "thinkingBudget": min(budget, 24576 if "flash" in model else 32768)}


# ---- the matrix ----


@ALL
@STREAM
def test_plain_text(case: Case, stream: bool) -> None:
    case.fake.script(text="Hello from the other side.", usage=USAGE, chunks=4)
    reply = case.ask("Say hello", stream=stream, system=SYSTEM)
    assert (reply.text, reply.calls, reply.input, reply.output) == ("Hello from the other side.", [], 50, 12)
    sent = case.sent()
    assert (sent.model, sent.stream) == (MODELS[case.upstream], stream)
    assert sent.user_text == "Say hello" and sent.system == SYSTEM


@ALL
@STREAM
def test_tool_round_trip(case: Case, stream: bool) -> None:
    """Two parallel calls, both results sent back, then the final answer: the second request carries the
    results in the client's dialect and must reach the upstream in its own tool-result shape."""
    case.fake.queue(text="", tool_calls=CALLS, arg_chunks=5, usage=USAGE)
    first = case.ask("Weather and time in Paris?", stream=stream, tools=True)
    assert [(c.name, c.args) for c in first.calls] == [(c.name, c.arguments) for c in CALLS]
    assert first.input == 50 and first.output == 12
    if case.upstream != "gemini" or case.sdk != "gemini":  # Gemini itself gives calls no ids
        assert all(c.id for c in first.calls) and len({c.id for c in first.calls}) == 2
    asked = case.sent()
    assert asked.tools == list(TOOLS) and not asked.results

    case.fake.queue(text="Sunny and 21C; it is 14:05.", usage=USAGE)
    history = history_with_results(case.sdk, "Weather and time in Paris?", first, RESULTS)
    second = case.ask(history=history, stream=stream, tools=True)
    assert (second.text, second.calls, second.input, second.output) == ("Sunny and 21C; it is 14:05.", [], 50, 12)

    sent = case.sent()
    assert [(name, args) for _, name, args in sent.calls] == [(c.name, c.arguments) for c in CALLS]
    assert len(sent.results) == 2
    for (call_id, name, text), call in zip(sent.results, CALLS, strict=True):
        assert RESULTS[call.name] in text
        if case.upstream == "gemini":
            assert name == call.name  # Gemini matches responses to calls by name
        else:  # the ids the upstream issued come back to it, each result tied to its own call
            assert call_id == call.id and [c[0] for c in sent.calls] == [c.id for c in CALLS]


@ALL
def test_image_input(case: Case) -> None:
    case.fake.script(text="A single pixel.", usage=USAGE)
    reply = case.ask(image_prompt(case.sdk))
    assert reply.text == "A single pixel." and reply.input == 50
    sent = case.sent()
    assert sent.images == [("image/png", PNG_1PX)]
    assert sent.user_text == IMAGE_QUESTION


@ALL
@STREAM
def test_thinking(case: Case, stream: bool) -> None:
    case.fake.script(
        text="Four.",
        thinking="Two and two make four.",
        chunks=3,
        usage=Usage(input_tokens=30, output_tokens=20, reasoning_tokens=8),
    )
    reply = case.ask("2+2?", stream=stream, thinking=True)
    assert reply.text == "Four."
    assert reply.thinking == "Two and two make four.", "the upstream's reasoning must reach the client"
    assert (reply.input, reply.output) == (30, 20)
    assert case.sent().thinking == expected_thinking(case.sdk, case.upstream, MODELS[case.upstream])


@ALL
@STREAM
def test_thinking_then_tool_round_trip_sends_signatures_home(case: Case, stream: bool) -> None:
    """Thinking, a call, its result: the thinking signature goes back to the provider that issued it and
    to no other (a foreign signature is a 400 "invalid signature")."""
    case.fake.queue(text="", thinking="I should look it up.", tool_calls=[CALLS[0]], chunks=3, usage=USAGE)
    first = case.ask("Weather in Paris?", stream=stream, tools=True, thinking=True)
    assert [(c.name, c.args) for c in first.calls] == [("get_weather", {"city": "Paris"})]
    assert first.thinking == "I should look it up."
    case.fake.queue(text="Sunny.", usage=USAGE)
    history = history_with_results(case.sdk, "Weather in Paris?", first, RESULTS)
    assert case.ask(history=history, stream=stream, tools=True, thinking=True).text == "Sunny."
    sent, body = case.sent(), case.fake.last_request.json
    assert sent.results[0][2].count(RESULTS["get_weather"]) == 1
    if case.upstream == "anthropic":
        turn = body["messages"][1]["content"]
        if case.sdk == "openai_chat":  # chat has no place for a signature: thinking is off for this turn
            assert "thinking" not in body and [b["type"] for b in turn] == ["tool_use"]
        else:
            assert turn[0] == {"type": "thinking", "thinking": "I should look it up.", "signature": SIGNATURE}
            assert [b["type"] for b in turn] == ["thinking", "tool_use"] and body["thinking"]["type"] == "enabled"
    elif case.upstream == "gemini":
        calls = [p for c in body["contents"] for p in c["parts"] if gget(p, "functionCall")]
        assert [gget(p, "thoughtSignature") for p in calls] == [SIGNATURE]
    else:
        assert WRAP_PREFIX not in json.dumps(body), "no signature may reach a provider that did not issue it"


# ---- stream edge cases, through the engine ----

PIECES = split_text("Partial answer here", 3)
CUT_AFTER = {"openai_chat": 3, "anthropic": 5, "gemini": 2}  # events up to and including the 2nd text piece
KNOWN_USAGE = {"openai_chat": (0, 0), "anthropic": (50, 1), "gemini": (50, 0)}  # what those events reported


@CROSS
def test_stream_tool_arguments_split_across_many_chunks(case: Case) -> None:
    """Arguments arrive in 40 pieces, with empty deltas, keep-alives and frames split across TCP writes."""
    args = {"city": 'São Paulo, "SP"', "note": "line one\nline two \\ with a backslash " * 3}
    case.fake.script(
        text="", tool_calls=[ToolCall("get_weather", args, id="toolu_split01")], arg_chunks=40, edge_cases=True
    )
    reply = case.ask("Weather?", stream=True, tools=True)
    assert [(c.name, c.args) for c in reply.calls] == [("get_weather", args)]
    assert reply.text == ""


def _record(engine: EngineProcess, model: str, seen: set[str]) -> dict[str, Any]:
    """The newest request record for `model` not in `seen` (records land just after the reply ends)."""
    for _ in range(100):
        fresh = [r for r in engine.records(10) if r["model_requested"] == model and r["id"] not in seen]
        if fresh:
            return fresh[0]
        time.sleep(0.02)
    raise AssertionError(f"no request record for {model}")


@CROSS
def test_stream_ending_without_final_usage_event(case: Case) -> None:
    """The upstream ends its body cleanly before its finish and usage events: the client still gets a
    complete stream in its own dialect, with the text so far and the usage known so far."""
    seen = {r["id"] for r in case.engine.records(50)}
    case.fake.script(text="Partial answer here", chunks=3, usage=USAGE, end_after=CUT_AFTER[case.upstream])
    reply = case.ask("Go on", stream=True)
    assert reply.text == PIECES[0] + PIECES[1]
    assert (reply.input, reply.output) == KNOWN_USAGE[case.upstream]
    rec = _record(case.engine, case.model, seen)
    assert (rec["status"], rec["dialect_in"], rec["dialect_out"]) == (200, case.sdk, case.upstream)
    assert rec["input_tokens"] == KNOWN_USAGE[case.upstream][0]


def _raw_stream(case: Case, prompt: str) -> list[tuple[str | None, Any]]:
    """Stream one request with plain HTTP and parse the client-side events (SDKs hide the error shape)."""
    url, body = case.engine.url, None
    if case.sdk == "openai_chat":
        url += "/v1/chat/completions"
        body = {"model": case.model, "stream": True, "messages": [{"role": "user", "content": prompt}]}
    elif case.sdk == "openai_responses":
        url += "/v1/responses"
        body = {"model": case.model, "stream": True, "input": prompt}
    elif case.sdk == "anthropic":
        url += "/v1/messages"
        body = {
            "model": case.model,
            "stream": True,
            "max_tokens": 64,
            "messages": [{"role": "user", "content": prompt}],
        }
    else:
        url += f"/v1beta/models/{case.model}:streamGenerateContent?alt=sse"
        body = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
    with httpx.stream("POST", url, json=body, timeout=10) as resp:
        assert resp.status_code == 200, "headers went out with the first chunk"
        return parse_sse(resp.read())


def _client_text(sdk: str, events: list[tuple[str | None, Any]]) -> str:
    out = ""
    for name, data in events:
        if not isinstance(data, dict):
            continue
        if sdk == "openai_chat" and data.get("choices"):
            out += data["choices"][0]["delta"].get("content") or ""
        elif sdk == "openai_responses" and name == "response.output_text.delta":
            out += data["delta"]
        elif sdk == "anthropic" and name == "content_block_delta":
            out += data["delta"].get("text", "")
        elif sdk == "gemini" and data.get("candidates"):
            out += "".join(p.get("text", "") for p in data["candidates"][0]["content"]["parts"])
    return out


@CROSS
def test_upstream_error_mid_stream_reaches_client_as_its_error_event(case: Case) -> None:
    case.fake.script(
        text="Partial answer here",
        chunks=3,
        stream_error_after=CUT_AFTER[case.upstream],
        error_message="Overloaded, try again",
    )
    events = _raw_stream(case, "Go on")
    assert _client_text(case.sdk, events) == PIECES[0] + PIECES[1]
    name, last = events[-1]
    if case.sdk == "anthropic":
        assert name == "error" and last["type"] == "error" and last["error"]["type"]
        assert "Overloaded, try again" in last["error"]["message"]
        assert "message_stop" not in [n for n, _ in events]
    elif case.sdk == "openai_responses":
        (ename, err), (fname, failed) = events[-2:]
        assert ename == "error" and "Overloaded, try again" in err["message"] and err["code"]
        assert fname == "response.failed" and failed["response"]["status"] == "failed"
        assert failed["response"]["output"][0]["content"][0]["text"] == PIECES[0] + PIECES[1]
    elif case.sdk == "openai_chat":
        assert "Overloaded, try again" in last["error"]["message"] and last["error"]["type"]
        assert "[DONE]" not in [d for _, d in events]
    else:
        assert "Overloaded, try again" in last["error"]["message"]
        assert isinstance(last["error"]["code"], int) and last["error"]["status"]


@pytest.mark.parametrize("case", [("anthropic", "openai_chat"), ("openai_chat", "gemini")], indirect=True)
def test_sdk_raises_on_an_upstream_error_mid_stream(case: Case) -> None:
    case.fake.script(text="Partial answer here", chunks=3, stream_error_after=CUT_AFTER[case.upstream])
    expected = anthropic.APIStatusError if case.sdk == "anthropic" else openai.APIError
    with pytest.raises(expected):
        case.ask("Go on", stream=True)


# ---- the upstream checks the matrix relies on reject what the real APIs reject ----

BAD_UPSTREAM_BODIES = {
    "anthropic image without a media type": (
        "anthropic",
        {"type": "image", "source": {"type": "base64", "data": PNG_1PX}},
    ),
    "anthropic image with a data URL as its data": (
        "anthropic",
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "data:image/png;base64,x"}},
    ),
    "openai image that is neither a URL nor base64 data": (
        "openai_chat",
        {"type": "image_url", "image_url": {"url": "image/png;" + PNG_1PX}},
    ),
    "gemini inline data that is not base64": (
        "gemini",
        {"inlineData": {"mimeType": "image/png", "data": "n0t base64!"}},
    ),
}


@pytest.mark.parametrize("upstream, part", BAD_UPSTREAM_BODIES.values(), ids=list(BAD_UPSTREAM_BODIES))
def test_upstream_validators_reject_malformed_images(upstream: str, part: dict) -> None:
    if upstream == "gemini":
        body: dict = {"contents": [{"role": "user", "parts": [{"text": "What?"}, part]}]}
    else:
        body = {
            "model": "m",
            "max_tokens": 9,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "?"}, part]}],
        }
    with pytest.raises(InvalidRequest):
        validate_upstream(upstream, body)
