"""`POST /v1/responses/compact` through the real engine: passed through to the upstreams that compact
(OpenAI, the Codex backend), summarised by the routed model for the others, in the shape Codex reads."""

from __future__ import annotations

import httpx
import pytest

from tests.fakes import Usage
from tests.request_path.codex_client import call_output, codex_headers, new_session, user
from tests.request_path.codex_stack import codex_stack

USAGE = Usage(input_tokens=4000, output_tokens=250)
HISTORY = [
    user("fix the failing test in parser.py"),
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Looking at it."}]},
    {"type": "function_call", "name": "shell", "arguments": '{"command":["pytest","-x"]}', "call_id": "call_1"},
    call_output("call_1", "1 failed: test_parse_empty"),
    user("also keep the public API unchanged"),
]


@pytest.fixture(scope="module")
def stack():
    with codex_stack() as s:
        yield s


@pytest.fixture(autouse=True)
def _reset(stack):
    stack.reset()


def _compact(stack, model: str, **kw) -> httpx.Response:
    body = {"model": model, "input": HISTORY, "instructions": "You are a coding agent running in the Codex CLI."}
    headers = kw.pop("headers", None) or codex_headers(new_session())
    return httpx.post(stack.engine.url + "/v1/responses/compact", json=body, headers=headers, timeout=30)


def test_passed_through_to_openai(stack):
    stack.openai.script(usage=USAGE)
    r = _compact(stack, "Native")
    assert r.status_code == 200, r.text
    out = r.json()["output"]
    assert out[-1]["type"] == "compaction" and out[-1]["encrypted_content"].startswith("enc_")
    sent = stack.openai.last_request
    assert sent.path == "/v1/responses/compact" and sent.headers["authorization"] == "Bearer sk-fake-openai"
    assert sent.json["model"] == "gpt-5" and sent.json["input"] == HISTORY and "stream" not in sent.json
    row = next(r for r in stack.engine.records() if r["model_requested"] == "Native")
    assert row["status"] == 200 and row["provider"] == "openai" and row["input_tokens"] == 4000


def test_passed_through_to_the_codex_backend(stack):
    stack.codex.script(usage=USAGE)
    r = _compact(stack, "Codexy")
    assert r.status_code == 200, r.text
    sent = stack.codex.last_request
    assert sent.path == "/backend-api/codex/responses/compact" and "stream" not in sent.json
    assert sent.headers["chatgpt-account-id"] == stack.codex.account_id


def test_summarised_by_the_routed_model_elsewhere(stack):
    stack.anthropic.script(text="Goal: fix test_parse_empty without API changes. Ran pytest: 1 failure.", usage=USAGE)
    r = _compact(stack, "Claude")
    assert r.status_code == 200, r.text
    out = r.json()["output"]
    assert [(i["type"], i["role"]) for i in out] == [("message", "user")] * 3
    assert [i["content"][0]["text"] for i in out[:2]] == [
        "fix the failing test in parser.py",
        "also keep the public API unchanged",
    ], "the user's own messages are kept word for word"
    summary = out[2]["content"][0]
    assert summary["type"] == "input_text" and "Goal: fix test_parse_empty" in summary["text"]
    asked = stack.anthropic.last_request.json
    transcript = asked["messages"][0]["content"][0]["text"]
    assert "pytest" in transcript and "1 failed: test_parse_empty" in transcript, "the model saw the whole session"
    assert "tools" not in asked, "the transcript is plain text, so any model can read it"
    row = next(r for r in stack.engine.records() if r["model_requested"] == "Claude")
    assert row["provider"] == "anthropic" and row["status"] == 200 and row["output_tokens"] == 250


def test_a_failed_summary_is_an_openai_error(stack):
    stack.anthropic.queue(status=400, error_message="prompt is too long")
    r = _compact(stack, "Claude")
    assert r.status_code == 400
    assert "prompt is too long" in r.json()["error"]["message"]


def test_the_client_key_is_required(stack):
    r = _compact(stack, "Claude", headers=codex_headers(new_session(), key="wrong"))
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert stack.anthropic.requests == []
