"""A Codex session of several turns with tool calls, over HTTP and over the WebSocket, while its route
moves mid-session: a failover to an upstream of another dialect, and a config change through the
management API. Every turn must succeed and the upstream that takes over must get the whole history."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import httpx
import pytest

from tests.fakes import ToolCall, Usage, parse_sse
from tests.request_path.codex_client import (
    CodexSocket,
    call_output,
    codex_body,
    codex_headers,
    final,
    new_session,
    output_items,
    user,
)
from tests.request_path.codex_stack import codex_stack

USAGE = Usage(input_tokens=500, output_tokens=60)
MODELS = """  Switch: ["openai/gpt-5", "anthropic/claude-sonnet-4-6"]
  Flip: {openai: gpt-5}
"""


@pytest.fixture(scope="module")
def stack():
    with codex_stack(MODELS) as s:
        yield s


@pytest.fixture(autouse=True)
def _reset(stack):
    stack.reset()


def _http_turn(stack, body: dict[str, Any], sid: str) -> list[dict[str, Any]]:
    """One Codex turn over HTTP: the whole history, streamed back as SSE."""
    r = httpx.post(stack.engine.url + "/v1/responses", json=body, headers=codex_headers(sid), timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    return [data for _, data in parse_sse(r.content)]


def _as_input(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Output items as Codex sends them back in the next request's input (without server ids)."""
    return [{k: v for k, v in i.items() if k not in ("id", "status")} for i in items]


def _anthropic_roles(stack) -> list[str]:
    return [m["role"] for m in stack.anthropic.last_request.json["messages"]]


def _put_models(stack, old: str, new: str) -> None:
    got = stack.engine.api("GET", "/v0/config").json()
    assert old in got["text"]
    r = stack.engine.api("PUT", "/v0/config", json={"text": got["text"].replace(old, new)})
    assert r.status_code == 200 and r.json()["ok"], r.text


def test_http_session_fails_over_to_another_dialect_mid_session(stack):
    sid = new_session()
    stack.openai.queue(text="", tool_calls=[ToolCall("shell", {"command": ["ls"]}, id="call_a")], usage=USAGE)
    stack.openai.queue(status=500, error_message="openai is down")
    stack.anthropic.queue(text="", tool_calls=[ToolCall("shell", {"command": ["cat", "a"]}, id="toolu_b")], usage=USAGE)
    stack.anthropic.queue(text="All done.", usage=USAGE)
    history = [user("look around")]
    first = _http_turn(stack, codex_body("Switch", history, sid), sid)
    history += [*_as_input(output_items(first)), call_output("call_a", "a")]
    second = _http_turn(stack, codex_body("Switch", history, sid), sid)  # openai fails: Anthropic takes it
    calls = [i for i in output_items(second) if i["type"] == "function_call"]
    assert [c["call_id"] for c in calls] == ["toolu_b"]
    assert _anthropic_roles(stack) == ["user", "assistant", "user"]
    history += [*_as_input(output_items(second)), call_output("toolu_b", "hello")]
    third = _http_turn(stack, codex_body("Switch", history, sid), sid)
    assert final(third)["output"][-1]["content"][0]["text"] == "All done."
    assert _anthropic_roles(stack) == ["user", "assistant", "user", "assistant", "user"]
    assert stack.openai.requests[0].headers["originator"] == "codex_cli_rs"


async def test_socket_session_fails_over_to_another_dialect_mid_session(stack):
    sid = new_session()
    stack.openai.queue(text="", tool_calls=[ToolCall("shell", {"command": ["ls"]}, id="call_a")], usage=USAGE)
    stack.openai.queue(status=503, error_message="overloaded")
    stack.anthropic.queue(text="", tool_calls=[ToolCall("shell", {"command": ["cat", "a"]}, id="toolu_b")], usage=USAGE)
    stack.anthropic.queue(text="Finished over the socket.", usage=USAGE)
    async with aiohttp.ClientSession() as http:
        url = stack.engine.url.replace("http", "ws", 1) + "/v1/responses"
        async with http.ws_connect(url, headers=codex_headers(sid, socket=True)) as raw:
            ws = CodexSocket(raw)
            first = await ws.turn(codex_body("Switch", [user("look around")], sid))
            sent = [r.method for r in stack.openai.requests if r.method != "GET"]  # GET: the upgrade itself
            assert sent == ["WS"], "the first turn is passed through"
            prev = final(first)["id"]
            second = await ws.turn(codex_body("Switch", [call_output("call_a", "a")], sid), previous_response_id=prev)
            assert [i["call_id"] for i in output_items(second) if i["type"] == "function_call"] == ["toolu_b"]
            assert _anthropic_roles(stack) == ["user", "assistant", "user"]
            prev = final(second)["id"]
            third = await ws.turn(codex_body("Switch", [call_output("toolu_b", "hi")], sid), previous_response_id=prev)
            assert final(third)["output"][-1]["content"][0]["text"] == "Finished over the socket."
            assert _anthropic_roles(stack) == ["user", "assistant", "user", "assistant", "user"]
    tool_results = [b for m in stack.anthropic.last_request.json["messages"] for b in m["content"]
                    if isinstance(b, dict) and b.get("type") == "tool_result"]  # fmt: skip
    assert [b["tool_use_id"] for b in tool_results] == ["call_a", "toolu_b"]


async def test_config_change_moves_a_socket_session_to_another_upstream(stack):
    sid = new_session()
    stack.openai.queue(text="", tool_calls=[ToolCall("shell", {"command": ["pwd"]}, id="call_p")], usage=USAGE)
    stack.anthropic.queue(text="Still here after the switch.", usage=USAGE)
    async with aiohttp.ClientSession() as http:
        url = stack.engine.url.replace("http", "ws", 1) + "/v1/responses"
        async with http.ws_connect(url, headers=codex_headers(sid, socket=True)) as raw:
            ws = CodexSocket(raw)
            first = await ws.turn(codex_body("Flip", [user("where?")], sid))
            _put_models(stack, "Flip: {openai: gpt-5}", "Flip: {anthropic: claude-sonnet-4-6}")
            try:
                prev = final(first)["id"]
                body = codex_body("Flip", [call_output("call_p", "/srv")], sid)
                second = await ws.turn(body, previous_response_id=prev)
            finally:
                _put_models(stack, "Flip: {anthropic: claude-sonnet-4-6}", "Flip: {openai: gpt-5}")
    assert final(second)["output"][-1]["content"][0]["text"] == "Still here after the switch."
    sent = stack.anthropic.last_request.json
    assert sent["model"] == "claude-sonnet-4-6" and _anthropic_roles(stack) == ["user", "assistant", "user"]
    assert json.dumps(sent).count("call_p") == 2, "the tool call and its output both reach the new upstream"
