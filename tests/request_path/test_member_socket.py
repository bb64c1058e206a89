"""Member keys on Codex's Responses WebSocket when it is passed through to OpenAI: the key's models and RPM
hold per response (as error events, the socket stays open), its rows carry the member, and a key revoked
while the socket is open is refused on its next response."""

from __future__ import annotations

import aiohttp
import pytest

from tests.fakes import Usage
from tests.request_path.codex_client import CodexSocket, codex_body, codex_headers, final, new_session, user
from tests.request_path.codex_stack import codex_stack
from tests.team.members import api_create


@pytest.fixture(scope="module")
def stack():
    with codex_stack() as s:
        yield s


async def _turns(stack, key: str, n: int, model: str = "Native") -> list[list[dict]]:
    sid = new_session()
    out = []
    async with aiohttp.ClientSession() as http:
        url = stack.engine.url.replace("http", "ws", 1) + "/v1/responses"
        async with http.ws_connect(url, headers=codex_headers(sid, socket=True, key=key)) as raw:
            ws = CodexSocket(raw)
            for _ in range(n):
                stack.openai.queue(text="ok", usage=Usage(input_tokens=10, output_tokens=2))
                out.append(await ws.turn(codex_body(model, [user("hi")], sid)))
    return out


async def test_member_limits_hold_on_a_passed_through_socket(stack):
    stack.reset()
    made = api_create(stack.engine, name="codexer", team="tools", rpm=1)
    first, second = await _turns(stack, made["key"], 2)
    assert final(first)["output"][0]["content"][0]["text"] == "ok"
    assert second[-1]["type"] == "error" and second[-1]["status"] == 429, second[-1]
    assert "1 requests per minute" in second[-1]["error"]["message"]
    assert int(second[-1]["headers"]["retry-after"]) > 0
    rows = [r for r in stack.engine.records() if r["member"] == made["id"]]
    assert [(r["provider"], r["team"], r["client"]) for r in rows] == [("openai", "tools", "codexer")]


async def test_a_model_the_key_may_not_use_and_a_revoked_key_are_refused(stack):
    stack.reset()
    narrow = api_create(stack.engine, name="narrow", models=["Claude"])
    (refused,) = await _turns(stack, narrow["key"], 1)
    assert refused[-1]["type"] == "error" and refused[-1]["status"] == 403, refused[-1]
    sid = new_session()
    gone = api_create(stack.engine, name="leaver")
    async with aiohttp.ClientSession() as http:
        url = stack.engine.url.replace("http", "ws", 1) + "/v1/responses"
        async with http.ws_connect(url, headers=codex_headers(sid, socket=True, key=gone["key"])) as raw:
            ws = CodexSocket(raw)
            stack.openai.queue(text="ok", usage=Usage(input_tokens=10, output_tokens=2))
            assert final(await ws.turn(codex_body("Native", [user("hi")], sid)))
            stack.engine.api("POST", f"/v0/keys/{gone['id']}/revoke")
            after = await ws.turn(codex_body("Native", [user("again")], sid))
    assert after[-1]["type"] == "error" and after[-1]["status"] == 401 and "revoked" in after[-1]["error"]["message"]
