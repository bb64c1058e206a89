"""A Claude Code session through the proxy: several streamed turns with tools and thinking, in Claude
Code's shape (its betas, `X-Claude-Code-Session-Id`, cache_control on system and tools), while the route
under it changes: a 529 fails over to Gemini mid-session, the next turn goes home to Anthropic with
Gemini's thinking in its history, and a config change through `PUT /v0/config` moves it to OpenAI.
Every turn must still succeed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from proxy_engine.translate.thinking import WRAP_PREFIX
from tests.fakes import ToolCall
from tests.request_path.claude_stack import CLAUDE_CODE_BETAS, ClaudeStack, claude_stack, message_from_stream

MODELS = "models:\n  Code: {anthropic: claude-sonnet-4-6, gemini: gemini-2.5-pro}\n"
SESSION = "3f1c2b9e-8d7a-4c55-9a61-0e2f4b7c1d23"
CACHED = {"type": "ephemeral"}
TOOLS = [
    {"name": "Read", "description": "Read a file", "input_schema": {
        "type": "object", "properties": {"file_path": {"type": "string"}}, "required": ["file_path"]}},
    {"name": "Edit", "description": "Edit a file", "cache_control": CACHED, "input_schema": {
        "type": "object", "properties": {"file_path": {"type": "string"}, "old_string": {"type": "string"},
                                         "new_string": {"type": "string"}}, "required": ["file_path"]}},
]  # fmt: skip
SYSTEM = [
    {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
    {"type": "text", "text": "Be concise. Use the tools.", "cache_control": CACHED},
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClaudeStack]:
    home = tmp_path_factory.mktemp("session") / "home"
    home.mkdir()
    with claude_stack(home, MODELS) as s:
        yield s


def _turn(stack: ClaudeStack, history: list[dict[str, Any]]) -> dict[str, Any]:
    body = {"model": "Code", "max_tokens": 32000, "stream": True, "system": SYSTEM, "tools": TOOLS,
            "thinking": {"type": "enabled", "budget_tokens": 8000}, "messages": history,
            "metadata": {"user_id": f"user_abc_account__session_{SESSION}"}}  # fmt: skip
    return message_from_stream(stack.messages(body, session=SESSION))


def _tool_result(message: dict[str, Any], output: str) -> dict[str, Any]:
    use = next(b for b in message["content"] if b["type"] == "tool_use")
    return {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use["id"], "content": output}]}


def test_a_session_survives_failover_and_a_config_change(stack: ClaudeStack) -> None:
    fa, fg, fo = stack.anthropic, stack.gemini, stack.openai
    history: list[dict[str, Any]] = [{"role": "user", "content": "Fix the off-by-one in app.py"}]

    # Turn 1: Anthropic thinks and reads the file.
    fa.queue(text="", thinking="Read the file first.", tool_calls=[ToolCall("Read", {"file_path": "app.py"})])
    turn1 = _turn(stack, history)
    assert [b["type"] for b in turn1["content"]] == ["thinking", "tool_use"] and turn1["stop_reason"] == "tool_use"
    sent = fa.last_request
    assert sent.headers["anthropic-beta"] == CLAUDE_CODE_BETAS
    assert sent.headers["x-claude-code-session-id"] == SESSION
    assert sent.json["tools"][1]["cache_control"] == CACHED and sent.json["system"][1]["cache_control"] == CACHED
    history += [{"role": "assistant", "content": turn1["content"]}, _tool_result(turn1, "for i in range(len(x)+1):")]

    # Turn 2: Anthropic is overloaded; the same request fails over to Gemini, which thinks and edits.
    fa.queue(status=529, error_message="Overloaded")
    edit = {"file_path": "app.py", "old_string": "len(x)+1", "new_string": "len(x)"}
    fg.queue(text="", thinking="The range overruns by one.", tool_calls=[ToolCall("Edit", edit)])
    turn2 = _turn(stack, history)
    uses = [b for b in turn2["content"] if b["type"] == "tool_use"]
    assert [(u["name"], u["input"]) for u in uses] == [("Edit", edit)]
    assert any(b["type"] == "thinking" and b["thinking"] == "The range overruns by one." for b in turn2["content"])
    row = stack.engine.records(1)[0]
    assert (row["status"], row["provider"], row["attempts"]) == (200, "gemini", 2)
    assert "anthropic-beta" not in fg.last_request.headers
    history += [{"role": "assistant", "content": turn2["content"]}, _tool_result(turn2, "Edited app.py")]

    # Turn 3: the cooldown is cleared (as from the TUI) and the session goes home to Anthropic, whose
    # fake refuses any thinking it did not sign: Gemini's must have been left out, Anthropic's kept.
    stack.engine.clear_cooldowns()
    fa.queue(text="Fixed: the loop no longer runs past the end.")
    turn3 = _turn(stack, history)
    assert turn3["content"][-1]["text"] == "Fixed: the loop no longer runs past the end."
    sent = fa.last_request.json
    assert WRAP_PREFIX not in json.dumps(sent)
    assert sent["messages"][1]["content"][0] == turn1["content"][0], "Anthropic's own signed thinking goes back"
    assert stack.engine.records(1)[0]["provider"] == "anthropic"
    history += [{"role": "assistant", "content": turn3["content"]}, {"role": "user", "content": "Now add a test."}]

    # Turn 4: the operator moves `Code` to OpenAI through the management API; the session goes on there.
    text = stack.engine.config_path.read_text().replace(MODELS, "models:\n  Code: [openai/gpt-4o]\n")
    r = stack.engine.api("PUT", "/v0/config", json={"text": text})
    assert r.status_code == 200 and r.json()["ok"], r.text
    fo.queue(text="", tool_calls=[ToolCall("Edit", {"file_path": "test_app.py", "new_string": "def test(): ..."})])
    turn4 = _turn(stack, history)
    assert [b["name"] for b in turn4["content"] if b["type"] == "tool_use"] == ["Edit"]
    sent4 = fo.last_request
    assert sent4.json["model"] == "gpt-4o" and "anthropic-beta" not in sent4.headers
    assert WRAP_PREFIX not in sent4.body.decode() and b"cache_control" not in sent4.body
    rows = stack.engine.records(4)
    assert [r["provider"] for r in reversed(rows)] == ["anthropic", "gemini", "anthropic", "openai"]
    assert all(r["status"] == 200 for r in rows)
