"""Codex's ChatGPT backend only streams: a whole reply routed to a Codex login is asked for as a
stream and put back together into one Response (usage included), or translated from it."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.fakes import ToolCall, Usage
from tests.request_path.codex_stack import CLIENT_KEY, codex_stack

USAGE = Usage(input_tokens=900, output_tokens=120, cache_read_tokens=100)


@pytest.fixture(scope="module")
def stack():
    with codex_stack() as s:
        yield s


@pytest.fixture(autouse=True)
def _reset(stack):
    stack.reset()


def _client(stack) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.engine.url + "/v1", api_key=CLIENT_KEY, max_retries=0)


def test_the_fake_backend_refuses_a_whole_reply(stack):
    """Guards the tests below: the fake answers `stream: false` the way the backend does."""
    headers = {"Authorization": "Bearer " + stack.codex.api_key, "chatgpt-account-id": stack.codex.account_id}
    body = {"model": "gpt-5-codex", "input": "hi", "stream": False, "store": False}
    r = httpx.post(stack.codex.base_url + "/responses", json=body, headers=headers)
    assert r.status_code == 400 and "Stream must be set to true" in r.text


def test_whole_responses_reply_from_a_stream(stack):
    stack.codex.script(text="whole answer from pieces", chunks=5, usage=USAGE)
    r = _client(stack).responses.create(model="Codexy", input="hi", instructions="be brief")
    assert r.output_text == "whole answer from pieces"
    assert r.status == "completed" and r.output[0].type == "message"
    assert (r.usage.input_tokens, r.usage.output_tokens) == (900, 120)
    sent = stack.codex.last_request
    assert sent.json["stream"] is True and sent.json["store"] is False and sent.json["model"] == "gpt-5-codex"
    row = next(r for r in stack.engine.records() if r["model_requested"] == "Codexy")
    assert row["status"] == 200 and row["stream"] is False
    assert (row["input_tokens"], row["output_tokens"], row["cache_read_tokens"]) == (900, 120, 100)


def test_whole_reply_keeps_tool_calls(stack):
    stack.codex.script(text="", tool_calls=[ToolCall("shell", {"cmd": ["ls"]}, id="call_1")], usage=USAGE)
    r = _client(stack).responses.create(model="Codexy", input="list files")
    calls = [i for i in r.output if i.type == "function_call"]
    assert [(c.name, c.call_id, c.arguments) for c in calls] == [("shell", "call_1", '{"cmd":["ls"]}')]


def test_translated_whole_reply_from_a_stream(stack):
    """A Chat Completions client that wants one JSON object, routed to the Codex login."""
    stack.codex.script(text="translated whole", usage=USAGE)
    r = _client(stack).chat.completions.create(model="Codexy", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == "translated whole"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (900, 120)
    assert stack.codex.last_request.json["stream"] is True


def test_a_failed_stream_is_an_error_not_an_empty_reply(stack):
    stack.codex.script(text="never finished", stream_error_after=3, error_message="backend fell over")
    with pytest.raises(openai.APIStatusError) as e:
        _client(stack).responses.create(model="Codexy", input="hi")
    assert e.value.status_code == 502
    row = next(r for r in stack.engine.records() if r["model_requested"] == "Codexy")
    assert row["status"] == 502 and row["error"]["code"] == "upstream_stream_error"
