"""An engine in team mode (`team.postgres`) against a real PostgreSQL: migrations, rows, /v0 reads, cooldowns."""

from __future__ import annotations

import json
import sqlite3
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from proxy_engine.storage.migrations import LATEST
from proxy_engine.usage.ledger import COLUMNS
from tests.fakes import FakeAnthropic, FakeGemini, FakeOpenAI, FakeServerThread
from tests.team.engines import KEYS, chat, start_together, team_engine, wait_until
from tests.team.stores import pg_fetch


@pytest.fixture(scope="module")
def fakes():
    with FakeServerThread(FakeOpenAI(api_keys=[KEYS["K1"], KEYS["K2"]])) as fo, \
            FakeServerThread(FakeAnthropic(api_key=KEYS["TAK"])) as fa, \
            FakeServerThread(FakeGemini(api_key=KEYS["TGK"])) as fg:  # fmt: skip
        yield fo, fa, fg


@pytest.fixture(autouse=True)
def _reset(fakes):
    for f in fakes:
        f.reset()


def _with_password(url: str, password: str) -> str:
    """The same server with a password in the URL (trust auth ignores it; what matters is that it never leaks)."""
    p = urlsplit(url)
    return urlunsplit(p._replace(netloc=f"{p.username}:{password}@{p.hostname}:{p.port}"))


def test_two_engines_starting_together_migrate_the_database_once(fakes, postgres_url):
    """Two replicas started at the same moment on a fresh database both serve, on one schema."""
    engines = [team_engine(fakes, postgres_url) for _ in range(2)]
    try:
        start_together(engines)
        for eng in engines:
            chat(eng)
            assert eng.api("GET", "/v0/status").json()["ledger"]["backend"] == "postgres"
        migrated = [line for eng in engines for line in eng.stderr_lines if "migrated to schema version" in line]
        # One engine applied them; the other found them applied. (Start-ups rarely overlap to the millisecond:
        # the race itself is driven in test_storage_backends.py, where it fails without the locks.)
        assert len(migrated) == 1, migrated
        failed = [line for eng in engines for line in eng.stderr_lines if "failed" in line or "Error" in line]
        assert failed == [], failed  # without the lock the loser's CREATE TABLE collides with the winner's
        versions = [r[0] for r in _sync(pg_fetch(postgres_url, "SELECT version FROM schema_version ORDER BY 1"))]
        assert versions == list(range(1, LATEST + 1))
        wait_until(lambda: len(_sync(pg_fetch(postgres_url, "SELECT id FROM requests"))) == 2, what="both rows")
    finally:
        for eng in engines:
            eng.stop()


def test_rows_land_in_postgres_with_the_sqlite_columns_and_v0_reads_them_back(fakes, postgres_url):
    password = "pg-Secret-Passw0rd-4711"
    url = _with_password(postgres_url, password)
    eng = team_engine(fakes, "env:PP_TEAM_PG", env={"PP_TEAM_PG": url}).start()
    sub = eng.subscribe()
    try:
        ids = {chat(eng).headers["X-ProxyPal-Request-Id"], chat(eng, stream=True).headers["X-ProxyPal-Request-Id"]}
        r = eng.api("GET", "/v0/requests?limit=10")  # flushes this engine's rows first
        assert r.status_code == 200 and {x["id"] for x in r.json()["requests"]} == ids
        rows = _sync(pg_fetch(postgres_url, f"SELECT {','.join(COLUMNS)} FROM requests"))
        assert {row["id"] for row in rows} == ids
        cols = _sync(pg_fetch(postgres_url, "SELECT column_name FROM information_schema.columns "
                                            "WHERE table_name = 'requests'"))  # fmt: skip
        assert {c[0] for c in cols} == set(COLUMNS)
        by_id = {x["id"]: x for x in r.json()["requests"]}
        for row in rows:
            expected = ("openai", "gpt-4o-mini", 200, by_id[row["id"]]["credential"])
            assert (row["provider"], row["model"], row["status"], row["credential"]) == expected
            assert row["input_tokens"] == by_id[row["id"]]["input_tokens"] > 0
        # Nothing went to the local SQLite ledger.
        local = eng.home / "data" / "usage.db"
        if local.exists():
            with sqlite3.connect(local) as conn:
                has = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'requests'").fetchone()[0]
                assert not has or conn.execute("SELECT count(*) FROM requests").fetchone()[0] == 0

        # A row another replica wrote is in this engine's /v0 answers: they are read from PostgreSQL.
        _sync(pg_fetch(postgres_url, "INSERT INTO requests (id, ts_start, client, provider, model, status, cost_usd, "
                                     "input_tokens, output_tokens, latency_ms) VALUES ('other-replica-row', $1, "
                                     "'bo', 'anthropic', 'claude-x', 200, 1.25, 7, 3, 40)", time.time()))  # fmt: skip
        usage = eng.api("GET", "/v0/usage?group=provider").json()["rows"]
        assert {u["key"]: u["requests"] for u in usage} == {"openai": 2, "anthropic": 1}
        assert {u["key"]: u["cost_usd"] for u in usage}["anthropic"] == 1.25
        hist = eng.api("GET", "/v0/history", params={"by": "day", "group": "client"}).json()["rows"]
        assert {h["client"]: h["requests"] for h in hist} == {"local": 2, "bo": 1}

        # The URL's password is nowhere: answers, events, logs, files under the home, the database.
        time.sleep(0.6)  # a stats event and a batch
        answers = [eng.api("GET", p).text for p in ("/v0/status", "/v0/config", "/v0/requests", "/v0/usage")]
        files = [p.read_bytes().decode("latin-1") for p in eng.home.rglob("*") if p.is_file()]
        dump = _sync(_pg_dump(postgres_url))
        places = {"answers": "\n".join(answers), "events": json.dumps(sub.events), "stderr": "".join(eng.stderr_lines),
                  "files": "\n".join(files), "database": dump}  # fmt: skip
        for where, text in places.items():
            assert password not in text, f"the PostgreSQL password leaks into {where}"
            assert url not in text
            for key in KEYS.values():
                assert key not in text, f"a provider key leaks into {where}"
    finally:
        sub.close()
        eng.stop()


def test_cooldowns_are_kept_in_postgres_and_honoured_by_another_replica(fakes, postgres_url):
    fo = fakes[0]
    one = team_engine(fakes, postgres_url).start()
    try:
        fo.queue(key=KEYS["K1"], status=429, retry_after=600)
        chat(one)  # K1 answers 429 and cools down; K2 serves
        wait_until(lambda: _sync(pg_fetch(postgres_url, "SELECT credential FROM credential_cooldowns")) != [],
                   what="the cooldown row")  # fmt: skip
        row = _sync(pg_fetch(postgres_url, "SELECT provider, credential, model, reason, status, until "
                                           "FROM credential_cooldowns"))[0]  # fmt: skip
        assert tuple(row)[:5] == ("openai", "env:K1", "gpt-4o-mini", "rate_limit", 429)
        assert row["until"] > time.time() + 500
    finally:
        one.stop()
    two = team_engine(fakes, postgres_url).start()  # another replica, its own home: only PostgreSQL is shared
    try:
        creds = next(p for p in two.api("GET", "/v0/auth/status").json()["providers"] if p["name"] == "openai")
        k1 = next(c for c in creds["credentials"] if c["id"] == "env:K1")
        assert k1["state"] == "cooling"
        fo.requests.clear()
        for _ in range(3):
            chat(two)
        assert [r.headers["authorization"][7:] for r in fo.requests] == [KEYS["K2"]] * 3
        assert two.api("POST", "/v0/auth/cooldowns/clear", json={"provider": "openai"}).json() == {"cleared": 1}
        wait_until(lambda: _sync(pg_fetch(postgres_url, "SELECT 1 FROM credential_cooldowns")) == [],
                   what="the cleared cooldown to leave PostgreSQL")  # fmt: skip
    finally:
        two.stop()


async def _pg_dump(url: str) -> str:
    out = []
    for (t,) in await pg_fetch(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"):
        out += [json.dumps(dict(r), default=str) for r in await pg_fetch(url, f"SELECT * FROM {t}")]
    return "\n".join(out)


def _sync(coro):
    import asyncio

    return asyncio.run(coro)


def test_workers_in_team_mode_write_to_postgres_and_budgets_start_from_its_spend(fakes, postgres_url):
    """`serve --workers 2` with team.postgres: the supervisor seeds the budget spend from PostgreSQL."""
    first = team_engine(fakes, postgres_url).start()  # migrates the database
    first.stop()
    _sync(pg_fetch(postgres_url, "INSERT INTO requests (id, ts_start, client, status, cost_usd) "
                                 "VALUES ('earlier-today', $1, 'local', 200, 2.5)", time.time()))  # fmt: skip
    eng = team_engine(fakes, postgres_url, env={"PROXYPAL_WORKERS": "2"}, extra="budgets: {daily_usd: 100}\n").start()
    try:
        daily = next(b for b in eng.api("GET", "/v0/status").json()["budgets"] if b["scope"] == "daily")
        assert daily["spent"] == pytest.approx(2.5)
        ids = {chat(eng).headers["X-ProxyPal-Request-Id"] for _ in range(10)}
        wait_until(lambda: ids <= {r[0] for r in _sync(pg_fetch(postgres_url, "SELECT id FROM requests"))},
                   what="every worker's rows in PostgreSQL")  # fmt: skip
    finally:
        eng.stop()
    local = eng.home / "data" / "usage.db"
    if local.exists():
        with sqlite3.connect(local) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            assert "requests" not in tables or conn.execute("SELECT count(*) FROM requests").fetchone()[0] == 0
