"""`team:` in the config: secret handling of the URLs, and how an engine starts when PostgreSQL is not there."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from proxy_engine.config import ConfigError, parse_config_text
from proxy_engine.storage.backend import Storage
from tests.fakes import FakeAnthropic, FakeGemini, FakeOpenAI, FakeServerThread
from tests.team.engines import KEYS, chat, team_engine, wait_until
from tests.team.stores import pg_fetch


@pytest.mark.parametrize(
    "team",
    [
        "{postgres: env:PROXYPAL_PG_URL, redis: keyring:team-redis, replica_id: api-1}",
        "{postgres: 'postgresql://proxypal@db.internal:5432/proxypal', redis: 'redis://cache.internal:6379/0'}",
        "{postgres: 'postgres://db.internal/proxypal'}",
        "{redis: 'rediss://cache.internal:6380'}",
    ],
)
def test_team_accepts_references_and_urls_without_passwords(team):
    cfg = parse_config_text(f"team: {team}\n")
    assert cfg.team is not None


@pytest.mark.parametrize(
    ("team", "says"),
    [
        ("{postgres: 'postgresql://proxypal:hunter2-Secret@db:5432/pp'}", "carries a password"),
        ("{redis: 'redis://:hunter2-Secret@cache:6379/0'}", "carries a password"),
        ("{postgres: 'mysql://db/pp'}", "postgresql:// URL"),
        ("{postgres: 'hunter2-Secret'}", "postgresql:// URL"),
        ("{replica_id: 'has spaces'}", "replica_id"),
    ],
)
def test_team_refuses_urls_with_passwords_without_echoing_them(team, says):
    with pytest.raises(ConfigError) as e:
        parse_config_text(f"port: 1\nteam: {team}\n", "team.yaml")
    text = str(e.value)
    assert says in text and "team.yaml:2" in text
    assert "hunter2-Secret" not in text


def test_without_team_the_storage_is_the_sqlite_ledger(tmp_path):
    storage = Storage.from_config(tmp_path / "usage.db", parse_config_text("port: 1\n").team)
    assert storage.kind == "sqlite" and storage.ledger_store() is None and storage.cooldown_table() is None


def test_an_unreadable_postgres_reference_stops_the_start_with_a_clear_message():
    home = Path(tempfile.mkdtemp(prefix="pp-team-"))
    (home / "config.yaml").write_text("port: 0\nteam: {postgres: env:PP_NOT_SET_ANYWHERE}\n")
    env = {k: v for k, v in os.environ.items() if k != "PP_NOT_SET_ANYWHERE"}
    r = subprocess.run([sys.executable, "-m", "proxy_engine", "serve"], env={**env, "PROXYPAL_HOME": str(home)},
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 2
    assert "team.postgres: the PostgreSQL URL cannot be read" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.fixture(scope="module")
def fakes():
    with FakeServerThread(FakeOpenAI(api_keys=[KEYS["K1"], KEYS["K2"]])) as fo, \
            FakeServerThread(FakeAnthropic(api_key=KEYS["TAK"])) as fa, \
            FakeServerThread(FakeGemini(api_key=KEYS["TGK"])) as fg:  # fmt: skip
        yield fo, fa, fg


def test_an_engine_starts_and_serves_while_postgres_is_down_and_migrates_once_it_is_up(fakes, postgres_factory):
    server = postgres_factory()
    url = server.create_database("late")
    server.stop()
    eng = team_engine(fakes, url).start()
    try:
        ids = {chat(eng).headers["X-ProxyPal-Request-Id"] for _ in range(5)}
        wait_until(lambda: eng.api("GET", "/v0/status").json()["ledger"]["ok"] is False, what="the outage to show")
        server.start()
        wait_until(lambda: eng.api("GET", "/v0/status").json()["ledger"]["backlog"] == 0, what="the rows to flush")
        rows = asyncio.run(pg_fetch(url, "SELECT id FROM requests"))
        assert sorted(r[0] for r in rows) == sorted(ids)
        versions = asyncio.run(pg_fetch(url, "SELECT count(*) FROM schema_version"))
        assert versions[0][0] >= 2
    finally:
        eng.stop()


def test_the_cooldowns_command_acts_on_postgres_in_team_mode(postgres_url, tmp_path):
    """`proxypal-engine auth cooldowns` lists and clears the table every replica shares, not a local file."""
    from proxy_engine.config import TeamConfig
    from proxy_engine.credentials.cooldowns import Cooldown, CooldownStore

    async def put() -> None:
        storage = Storage.from_config(tmp_path / "other.db", TeamConfig(postgres=postgres_url))
        await storage.open()
        try:
            store = await CooldownStore.open(tmp_path / "other.db", storage.cooldown_table())
            await store.put(Cooldown("openai", "env:K1", "gpt-4o", 4_000_000_000.0, "rate_limit", 429, 1))
        finally:
            await storage.close()

    asyncio.run(put())
    (tmp_path / "config.yaml").write_text("team: {postgres: env:PP_CLI_PG}\n")
    env = {**os.environ, "PROXYPAL_HOME": str(tmp_path), "PP_CLI_PG": postgres_url}
    env.pop("PROXYPAL_CONFIG", None)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "proxy_engine", "auth", "cooldowns", *args], env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    listed = cli("--json")
    assert listed.returncode == 0, listed.stderr
    assert [(c["provider"], c["credential"], c["model"]) for c in json.loads(listed.stdout)] == [
        ("openai", "env:K1", "gpt-4o")]  # fmt: skip
    cleared = cli("--clear")
    assert cleared.returncode == 0 and "Cleared 1" in cleared.stdout
    assert asyncio.run(pg_fetch(postgres_url, "SELECT * FROM credential_cooldowns")) == []
