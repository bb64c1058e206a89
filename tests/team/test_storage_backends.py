"""The storage layer gives the same answers on SQLite and on a real PostgreSQL.

Each test runs on both backends (`backend` parameter); the PostgreSQL case gets a fresh database.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta

import asyncpg
import pytest

from proxy_engine.credentials.cooldowns import Cooldown, CooldownStore
from proxy_engine.storage.member_keys import hash_key
from proxy_engine.storage.migrations import LATEST
from proxy_engine.usage.history import HistoryQuery
from proxy_engine.usage.ledger import COLUMNS
from tests.team.stores import opened, pg_fetch

TODAY = datetime.now().replace(hour=12, minute=0, second=0, microsecond=0)
DAYS = [TODAY - timedelta(days=n) for n in (9, 8, 1)]


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):
    if request.param == "postgres":
        return "postgres", request.getfixturevalue("postgres_url")
    return "sqlite", None


def _record(i: int, when: datetime, provider: str, client: str, status: int, latency: float | None, cost: float):
    return {"id": f"h{i:04d}", "ts_start": when.timestamp() + i, "client": client, "agent": "claude-cli/2.0",
            "dialect_in": "anthropic", "dialect_out": "openai_chat", "provider": provider, "model": f"{provider}-m",
            "model_requested": "Smart", "stream": i % 2 == 0, "status": status, "latency_ms": latency, "ttfb_ms": 3.5,
            "input_tokens": 100, "output_tokens": 10, "cache_read_tokens": 4, "cache_write_tokens": 0,
            "cost_usd": cost, "attempts": 1 + i % 2, "credential": "env:OK", "paid_fallback": i == 3,
            "error": {"code": "upstream_timeout", "message": "slow"} if status >= 500 else None}  # fmt: skip


def _rows() -> list[dict]:
    """Day 0: 20 openai calls (latencies 10..200 ms, 2 errors); day 1: 3 anthropic; day 2: one of each, one unpriced."""
    rows = [_record(i, DAYS[0], "openai", "laptop", 500 if i < 2 else 200, 10.0 * (i + 1), 0.01) for i in range(20)]
    rows += [_record(20 + i, DAYS[1], "anthropic", "ci", 200, 50.0, 0.5) for i in range(3)]
    rows += [_record(30, DAYS[2], "openai", "laptop", 429, None, 0.0)]
    rows += [_record(31, DAYS[2], "anthropic", "laptop", 200, 70.0, 0.25)]
    return rows


async def _answers(backend_name: str, url: str | None, tmp_path) -> dict:
    async with opened(backend_name, tmp_path, url) as (_, ledger):
        for r in _rows():
            ledger.append(r)
        assert await ledger.flush()
        ledger.append(_rows()[0])  # the same id again: stored once
        assert await ledger.flush()
        return {
            "recent": await ledger.recent(100),
            "usage": {g: await ledger.usage(g, None) for g in ("hour", "day", "provider", "model")},
            "since": await ledger.usage("provider", DAYS[1].timestamp()),
            "spend": await ledger.spend_by_client(DAYS[1].timestamp()),
            "history": {
                (by, group): await ledger.history(HistoryQuery(by, group))
                for by in ("day", "week", "month")
                for group in ("", "provider", "client")
            },
            "health": ledger.health(),
        }


async def test_the_ledger_answers_alike_on_both_backends(postgres_url, tmp_path):
    """Every /v0 query (recent, usage per group, history per period and group) and the budgets' spend totals."""
    lite = await _answers("sqlite", None, tmp_path / "lite")
    pg = await _answers("postgres", postgres_url, tmp_path / "pg")
    assert lite["health"]["backend"] == "sqlite" and pg["health"]["backend"] == "postgres"
    assert pg["health"]["ok"] and pg["health"]["backlog"] == 0
    assert len(pg["recent"]) == len(_rows()) == 25
    assert pg["recent"] == lite["recent"]
    assert {r["id"]: r for r in pg["recent"]}["h0003"]["paid_fallback"] is True
    assert {r["id"]: r for r in pg["recent"]}["h0000"]["error"] == {"code": "upstream_timeout", "message": "slow"}
    for group, rows in lite["usage"].items():
        assert pg["usage"][group] == pytest.approx(rows), group
    assert pg["since"] == pytest.approx(lite["since"])
    assert pg["spend"] == pytest.approx(lite["spend"])
    assert lite["spend"] == pytest.approx({"ci": 1.5, "laptop": 0.25})
    for key, rows in lite["history"].items():
        assert pg["history"][key] == pytest.approx(rows), key
    day0 = lite["history"][("day", "")][0]
    assert (day0["requests"], day0["errors"], day0["p95_latency_ms"]) == (20, 2, 190.0)


async def test_postgres_rows_have_the_sqlite_columns_and_values(postgres_url, tmp_path):
    rows = _rows()
    async with opened("postgres", tmp_path, postgres_url) as (_, ledger):
        for r in rows:
            ledger.append(r)
        assert await ledger.flush()
    async with opened("sqlite", tmp_path / "lite", None) as (_, ledger):
        for r in rows:
            ledger.append(r)
        assert await ledger.flush()
    cols = await pg_fetch(postgres_url, "SELECT column_name FROM information_schema.columns "
                                        "WHERE table_name = 'requests'")  # fmt: skip
    with sqlite3.connect(tmp_path / "lite" / "data" / "usage.db") as conn:
        lite_cols = {r[1] for r in conn.execute("PRAGMA table_info(requests)")}
        lite_rows = conn.execute(f"SELECT {','.join(COLUMNS)} FROM requests ORDER BY id").fetchall()
    assert {r[0] for r in cols} == lite_cols == set(COLUMNS)
    pg_rows = [tuple(r) for r in await pg_fetch(postgres_url, f"SELECT {','.join(COLUMNS)} FROM requests ORDER BY id")]
    assert pg_rows == lite_rows


async def test_a_row_postgres_refuses_is_skipped_not_the_batch(postgres_url, tmp_path, caplog):
    """NUL is valid in SQLite text but not in PostgreSQL's: it is replaced; a value no column can hold is skipped."""
    rows = _rows()[:3]
    rows[0] = {**rows[0], "agent": "bad\x00agent"}
    rows[1] = {**rows[1], "input_tokens": 10**30}  # beyond BIGINT
    async with opened("postgres", tmp_path, postgres_url) as (_, ledger):
        for r in rows:
            ledger.append(r)
        assert await ledger.flush()
        stored = {r["id"]: r for r in await ledger.recent(10)}
    assert set(stored) == {rows[0]["id"], rows[2]["id"]}
    assert stored[rows[0]["id"]]["agent"] == "bad\ufffdagent"
    assert "cannot be stored; skipped" in caplog.text


async def test_migrations_apply_once_and_record_their_versions(backend, tmp_path):
    name, url = backend
    for _ in range(2):  # a second start finds everything applied
        async with opened(name, tmp_path, url):
            pass
    if name == "postgres":
        versions = [r[0] for r in await pg_fetch(url, "SELECT version FROM schema_version ORDER BY version")]
    else:
        with sqlite3.connect(tmp_path / "data" / "usage.db") as conn:
            versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, LATEST + 1))


async def test_an_older_sqlite_ledger_is_migrated_in_place_and_keeps_its_rows(tmp_path):
    """A ledger written before the storage layer (no schema_version, no newer columns) keeps working."""
    path = tmp_path / "data" / "usage.db"
    path.parent.mkdir(mode=0o700)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE requests (id TEXT PRIMARY KEY, ts_start REAL NOT NULL, client TEXT, agent TEXT, "
                     "dialect_in TEXT, dialect_out TEXT, model_requested TEXT, provider TEXT, model TEXT, "
                     "stream INTEGER, status INTEGER, latency_ms REAL, ttfb_ms REAL, input_tokens INTEGER, "
                     "output_tokens INTEGER, cache_read_tokens INTEGER, cache_write_tokens INTEGER, cost_usd REAL, "
                     "attempts INTEGER, error TEXT)")  # fmt: skip
        conn.execute("INSERT INTO requests (id, ts_start, client, cost_usd) VALUES ('old', 1.0, 'me', 2.5)")
    async with opened("sqlite", tmp_path, None) as (storage, ledger):
        assert await ledger.spend_by_client(0) == {"me": 2.5}
        key = await storage.member_keys.create("ana", "pp-live-secret-key-0001")
        assert (await storage.member_keys.find_by_hash(hash_key("pp-live-secret-key-0001"))).id == key.id
    assert path.stat().st_mode & 0o077 == 0


async def test_member_keys_are_stored_hashed_and_can_be_revoked(backend, tmp_path):
    name, url = backend
    secret = "pp-mk-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    async with opened(name, tmp_path, url) as (storage, _):
        keys = storage.member_keys
        ana = await keys.create("ana", secret, team="core", monthly_budget_usd=20, models=["Smart"], rpm=60,
                                tpm=100_000, expires_at=4_000_000_000.0)  # fmt: skip
        await keys.create("bo", "pp-mk-other-key-000000000000000000")
        found = await keys.find_by_hash(hash_key(secret))
        assert found == ana and found.usable(1_900_000_000.0)
        assert (found.team, found.models, found.rpm, found.tpm, found.monthly_budget_usd) == (
            "core", ("Smart",), 60, 100_000, 20.0)  # fmt: skip
        assert await keys.find_by_hash(hash_key("pp-mk-wrong")) is None
        assert [k.name for k in await keys.list()] == ["ana", "bo"]
        assert await keys.revoke(ana.id) is True
        assert await keys.revoke(ana.id) is False  # already revoked
        assert [k.name for k in await keys.list()] == ["bo"]
        assert not (await keys.find_by_hash(hash_key(secret))).usable(1_900_000_000.0)
    dump = await _dump(name, url, tmp_path)
    assert secret not in dump and hash_key(secret) in dump


async def test_the_audit_log_appends_lists_and_refuses_changes(backend, tmp_path):
    name, url = backend
    async with opened(name, tmp_path, url) as (storage, _):
        await storage.audit.append("admin", "key.created", "mk_1", {"name": "ana"})
        await storage.audit.append("admin", "cooldown.cleared", "openai")
        entries = await storage.audit.list()
        assert [(e.action, e.target, e.detail, e.replica) for e in entries] == [
            ("cooldown.cleared", "openai", None, "test-replica"),
            ("key.created", "mk_1", {"name": "ana"}, "test-replica"),
        ]
        for sql in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
            with pytest.raises((sqlite3.DatabaseError, asyncpg.PostgresError), match="append-only"):
                await storage.db.execute(sql)
        assert len(await storage.audit.list()) == 2


async def test_cooldowns_persist_in_the_backend(backend, tmp_path):
    name, url = backend
    until = 4_000_000_000.0
    async with opened(name, tmp_path, url) as (storage, _):
        store = await CooldownStore.open(tmp_path / "data" / "usage.db", storage.cooldown_table())
        await store.put(Cooldown("openai", "env:OK", "gpt-4o", until, "rate_limit", 429, 2))
        await store.put(Cooldown("openai", "env:OK2", "gpt-4o", until, "auth", 401, 1))
        assert await store.remove("openai", "env:OK2", "gpt-4o")
    async with opened(name, tmp_path, url) as (storage, _):  # a restart
        again = await CooldownStore.open(tmp_path / "data" / "usage.db", storage.cooldown_table())
        assert again.list(now=0) == [Cooldown("openai", "env:OK", "gpt-4o", until, "rate_limit", 429, 2)]
    if name == "postgres":  # and it is PostgreSQL's table, not a local file
        rows = await pg_fetch(url, "SELECT provider, credential, model, status FROM credential_cooldowns")
        assert [tuple(r) for r in rows] == [("openai", "env:OK", "gpt-4o", 429)]


async def _dump(name: str, url: str | None, tmp_path) -> str:
    """Every table's every value, as text: what someone reading the database would see."""
    if name == "postgres":
        tables = [r[0] for r in await pg_fetch(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        out = []
        for t in tables:
            out += [json.dumps(dict(r), default=str) for r in await pg_fetch(url, f"SELECT * FROM {t}")]
        return "\n".join(out)
    with sqlite3.connect(tmp_path / "data" / "usage.db") as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(str(row) for t in tables for row in conn.execute(f"SELECT * FROM {t}"))


async def test_many_engines_migrating_at_once_apply_each_version_once(backend, tmp_path, caplog):
    """Eight storages open one fresh database at the same moment (as replicas starting together would)."""
    import asyncio
    import logging

    from proxy_engine.config import TeamConfig
    from proxy_engine.storage.backend import Storage

    name, url = backend
    caplog.set_level(logging.INFO, logger="proxy_engine.storage")
    team = TeamConfig(postgres=url) if name == "postgres" else None
    storages = [Storage.from_config(tmp_path / "data" / "usage.db", team) for _ in range(8)]
    try:
        await asyncio.gather(*(s.open() for s in storages))
        for i, s in enumerate(storages):  # every one of them works
            await s.audit.append("admin", "started", str(i))
        assert len(await storages[0].audit.list()) == 8
    finally:
        await asyncio.gather(*(s.close() for s in storages))
    messages = [r.getMessage() for r in caplog.records]
    assert [m for m in messages if "migrated to schema version" in m] != []
    assert len([m for m in messages if "migrated to schema version" in m]) == 1, messages
    assert not [m for m in messages if "failed" in m], messages


async def test_sessions_answer_alike_on_both_backends(postgres_url, tmp_path):
    """`/v0/sessions` and `/v0/requests?session=` read PostgreSQL in team mode, with SQLite's answers."""
    from proxy_engine.storage.session_queries import recent_sessions, session_requests

    rows = [{**r, "session": f"s{i % 3}" if i % 4 else None} for i, r in enumerate(_rows())]
    answers = {}
    for name, url in (("sqlite", None), ("postgres", postgres_url)):
        async with opened(name, tmp_path / name, url) as (_, ledger):
            for r in rows:
                ledger.append(r)
            summary = await recent_sessions(ledger, 0.0, 50)
            for s in summary:
                s["models"] = sorted(s["models"])
            answers[name] = (summary, await session_requests(ledger, "s1", 50), await recent_sessions(ledger, 0.0, 1))
    lite, pg = answers["sqlite"], answers["postgres"]
    assert [s["session"] for s in lite[0]] == ["s2", "s1", "s0"]  # latest first
    assert pg[0] == pytest.approx(lite[0])
    assert pg[1] == lite[1] and {r["session"] for r in pg[1]} == {"s1"} and len(pg[1]) > 1
    assert len(pg[2]) == 1


async def test_quota_readings_persist_and_a_late_older_reading_never_wins(backend, tmp_path):
    """The quota ledger's `quota_windows` through the storage layer: PostgreSQL's table in team mode."""
    from proxy_engine.quota.ledger import QuotaLedger
    from proxy_engine.quota.store import SqliteQuotaTable
    from proxy_engine.quota.window import QuotaWindow

    name, url = backend
    async with opened(name, tmp_path, url) as (storage, _):
        table = storage.quota_table() or SqliteQuotaTable(tmp_path / "data" / "usage.db")
        await table.load()
        w = QuotaWindow("claude", "login:ana", "5h", 40.0, 2_000_000_000.0, 1000.0, limit=100, remaining=60,
                        status="allowed", window_s=18000, representative=True)  # fmt: skip
        await table.write([w])
        await table.write([QuotaWindow("claude", "login:ana", "5h", 10.0, 2_000_000_000.0, 900.0)])  # older: ignored
        assert await table.read() == [w]
        newer = QuotaWindow("claude", "login:ana", "5h", 55.5, 2_000_000_000.0, 1100.0, blocks=False)
        await table.write([newer])
        assert await table.read() == [newer]
        ledger = QuotaLedger(lambda e: None)
        await ledger.open(tmp_path / "data" / "usage.db", storage.quota_table())
        assert ledger.windows() == [newer]
    if name == "postgres":
        rows = await pg_fetch(url, "SELECT provider, credential, name, used_percent FROM quota_windows")
        assert [tuple(r) for r in rows] == [("claude", "login:ana", "5h", 55.5)]


def test_sqlite_engines_upgrading_one_file_at_once_apply_each_version_once(tmp_path):
    """An older ledger (schema version 1) opened by eight engines at once: the reads of `schema_version` and the
    writes that follow happen in one BEGIN IMMEDIATE each, so no engine applies a version another applied."""
    import threading

    from proxy_engine.storage.migrations import MIGRATIONS, migrate_sqlite
    from proxy_engine.storage.sqlite_database import connect

    path = tmp_path / "usage.db"
    first = connect(path)
    first.isolation_level = None
    first.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL)")
    for statement in MIGRATIONS[0].sqlite:
        first.execute(statement)
    first.execute("INSERT INTO schema_version VALUES (1, 'ledger and cooldowns', 0)")
    first.close()
    start, results, errors = threading.Barrier(8), [], []

    def upgrade() -> None:
        conn = connect(path)
        try:
            start.wait()
            results.append(migrate_sqlite(conn))
        except sqlite3.Error as e:
            errors.append(e)
        finally:
            conn.close()

    threads = [threading.Thread(target=upgrade) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(v for applied in results for v in applied) == list(range(2, LATEST + 1))
    with sqlite3.connect(path) as conn:
        assert [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")] == list(
            range(1, LATEST + 1))  # fmt: skip
