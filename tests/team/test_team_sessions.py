"""Agent sessions (`/v0/sessions`, `/v0/requests?session=`) read the configured storage: the ledger file, or
PostgreSQL in team mode, where every replica's rows are (before, team mode read an empty local file)."""

from __future__ import annotations

import httpx
import pytest

from tests.engine_harness import EngineProcess, free_port
from tests.fakes import FakeOpenAI, FakeServerThread
from tests.fakes.script import Usage


@pytest.fixture(scope="module")
def fake():
    with FakeServerThread(FakeOpenAI()) as fo:
        yield fo


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_sessions_come_from_the_configured_storage(request, fake, backend):
    fake.reset()
    fake.script(usage=Usage(input_tokens=100, output_tokens=10))
    port = free_port()
    team = f'team: {{postgres: "{request.getfixturevalue("postgres_url")}"}}\n' if backend == "postgres" else ""
    config = f'port: {port}\nproviders:\n  openai: {{base_url: "{fake.base_url}", api_key: env:OK}}\n{team}'
    with EngineProcess(config, port) as eng:
        for session, model in (("s-1", "gpt-4o-mini"), ("s-1", "gpt-4o"), ("s-2", "gpt-4o-mini")):
            r = httpx.post(eng.url + "/v1/chat/completions", headers={"session-id": session}, timeout=20,
                           json={"model": model, "messages": [{"role": "user", "content": "hi"}]})  # fmt: skip
            assert r.status_code == 200, r.text
        sessions = eng.api("GET", "/v0/sessions").json()["sessions"]
        assert [s["session"] for s in sessions] == ["s-2", "s-1"], "latest first"
        one = sessions[1]
        assert (one["requests"], one["errors"], one["input_tokens"], one["output_tokens"]) == (2, 0, 200, 20)
        assert one["models"] == ["gpt-4o", "gpt-4o-mini"] and one["client"] == "local"
        assert one["first_seen"] < one["last_seen"]
        rows = eng.api("GET", "/v0/requests?session=s-1").json()["requests"]
        assert [r["model_requested"] for r in rows] == ["gpt-4o", "gpt-4o-mini"] and rows[0]["session"] == "s-1"
        if backend == "postgres":
            local = next(eng.home.rglob("usage.db"), None)
            assert local is None or b"s-1" not in local.read_bytes(), "the rows are in PostgreSQL, not the file"
