"""The audit log on SQLite and on a real PostgreSQL: a config change and a cooldown clear through /v0 are
entries with who and when; /v0/audit is admin-only and the table refuses changes (append-only)."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import asyncpg
import pytest

from tests.engine_harness import EngineProcess, free_port
from tests.fakes import FakeOpenAI, FakeServerThread
from tests.team.members import api_create, as_member, chat
from tests.team.stores import pg_fetch


@pytest.fixture(scope="module")
def fake():
    with FakeServerThread(FakeOpenAI()) as fo:
        yield fo


@pytest.fixture(params=["sqlite", "postgres"])
def eng(request, fake):
    fake.reset()
    port = free_port()
    pg = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    team = f'team: {{postgres: "{pg}"}}\n' if pg else ""
    config = f'port: {port}\nproviders:\n  openai: {{base_url: "{fake.base_url}", api_key: env:OK}}\n{team}'
    with EngineProcess(config, port) as e:
        e.postgres_url = pg
        yield e


def test_config_changes_and_cooldown_clears_are_audited(eng, fake):
    t0 = time.time()
    text = eng.api("GET", "/v0/config").json()["text"]
    assert eng.api("PUT", "/v0/config", json={"text": text + "budgets: {daily_usd: 40}\n"}).json()["ok"]
    assert eng.api("PUT", "/v0/config", json={"text": "port: [nope"}).status_code == 422
    fake.script(status=429)
    assert chat(eng, "local").status_code == 429
    assert eng.api("POST", "/v0/auth/cooldowns/clear", json={"provider": "openai"}).json()["cleared"] == 1
    entries = eng.api("GET", "/v0/audit").json()["entries"]
    assert [(e["actor"], e["action"]) for e in entries] == [("admin", "cooldown.cleared"), ("admin", "config.changed")]
    cleared, changed = entries
    assert cleared["detail"] == {"provider": "openai", "credential": None, "model": None, "cleared": 1}
    assert changed["target"].endswith("config.yaml") and "budgets" not in str(changed["detail"])
    assert all(t0 <= e["ts"] <= time.time() and e["replica"] for e in entries)
    assert eng.api("GET", f"/v0/audit?since={time.time() + 60}").json()["entries"] == []
    member = api_create(eng, name="m")
    assert as_member(eng, member["key"], "GET", "/v0/audit").status_code == 403
    assert as_member(eng, "not-a-key", "GET", "/v0/audit").status_code == 401


def test_the_audit_table_refuses_changes(eng):
    api_create(eng, name="someone")
    if eng.postgres_url:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            asyncio.run(pg_fetch(eng.postgres_url, "UPDATE audit_log SET actor = 'nobody'"))
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            asyncio.run(pg_fetch(eng.postgres_url, "DELETE FROM audit_log"))
    else:
        with sqlite3.connect(next(eng.home.rglob("usage.db"))) as conn:
            for sql in ("UPDATE audit_log SET actor = 'nobody'", "DELETE FROM audit_log"):
                with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                    conn.execute(sql)
    assert [e["actor"] for e in eng.api("GET", "/v0/audit").json()["entries"]] == ["admin"]
