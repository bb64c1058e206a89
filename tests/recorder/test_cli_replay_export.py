"""The CLI: `capture` prints the stages readably, `replay` streams and diffs (to another upstream dialect),
`export` writes a redacted fixture that re-runs against a fresh engine with the captured upstream replies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from proxy_engine.recorder.reply_summary import summarize
from tests.engine_harness import EngineProcess, free_port
from tests.fakes import FakeServerThread, ToolCall
from tests.recorder.fixture_upstream import FIXTURE_KEY, FixtureUpstream, client_call, fixture_config
from tests.recorder.helpers import MSG, SECRETS, client, leaks, stages, wait_capture

FIXTURES = Path(__file__).parent / "fixtures"


def _cli(eng: EngineProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "proxy_engine", *args], env=eng.env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def test_capture_prints_pretty_json_and_one_sse_event_per_line(engine: EngineProcess, fakes) -> None:
    _fo, fa, _fg = fakes
    fa.script(text="one two three four", chunks=4)
    with client(engine) as http:
        body = {"model": "anthropic/claude-sonnet-4-5", "max_tokens": 50, "messages": MSG, "stream": True}
        r = http.post("/v1/messages", json=body)
    rid = r.headers["X-ProxyPal-Request-Id"]
    wait_capture(engine, rid)
    out = _cli(engine, "capture", rid)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for stage in ("client_request", "upstream_request (attempt 1)", "upstream_response (attempt 1)", "client_response"):
        assert f"== {stage} ==" in text
    assert '  "max_tokens": 50,' in text, "bodies are pretty JSON"
    deltas = [ln for ln in text.splitlines() if ln.startswith("content_block_delta: {")]
    assert len(deltas) == 2 * 4, "each SSE delta on its own line, in the upstream and the client stage"
    assert "".join(json.loads(d.split(": ", 1)[1])["delta"]["text"] for d in deltas[:4]) == "one two three four"
    assert "Authorization: [redacted]" in text and not leaks(text.encode())
    assert _cli(engine, "capture", "ffffffffffffffff").returncode == 1


def test_replay_to_another_upstream_dialect_streams_and_diffs(engine: EngineProcess, fakes) -> None:
    fo, fa, _fg = fakes
    fo.script(text="Paris is the capital.", tool_calls=[ToolCall(name="lookup", arguments={"q": "France"})])
    fa.script(text="Lyon, surely.", chunks=2)
    with client(engine) as http:
        tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
        body = {"model": "openai/gpt-4o", "messages": MSG, "stream": True, "tools": [tool]}
        r = http.post("/v1/chat/completions", json=body)
    rid = r.headers["X-ProxyPal-Request-Id"]
    wait_capture(engine, rid)
    before = len(fa.requests)
    out = _cli(engine, "replay", rid, "--provider", "anthropic", "--model", "claude-haiku-4-5")
    assert out.returncode == 0, out.stderr
    assert len(fa.requests) == before + 1 and fa.last_request.path == "/v1/messages", "it went to Anthropic"
    assert fa.last_request.json["model"] == "claude-haiku-4-5"
    text = out.stdout
    assert "replaying as request" in text and "data: {" in text, "the answer is streamed as it comes"
    diff = text.split("== diff:", 1)[1]
    assert "status: same (200)" in diff
    assert "text: changed" in diff and "  -Paris is the capital." in diff and "  +Lyon, surely." in diff
    assert "tool_calls: changed" in diff and '"name": "lookup"' in diff
    new_id = text.split("replaying as request ", 1)[1].split(" ", 1)[0]
    replayed = wait_capture(engine, new_id)
    assert replayed["meta"]["dialect_out"] == "anthropic" and replayed["meta"]["dialect_in"] == "openai_chat"


def test_replay_api_answers_the_new_id_and_the_diff(engine: EngineProcess, fakes) -> None:
    fo, _fa, fg = fakes
    fo.script(text="Alpha.")
    fg.script(text="Beta.")
    with client(engine) as http:
        r = http.post("/v1/chat/completions", json={"model": "openai/gpt-4o", "messages": MSG})
    rid = r.headers["X-ProxyPal-Request-Id"]
    wait_capture(engine, rid)
    ans = engine.api("POST", f"/v0/requests/{rid}/replay", json={"model": "gemini/gemini-2.5-pro"})
    assert ans.status_code == 200, ans.text
    res = ans.json()
    assert res["original_id"] == rid and res["request_id"] not in (None, rid)
    assert res["diff"]["text"] == {"original": "Alpha.", "replay": "Beta.", "same": False}
    assert res["diff"]["status"]["same"] and res["replay"]["usage"]["output_tokens"] > 0
    assert fg.last_request.path.endswith("gemini-2.5-pro:generateContent")
    assert engine.api("POST", "/v0/requests/ffffffffffffffff/replay", json={}).status_code == 404
    bad = engine.api("POST", f"/v0/requests/{rid}/replay", json={"model": 5})
    assert bad.status_code == 400


def _rerun(fixture: dict, tmp_path: Path) -> None:
    """Serve the fixture's upstream replies, send its client request through a fresh engine, compare."""
    (tmp_path / "rerun").mkdir(mode=0o700)
    with FakeServerThread(FixtureUpstream(fixture)) as up:
        port = free_port()
        with EngineProcess(fixture_config(fixture, up, port), port, env={"FIX_KEY": FIXTURE_KEY},
                           home=str(tmp_path / "rerun")) as eng:  # fmt: skip
            path, query, headers, body = client_call(fixture)
            r = httpx.post(eng.url + path, params=query, headers=headers, content=body, timeout=30)
    want = fixture["expect"]
    got = summarize(fixture["route"]["dialect_in"], r.status_code, r.text).to_dict()
    assert got == want, "the client gets the same answer from the same upstream replies"
    sent = [x["request"] for x in fixture["upstream_exchanges"]]
    assert [x.path for x in up.received] == [s["path"] for s in sent]
    assert [x.json for x in up.received] == [s["body"] for s in sent], "the upstream gets the same request"


def test_exported_fixture_reruns(engine: EngineProcess, fakes, tmp_path: Path) -> None:
    _fo, fa, _fg = fakes
    fa.script(text="Rerun me.", chunks=3, tool_calls=[ToolCall(name="lookup", arguments={"q": "x"})])
    with client(engine) as http:
        body = {"model": "Smart", "input": "hi", "stream": True}
        r = http.post("/v1/responses", json=body)  # a Responses client, an Anthropic upstream: translated
    assert r.status_code == 200
    rid = r.headers["X-ProxyPal-Request-Id"]
    doc = wait_capture(engine, rid)
    assert doc["meta"]["dialect_out"] == "anthropic" and len(stages(doc, "upstream_request")) == 1
    out = tmp_path / "fixture.json"
    res = _cli(engine, "export", rid, "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert (out.stat().st_mode & 0o777) == 0o600
    assert not leaks(out.read_bytes(), SECRETS)
    fixture = json.loads(out.read_text())
    assert fixture["format"] == "proxypal-fixture/1" and fixture["expect"]["text"] == "Rerun me."
    _rerun(fixture, tmp_path)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_committed_fixture_reruns(name: str, tmp_path: Path) -> None:
    """Fixtures exported once and kept in the repo: a regression test of translation and relay."""
    _rerun(json.loads((FIXTURES / name).read_text()), tmp_path)
