"""The Responses WebSocket mode through the real engine: passed through to OpenAI and the Codex backend,
served by translation for other upstreams, several responses per connection, each one recorded."""

from __future__ import annotations

import json

import aiohttp
import pytest

from tests.fakes import ToolCall, Usage
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

USAGE = Usage(input_tokens=700, output_tokens=90)


@pytest.fixture(scope="module")
def stack():
    with codex_stack() as s:
        yield s


_SEEN: set[str] = set()


@pytest.fixture(autouse=True)
def _reset(stack):
    stack.reset()
    _SEEN.update(r["id"] for r in stack.engine.records())


@pytest.fixture
async def socket(stack):
    session_id = new_session()
    async with aiohttp.ClientSession() as http:
        url = stack.engine.url.replace("http", "ws", 1) + "/v1/responses"
        async with http.ws_connect(url, headers=codex_headers(session_id, socket=True)) as ws:
            yield CodexSocket(ws), session_id


def _rows(stack, model: str) -> list[dict]:
    """This test's ledger rows for `model`, oldest first."""
    rows = [r for r in stack.engine.records() if r["model_requested"] == model and r["id"] not in _SEEN]
    return rows[::-1]


async def test_translated_turns_share_one_socket(stack, socket):
    """Anthropic has no socket: each response is a translated call, and the second one, sent as Codex
    sends it (the previous response's id and only the tool's output), reaches Anthropic whole."""
    ws, sid = socket
    fa = stack.anthropic
    fa.queue(text="", tool_calls=[ToolCall("shell", {"command": ["ls"]}, id="toolu_01")], usage=USAGE)
    fa.queue(text="There are two files.", usage=USAGE)
    first = await ws.turn(codex_body("Claude", [user("list the files")], sid))
    calls = [i for i in output_items(first) if i["type"] == "function_call"]
    assert [(c["name"], c["call_id"]) for c in calls] == [("shell", "toolu_01")]
    rid = final(first)["id"]
    tool_done = codex_body("Claude", [call_output("toolu_01", "a.txt\nb.txt")], sid)
    second = await ws.turn(tool_done, previous_response_id=rid)
    assert final(second)["output"][-1]["content"][0]["text"] == "There are two files."
    sent = fa.last_request.json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"][-1]["type"] == "tool_use" and sent[2]["content"][0]["tool_use_id"] == "toolu_01"
    rows = _rows(stack, "Claude")
    assert len(rows) == 2 and all(r["provider"] == "anthropic" and r["status"] == 200 for r in rows)
    assert all(r["stream"] and r["input_tokens"] == 700 and r["output_tokens"] == 90 for r in rows)
    assert all(r["agent"] == "codex" for r in rows)


async def test_passed_through_to_openai_with_its_own_chain(stack, socket):
    ws, sid = socket
    fo = stack.openai
    fo.queue(text="", tool_calls=[ToolCall("shell", {"command": ["pwd"]}, id="call_9")], usage=USAGE)
    fo.queue(text="You are in /work.", usage=USAGE)
    first = await ws.turn(codex_body("Native", [user("where am I?")], sid))
    rid = final(first)["id"]
    second = await ws.turn(codex_body("Native", [call_output("call_9", "/work")], sid), previous_response_id=rid)
    assert final(second)["output"][0]["content"][0]["text"] == "You are in /work."
    frames = [r for r in fo.requests if r.method == "WS"]
    assert len(frames) == 2
    assert frames[0].headers["authorization"] == "Bearer sk-fake-openai", "the upstream key, not the client's"
    assert "responses_websockets=2026-02-06" in frames[0].headers["openai-beta"]
    assert frames[0].headers["originator"] == "codex_cli_rs"
    assert frames[1].json["previous_response_id"] == rid and frames[1].json["input"] == [call_output("call_9", "/work")]
    assert frames[1].json["model"] == "gpt-5" and frames[1].json["type"] == "response.create"
    rows = _rows(stack, "Native")
    seen = [(r["provider"], r["model"], r["status"], r["input_tokens"]) for r in rows]
    assert seen == [("openai", "gpt-5", 200, 700)] * 2


async def test_served_under_amps_prefix_too(stack):
    stack.anthropic.script(text="amp route", usage=USAGE)
    async with aiohttp.ClientSession() as http:
        url = stack.engine.url.replace("http", "ws", 1) + "/api/provider/anthropic/v1/responses"
        async with http.ws_connect(url, headers=codex_headers("amp", socket=True)) as raw:
            events = await CodexSocket(raw).turn(codex_body("Claude", [user("hi")], "amp"))
    assert final(events)["output"][0]["content"][0]["text"] == "amp route"


async def test_processed_acknowledgements_reach_the_upstream_that_answered(stack, socket):
    ws, sid = socket
    stack.openai.script(text="ack me", usage=USAGE)
    rid = final(await ws.turn(codex_body("Native", [user("hi")], sid)))["id"]
    await ws.ws.send_str(json.dumps({"type": "response.processed", "response_id": rid}))
    again = await ws.turn(codex_body("Native", [user("hi again")], sid))
    assert final(again)["status"] == "completed", "nothing answers an acknowledgement"
    kinds = [r.json["type"] for r in stack.openai.requests if r.method == "WS"]
    assert kinds == ["response.create", "response.processed", "response.create"]


async def test_passed_through_to_the_codex_backend(stack, socket):
    ws, sid = socket
    stack.codex.script(text="backend says hi", usage=USAGE)
    events = await ws.turn(codex_body("Codexy", [user("hi")], sid))
    assert final(events)["output"][0]["content"][0]["text"] == "backend says hi"
    frame = next(r for r in stack.codex.requests if r.method == "WS")
    assert frame.headers["authorization"] == "Bearer " + stack.codex.api_key
    assert frame.headers["chatgpt-account-id"] == stack.codex.account_id
    assert frame.json["store"] is False and frame.json["model"] == "gpt-5-codex"
    (row,) = _rows(stack, "Codexy")
    assert row["provider"] == "codex" and row["credential"] == "ann@example.com" and row["output_tokens"] == 90


async def test_a_socket_the_upstream_closed_while_idle_is_reopened(stack, socket):
    """The next response goes on a fresh upstream socket, with the whole input (the old chain is gone)."""
    ws, sid = socket
    fo = stack.openai
    fo.close_idle_sockets = True
    try:
        fo.queue(text="", tool_calls=[ToolCall("shell", {"command": ["id"]}, id="call_i")], usage=USAGE)
        fo.queue(text="You are root.", usage=USAGE)
        first = await ws.turn(codex_body("Native", [user("who am I?")], sid))
        body = codex_body("Native", [call_output("call_i", "uid=0")], sid)
        second = await ws.turn(body, previous_response_id=final(first)["id"])
    finally:
        fo.close_idle_sockets = False
    assert final(second)["output"][0]["content"][0]["text"] == "You are root."
    assert len([r for r in fo.requests if r.method == "GET"]) == 2, "two upstream handshakes"
    resent = [r for r in fo.requests if r.method == "WS"][-1].json
    assert "previous_response_id" not in resent and [i["type"] for i in resent["input"]] == [
        "message", "function_call", "function_call_output"
    ]  # fmt: skip
    rows = _rows(stack, "Native")
    assert [(r["status"], r["attempts"]) for r in rows] == [(200, 1), (200, 2)], "one row per response"


async def test_an_upstream_that_drops_mid_response_ends_it_with_an_error(stack, socket):
    ws, sid = socket
    stack.openai.queue(text="a long answer in pieces", chunks=6, drop_after=5, usage=USAGE)
    events = await ws.turn(codex_body("Native", [user("go")], sid))
    assert events[0]["type"] == "response.created" and events[-1]["type"] == "error"
    assert events[-1]["status"] == 502
    cooling = await ws.turn(codex_body("Native", [user("go again")], sid))
    assert cooling[-1]["status"] == 429 and cooling[-1]["error"]["code"] == "credentials_cooling_down"
    assert int(cooling[-1]["headers"]["retry-after"]) > 0, "Codex waits this long before retrying"
    stack.engine.clear_cooldowns()
    stack.openai.script(text="recovered", usage=USAGE)
    again = await ws.turn(codex_body("Native", [user("go again")], sid))
    assert final(again)["output"][0]["content"][0]["text"] == "recovered"
    rows = _rows(stack, "Native")
    assert [(r["status"], (r["error"] or {}).get("code")) for r in rows] == [
        (502, "upstream_disconnected"), (429, "credentials_cooling_down"), (200, None)
    ]  # fmt: skip


async def test_a_warm_up_costs_no_upstream_call(stack, socket):
    """`generate: false` on a translated route is answered by the proxy; the next response continues it."""
    ws, sid = socket
    stack.anthropic.script(text="warm and ready", usage=USAGE)
    body = codex_body("Claude", [user("hello")], sid)
    warm = await ws.turn(body, generate=False)
    assert final(warm)["output"] == [] and stack.anthropic.requests == []
    real = await ws.turn({**body, "input": []}, previous_response_id=final(warm)["id"])
    assert final(real)["output"][0]["content"][0]["text"] == "warm and ready"
    assert stack.anthropic.last_request.json["messages"][0]["content"][0]["text"] == "hello"
    assert len(_rows(stack, "Claude")) == 1


async def test_unknown_chain_asks_for_the_whole_input(stack, socket):
    ws, sid = socket
    events = await ws.turn(codex_body("Claude", [user("more")], sid), previous_response_id="resp_from_elsewhere")
    err = events[-1]
    assert err["type"] == "error" and err["status"] == 400
    assert err["error"]["code"] == "previous_response_not_found"
    stack.anthropic.script(text="fresh start", usage=USAGE)
    again = await ws.turn(codex_body("Claude", [user("more")], sid))
    assert final(again)["status"] == "completed", "the socket stays usable after an error"


async def test_errors_are_events_in_the_responses_shape(stack, socket):
    ws, sid = socket
    unknown = await ws.turn(codex_body("no-such-model", [user("x")], sid))
    assert unknown[-1]["type"] == "error" and unknown[-1]["status"] == 404
    assert "unknown model" in unknown[-1]["error"]["message"]
    stack.anthropic.queue(status=400, error_message="prompt is too long")
    refused = await ws.turn(codex_body("Claude", [user("x")], sid))
    assert refused[-1]["type"] == "error" and refused[-1]["status"] == 400
    assert "prompt is too long" in refused[-1]["error"]["message"]
    await ws.ws.send_str("not json")
    bad = await ws.ws.receive_json(timeout=10)
    assert bad["type"] == "error" and bad["status"] == 400


async def test_an_upstream_error_event_never_echoes_the_credential(stack, socket):
    ws, sid = socket
    stack.openai.queue(status=400, error_message="Incorrect API key provided: sk-fake-openai")
    events = await ws.turn(codex_body("Native", [user("x")], sid))
    assert events[-1]["type"] == "error" and events[-1]["status"] == 400
    assert "sk-fake-openai" not in json.dumps(events)
    assert events[-1]["error"]["message"].startswith("Incorrect API key provided: ")
    (row,) = _rows(stack, "Native")
    assert row["status"] == 400 and "sk-fake-openai" not in row["error"]["message"]


async def test_the_client_key_is_checked_before_the_upgrade(stack):
    async with aiohttp.ClientSession() as http:
        url = stack.engine.url.replace("http", "ws", 1) + "/v1/responses"
        with pytest.raises(aiohttp.WSServerHandshakeError) as e:
            await http.ws_connect(url, headers=codex_headers(new_session(), socket=True, key="wrong-key"))
        assert e.value.status == 401
        r = await http.get(stack.engine.url + "/v1/responses", headers=codex_headers(new_session()))
        assert r.status == 400 and "WebSocket" in (await r.json())["error"]["message"]


async def test_the_socket_closes_cleanly_at_shutdown():
    with codex_stack() as own:
        own.anthropic.script(text="before the end", usage=USAGE)
        async with aiohttp.ClientSession() as http:
            url = own.engine.url.replace("http", "ws", 1) + "/v1/responses"
            async with http.ws_connect(url, headers=codex_headers("s", socket=True)) as raw:
                events = await CodexSocket(raw).turn(codex_body("Claude", [user("hi")], "s"))
                assert final(events)["status"] == "completed"
                own.engine.stop()
                msg = await raw.receive(timeout=30)
                assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.GOING_AWAY
