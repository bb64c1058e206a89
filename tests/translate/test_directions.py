"""Every client dialect against every upstream dialect: requests, whole responses and streams.

Requests are checked with the fake providers' validators; answers are rendered by the fakes' renderers
(the providers' real wire shapes), translated, and read back under each client dialect's protocol rules.
"""

from __future__ import annotations

import json

import pytest

from proxy_engine.translate import get_translator
from tests.fakes.script import Script, ToolCall, Usage
from tests.translate.kit import (
    PAIRS,
    UP_MODEL,
    client_body,
    collect,
    render_events,
    render_json,
    validate_upstream,
)

SCENARIOS = ("plain", "tools", "tool_result", "image", "thinking")
FINISH_TOOL = {
    "openai_chat": "tool_calls",
    "anthropic": "tool_use",
    "gemini": "STOP",
    "openai_responses": "completed",
}
FINISH_STOP = {
    "openai_chat": "stop",
    "anthropic": "end_turn",
    "gemini": "STOP",
    "openai_responses": "completed",
}


def _translate_request(client: str, upstream: str, scenario: str, stream: bool) -> tuple[object, dict]:
    tr = get_translator(client, upstream)
    assert tr is not None
    body = client_body(client, scenario, stream=stream)
    up = tr.request(body, model=UP_MODEL[upstream], stream=stream, thinking_budget=8000)
    validate_upstream(upstream, up)
    return tr, up


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize(("client", "upstream"), PAIRS)
@pytest.mark.parametrize("stream", [False, True])
def test_request_is_valid_for_upstream(client: str, upstream: str, scenario: str, stream: bool) -> None:
    _, up = _translate_request(client, upstream, scenario, stream)
    if upstream == "gemini":
        assert "model" not in up and "stream" not in up
    else:
        assert up["model"] == UP_MODEL[upstream]
        assert bool(up.get("stream")) is stream
    if upstream == "openai_chat" and stream:
        assert up["stream_options"] == {"include_usage": True}


def _script(scenario: str) -> Script:
    usage = Usage(input_tokens=120, output_tokens=40, cache_read_tokens=20, reasoning_tokens=0)
    if scenario == "tools":
        calls = [
            ToolCall("get_weather", {"city": "Paris"}),
            ToolCall("get_weather", {"city": "Rome", "days": 3}),
        ]
        return Script(text="", tool_calls=calls, usage=usage, arg_chunks=5)
    if scenario == "thinking":
        usage.reasoning_tokens = 10
        return Script(text="It is 4.", thinking="Two plus two is four.", usage=usage)
    return Script(text="Sunny in Paris, rainy in Rome.", usage=usage, chunks=4)


def _check_answer(client: str, upstream: str, scenario: str, got: dict) -> None:
    """`got`: text, thinking, calls, finish, usage as read from the client's side."""
    if scenario == "tools":
        assert [c["name"] for c in got["calls"]] == ["get_weather", "get_weather"]
        assert [json.loads(c["arguments"]) for c in got["calls"]] == [
            {"city": "Paris"},
            {"city": "Rome", "days": 3},
        ]
        ids = [c["id"] for c in got["calls"]]
        assert all(ids) and len(set(ids)) == 2
        assert got["finish"] == FINISH_TOOL[client]
    else:
        expected = "It is 4." if scenario == "thinking" else "Sunny in Paris, rainy in Rome."
        assert got["text"] == expected
        assert got["finish"] == FINISH_STOP[client]
    if scenario == "thinking":
        assert got["thinking"] == "Two plus two is four."
    else:
        assert not got["thinking"]


def _usage_total_input(client: str, usage: dict) -> int:
    if client == "openai_chat":
        return usage["prompt_tokens"]
    if client == "openai_responses":
        return usage["input_tokens"]
    if client == "anthropic":
        return usage["input_tokens"] + usage["cache_read_input_tokens"] + usage["cache_creation_input_tokens"]
    return usage["promptTokenCount"]


def _usage_output(client: str, usage: dict) -> int:
    if client == "openai_chat":
        return usage["completion_tokens"]
    if client == "gemini":
        return usage["candidatesTokenCount"] + usage.get("thoughtsTokenCount", 0)
    return usage["output_tokens"]


def _read_json(client: str, resp: dict) -> dict:
    got = {"text": "", "thinking": "", "calls": [], "finish": None, "usage": {}}
    if client == "openai_chat":
        msg = resp["choices"][0]["message"]
        got.update(
            text=msg["content"] or "",
            thinking=msg.get("reasoning_content", ""),
            finish=resp["choices"][0]["finish_reason"],
            usage=resp["usage"],
            calls=[
                {"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
                for c in msg.get("tool_calls") or []
            ],
        )
    elif client == "anthropic":
        for b in resp["content"]:
            if b["type"] == "text":
                got["text"] += b["text"]
            elif b["type"] == "thinking":
                got["thinking"] += b["thinking"]
            elif b["type"] == "tool_use":
                got["calls"].append({"id": b["id"], "name": b["name"], "arguments": json.dumps(b["input"])})
        got.update(finish=resp["stop_reason"], usage=resp["usage"])
    elif client == "openai_responses":
        for item in resp["output"]:
            if item["type"] == "message":
                got["text"] += "".join(c["text"] for c in item["content"])
            elif item["type"] == "reasoning":
                got["thinking"] += "".join(s["text"] for s in item["summary"])
            elif item["type"] == "function_call":
                got["calls"].append({"id": item["call_id"], "name": item["name"], "arguments": item["arguments"]})
        got.update(finish=resp["status"], usage=resp["usage"])
    else:
        cand = resp["candidates"][0]
        for p in cand["content"]["parts"]:
            if p.get("thought"):
                got["thinking"] += p["text"]
            elif "text" in p:
                got["text"] += p["text"]
            elif "functionCall" in p:
                fc = p["functionCall"]
                got["calls"].append({"id": fc["id"], "name": fc["name"], "arguments": json.dumps(fc["args"])})
        got.update(finish=cand["finishReason"], usage=resp["usageMetadata"])
    return got


@pytest.mark.parametrize("scenario", ["plain", "tools", "thinking"])
@pytest.mark.parametrize(("client", "upstream"), PAIRS)
def test_whole_response(client: str, upstream: str, scenario: str) -> None:
    tr, up = _translate_request(client, upstream, scenario if scenario != "plain" else "plain", False)
    script = _script(scenario)
    answer = tr.response(render_json(upstream, script, up, UP_MODEL[upstream]), model="Smart")
    got = _read_json(client, answer)
    _check_answer(client, upstream, scenario, got)
    assert _usage_total_input(client, got["usage"]) == 120
    assert _usage_output(client, got["usage"]) == 40
    assert tr.usage is not None and tr.usage["input_tokens"] == 120 and tr.usage["cache_read_tokens"] == 20


@pytest.mark.parametrize("edge", [False, True])
@pytest.mark.parametrize("scenario", ["plain", "tools", "thinking"])
@pytest.mark.parametrize(("client", "upstream"), PAIRS)
def test_stream(client: str, upstream: str, scenario: str, edge: bool) -> None:
    tr, up = _translate_request(client, upstream, scenario, True)
    script = _script(scenario)
    script.edge_cases = edge
    st = tr.stream("Smart")
    raw = b"".join(st.feed(ev) for ev in render_events(upstream, script, up, UP_MODEL[upstream])) + st.finish()
    got = collect(client, raw)
    assert got.error is None
    _check_answer(client, upstream, scenario, got.__dict__)
    assert _usage_total_input(client, got.usage) == 120
    assert _usage_output(client, got.usage) == 40
    assert st.usage is not None and st.usage["input_tokens"] == 120 and st.usage["cache_read_tokens"] == 20
