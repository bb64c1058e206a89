"""A Gemini CLI session whose route changes under it, and every turn still works.

Gemini CLI (API-key or gateway mode) talks to `GOOGLE_GEMINI_BASE_URL` through @google/genai: each turn is
`POST /v1beta/models/{model}:streamGenerateContent?alt=sse` with `x-goog-api-key`, a `GeminiCLI/{version}/
{model} (...)` User-Agent and the SDK's `x-goog-api-client`; the body carries the whole history, its
function calls as `functionCall` parts and their results as `functionResponse` parts. Before compressing
a long chat it asks `:countTokens` for that history (`tryCompressChat`, google-gemini/gemini-cli).

Here one friendly model first goes to Gemini; mid-session Gemini fails (503) and the call fails over to
Anthropic, which then serves the count as well while Gemini cools down; then a config PUT through the
management API sends the model to OpenAI. Each upstream validates the history in its own shape (tool_use /
tool_result pairing, tool_calls / tool messages), so a translation that lost a call or its result fails.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.engine_harness import EngineProcess, free_port
from tests.fakes import FakeAnthropic, FakeGemini, FakeOpenAI, FakeServerThread, ToolCall, Usage, parse_sse

MODEL = "cli-pro"
HEADERS = {
    "x-goog-api-key": "gemini-cli-key",
    "User-Agent": "GeminiCLI/0.9.0/gemini-2.5-pro (linux; x64; terminal)",
    "x-goog-api-client": "google-genai-sdk/1.16.0 gl-node/v22.17.0",
    "Content-Type": "application/json",
}
SYSTEM = {"role": "user", "parts": [{"text": "You are an interactive CLI agent."}]}
TOOLS = [{"functionDeclarations": [
    {"name": "list_directory", "description": "Lists a directory.",
     "parameters": {"type": "OBJECT", "properties": {"path": {"type": "STRING"}}, "required": ["path"]}},
    {"name": "read_file", "description": "Reads a file.",
     "parameters": {"type": "OBJECT", "properties": {"absolute_path": {"type": "STRING"}},
                    "required": ["absolute_path"]}},
]}]  # fmt: skip
GENERATION = {"temperature": 0, "topP": 1}


def _config(port: int, fg: FakeGemini, fa: FakeAnthropic, fo: FakeOpenAI, candidates: str) -> str:
    return f"""port: {port}
providers:
  gem: {{kind: gemini, base_url: "{fg.base_url}", api_key: env:GK}}
  ant: {{kind: anthropic, base_url: "{fa.base_url}", api_key: env:AK}}
  oai: {{kind: openai, base_url: "{fo.base_url}", api_key: env:OK, dialects: [openai_chat]}}
models:
  {MODEL}: {candidates}
routing: {{retries: 2}}
"""


@pytest.fixture(scope="module")
def session() -> Iterator[tuple[EngineProcess, FakeGemini, FakeAnthropic, FakeOpenAI, int]]:
    with (
        FakeServerThread(FakeGemini(strict=True)) as fg,
        FakeServerThread(FakeAnthropic()) as fa,
        FakeServerThread(FakeOpenAI()) as fo,
    ):
        port = free_port()
        config = _config(port, fg, fa, fo, '["gem/gemini-2.5-pro", "ant/claude-sonnet-4-6"]')
        with EngineProcess(config, port) as eng:
            yield eng, fg, fa, fo, port


def _turn(eng: EngineProcess, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One streamed turn as Gemini CLI sends it; the model's parts, gathered from every SSE chunk."""
    body = {"contents": history, "systemInstruction": SYSTEM, "tools": TOOLS, "generationConfig": GENERATION}
    url = f"{eng.url}/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"
    r = httpx.post(url, content=json.dumps(body), headers=HEADERS, timeout=30)
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"].startswith("text/event-stream")
    chunks = [data for _, data in parse_sse(r.content)]
    assert chunks and all(isinstance(c, dict) and "candidates" in c for c in chunks), chunks
    assert chunks[-1]["candidates"][0].get("finishReason"), "the stream ends with a finish reason"
    parts = [p for c in chunks for p in c["candidates"][0]["content"].get("parts", [])]
    return [p for p in parts if p.get("text") != ""]


def _count(eng: EngineProcess, history: list[dict[str, Any]]) -> httpx.Response:
    url = f"{eng.url}/v1beta/models/{MODEL}:countTokens"
    return httpx.post(url, content=json.dumps({"contents": history}), headers=HEADERS, timeout=30)


def _calls(parts: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(p["functionCall"]["name"], p["functionCall"]["args"]) for p in parts if "functionCall" in p]


def _answer(history: list[dict[str, Any]], parts: list[dict[str, Any]], output: str) -> None:
    """Append the model's turn and, as Gemini CLI does, one functionResponse per functionCall."""
    history.append({"role": "model", "parts": parts})
    responses = [{"functionResponse": {"name": name, "response": {"output": output}}} for name, _ in _calls(parts)]
    history.append({"role": "user", "parts": responses})


def _rows(eng: EngineProcess, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while (rows := eng.records(200)) and len(rows) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return list(reversed(rows))


def test_a_gemini_cli_session_survives_failover_and_a_config_switch(session) -> None:
    eng, fg, fa, fo, port = session
    history: list[dict[str, Any]] = [{"role": "user", "parts": [{"text": "What is in src/?"}]}]

    # Turn 1: Gemini itself asks for a tool.
    fg.script(tool_calls=[ToolCall("list_directory", {"path": "src"})], text="")
    parts = _turn(eng, history)
    assert _calls(parts) == [("list_directory", {"path": "src"})]
    assert fg.last_request.path == "/v1beta/models/gemini-2.5-pro:streamGenerateContent"
    assert fg.last_request.headers["user-agent"].startswith("GeminiCLI/"), "a same-dialect call keeps the agent"
    _answer(history, parts, "main.py\nutil.py")

    # Turn 2: Gemini fails; Anthropic takes the turn, reading the history as tool_use/tool_result.
    fg.queue(status=503, error_message="overloaded")
    fa.script(tool_calls=[ToolCall("read_file", {"absolute_path": "/w/src/main.py"}, id="toolu_read01")], text="")
    parts = _turn(eng, history)
    assert _calls(parts) == [("read_file", {"absolute_path": "/w/src/main.py"})]
    sent = fa.last_request.json
    assert [b["type"] for b in sent["messages"][1]["content"]] == ["tool_use"]
    assert sent["messages"][2]["content"][0]["type"] == "tool_result"
    assert sent["messages"][2]["content"][0]["tool_use_id"] == sent["messages"][1]["content"][0]["id"]
    _answer(history, parts, "print('hi')")

    # Between turns Gemini CLI counts the history; Gemini still cools down, so Anthropic's counter answers.
    fa.script(usage=Usage(input_tokens=5151))
    r = _count(eng, history)
    assert r.status_code == 200, r.text
    assert r.json()["totalTokens"] == 5151 and "X-ProxyPal-Token-Estimate" not in r.headers
    assert fa.last_request.path == "/v1/messages/count_tokens"

    # The operator points the model at OpenAI through the management API, mid-session.
    new = _config(port, fg, fa, fo, '["oai/gpt-4o"]')
    put = eng.api("PUT", "/v0/config", json={"text": new})
    assert put.status_code == 200 and put.json()["ok"] is True, put.text

    # Turn 3: OpenAI answers, given every earlier call and result as tool_calls and tool messages.
    fo.script(text="main.py prints hi.")
    parts = _turn(eng, history)
    assert "".join(p.get("text", "") for p in parts) == "main.py prints hi."
    msgs = fo.last_request.json["messages"]
    calls = [tc for m in msgs if m["role"] == "assistant" for tc in m.get("tool_calls") or []]
    results = [m for m in msgs if m["role"] == "tool"]
    assert [c["function"]["name"] for c in calls] == ["list_directory", "read_file"]
    assert [m["tool_call_id"] for m in results] == [c["id"] for c in calls]
    history.append({"role": "model", "parts": parts})
    history.append({"role": "user", "parts": [{"text": "Thanks."}]})

    # And the next count goes to OpenAI's own counter.
    fo.script(usage=Usage(input_tokens=6262))
    r = _count(eng, history)
    assert r.status_code == 200 and r.json()["totalTokens"] == 6262, r.text
    assert fo.last_request.path == "/v1/responses/input_tokens"

    rows = _rows(eng, 5)[-5:]
    assert [(row["provider"], row["status"]) for row in rows] == [
        ("gem", 200), ("ant", 200), ("ant", 200), ("oai", 200), ("oai", 200)
    ]  # fmt: skip
    assert {row["agent"] for row in rows} == {"gemini-cli"}
    assert rows[1]["attempts"] == 2, "turn 2 was Gemini's 503, then Anthropic"
