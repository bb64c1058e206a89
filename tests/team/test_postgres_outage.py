"""PostgreSQL stops mid-load under a team-mode engine: requests keep being served, rows queue on disk,
the outage shows in /v0/status and the `stats` event, and after the restart every request has exactly one row."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from tests.fakes import FakeAnthropic, FakeGemini, FakeOpenAI, FakeServerThread
from tests.team.engines import CHAT, KEYS, team_engine, wait_until
from tests.team.stores import pg_fetch

CLIENTS = 4


@pytest.fixture(scope="module")
def fakes():
    with FakeServerThread(FakeOpenAI(api_keys=[KEYS["K1"], KEYS["K2"]])) as fo, \
            FakeServerThread(FakeAnthropic(api_key=KEYS["TAK"])) as fa, \
            FakeServerThread(FakeGemini(api_key=KEYS["TGK"])) as fg:  # fmt: skip
        yield fo, fa, fg


class Load:
    """CLIENTS threads sending chat calls (half streamed) until stopped; every answer's request id is kept."""

    def __init__(self, url: str) -> None:
        self.url = url + "/v1/chat/completions"
        self.ids: list[str] = []
        self.bad: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(CLIENTS)]
        for t in self._threads:
            t.start()

    def _client(self, i: int) -> None:
        n = 0
        with httpx.Client(timeout=20) as client:
            while not self.stop.is_set():
                n += 1
                stream = (i + n) % 2 == 0
                try:
                    with client.stream("POST", self.url, json={**CHAT, "stream": stream}) as r:
                        body = r.read()
                except httpx.HTTPError as e:
                    with self._lock:
                        self.bad.append(f"{type(e).__name__}: {e}")
                    continue
                ok = r.status_code == 200 and ((b"[DONE]" in body) if stream else (b"Hello from" in body))
                with self._lock:
                    self.ids.append(r.headers.get("X-ProxyPal-Request-Id", "?"))
                    if not ok:
                        self.bad.append(f"{r.status_code}: {body[:200]!r}")

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.ids)

    def finish(self) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(30)


def test_postgres_stopped_mid_load_rows_queue_on_disk_and_flush_once_after_restart(fakes, postgres_factory):
    server = postgres_factory()
    url = server.create_database("ledger")
    eng = team_engine(fakes, url).start()
    sub = eng.subscribe()
    load = Load(eng.url)
    try:
        wait_until(lambda: load.count >= 20, what="20 requests before the outage")
        server.stop()
        wait_until(lambda: eng.api("GET", "/v0/status").json()["ledger"]["ok"] is False, what="the writer to notice")
        # Cooldowns set while PostgreSQL is away (a model the load does not use, so no success clears them).
        for key in ("K1", "K2"):
            fakes[0].queue(key=KEYS[key], model="gpt-4o", status=429, retry_after=600)
        cooled = httpx.post(eng.url + "/v1/chat/completions", json={**CHAT, "model": "gpt-4o"}, timeout=20)
        assert cooled.status_code == 429
        load.ids.append(cooled.headers["X-ProxyPal-Request-Id"])  # its row counts like every other
        before = load.count
        wait_until(lambda: load.count >= before + 60, what="60 requests during the outage")

        status = eng.api("GET", "/v0/status").json()["ledger"]
        assert status["backend"] == "postgres" and status["ok"] is False
        assert status["backlog"] > 0 and "PostgreSQL" in status["last_error"]
        assert status["dropped"] == 0
        assert url not in status["last_error"]
        ev = sub.wait_for("stats", lambda e: (e.get("ledger") or {}).get("ok") is False)
        assert ev["ledger"]["backend"] == "postgres" and ev["ledger"]["backlog"] > 0
        queued = [p for p in (eng.home / "data" / "journal").glob("*/*.jsonl") if p.stat().st_size > 0]
        assert queued, "the waiting rows are on disk, not only in memory"
        down = eng.api("GET", "/v0/usage")
        assert down.status_code == 503 and "unavailable" in down.json()["error"]

        server.start()
        during = load.count
        wait_until(lambda: load.count >= during + 20, what="20 requests after the restart")
        load.finish()
        wait_until(lambda: eng.api("GET", "/v0/status").json()["ledger"]["backlog"] == 0, what="the queue to flush")
        health = eng.api("GET", "/v0/status").json()["ledger"]
        assert health["ok"] is True and health["dropped"] == 0
        after = sub.events.index(ev) + 1
        wait_until(
            lambda: any(e["type"] == "stats" and (e.get("ledger") or {}).get("ok") is True for e in sub.events[after:]),
            what="a stats event saying the ledger is ok again",
        )

        assert load.bad == [], load.bad[:5]  # every request was served while PostgreSQL was away
        rows = asyncio.run(pg_fetch(url, "SELECT id FROM requests"))
        stored = [r[0] for r in rows]
        assert len(stored) == len(set(stored)) == len(load.ids), (len(stored), len(load.ids))
        assert set(stored) == set(load.ids)  # exactly one row per request
        assert not [p for p in (eng.home / "data" / "journal").glob("*/sealed-*.jsonl")], "flushed segments go"
        wait_until(lambda: len(asyncio.run(pg_fetch(url, "SELECT credential FROM credential_cooldowns"))) == 2,
                   what="the cooldown kept in memory to reach PostgreSQL")  # fmt: skip
        kept = asyncio.run(pg_fetch(url, "SELECT provider, credential, model, status FROM credential_cooldowns"))
        assert sorted(tuple(r) for r in kept) == [("openai", f"env:{k}", "gpt-4o", 429) for k in ("K1", "K2")]
    finally:
        load.finish()
        sub.close()
        eng.stop()


async def test_the_queue_while_postgres_is_away_is_bounded_on_disk_and_losses_are_counted(postgres_factory, tmp_path):
    """`ledger.max_journal_mb` bounds the disk, `max_backlog_rows` the memory; past both, rows are dropped and
    counted (never silently), and everything that was kept reaches PostgreSQL once it is back."""
    from proxy_engine.config import TeamConfig
    from proxy_engine.storage.backend import Storage
    from proxy_engine.usage.ledger import CostLedger

    server = postgres_factory()
    url = server.create_database("bounded")
    storage = Storage.from_config(tmp_path / "usage.db", TeamConfig(postgres=url))
    await storage.open()
    bound = 20_000
    ledger = CostLedger(tmp_path / "usage.db", tmp_path / "journal", max_backlog=100, store=storage.ledger_store(),
                        max_journal_bytes=bound)  # fmt: skip
    await ledger.open()
    try:
        server.stop()
        for i in range(400):
            ledger.append({"id": f"r{i:04d}", "ts_start": 1.0 + i, "client": "c", "status": 200, "cost_usd": 0.001,
                           "agent": "x" * 300})  # fmt: skip
        assert not await ledger.flush()
        on_disk = sum(p.stat().st_size for p in (tmp_path / "journal").glob("*/*.jsonl"))
        assert 0 < on_disk <= bound
        health = ledger.health()
        assert health["ok"] is False and health["dropped"] > 0 and health["journal_failed"] > 0
        assert "bound" in health["journal_error"]
        assert health["backlog"] + health["dropped"] == 400  # every row is either waiting or counted as lost

        server.start()
        assert await ledger.flush()
        rows = {r[0] for r in await pg_fetch(url, "SELECT id FROM requests")}
        assert len(rows) == 400 - health["dropped"] == health["backlog"]
        assert {f"r{i:04d}" for i in range(300, 400)} <= rows  # the newest rows were kept in memory
        assert ledger.health()["backlog"] == 0
        assert not list((tmp_path / "journal").glob("*/sealed-*.jsonl"))
    finally:
        await ledger.close()
        await storage.close()
