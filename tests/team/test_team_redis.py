"""Replicas sharing Redis (real engine processes, real Redis and PostgreSQL): budgets, cooldowns, events.

Budgets hold across three replicas under concurrent load, a cooldown set through one replica is
honoured by the others within a second, and `tail --team` on one replica shows every replica's
requests, each tagged with its replica.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tests.fakes import FakeOpenAI, FakeServerThread
from tests.fakes import quota_headers as qh
from tests.fakes.script import Usage
from tests.team.engines import KEYS, wait_until
from tests.team.redis_engines import ANN, PRICES, replicas, spread, stop_all
from tests.team.stores import pg_fetch


@pytest.fixture(scope="module")
def fo():
    with FakeServerThread(FakeOpenAI(api_keys=[KEYS["K1"], KEYS["K2"]])) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _reset(fo):
    fo.reset()


def _redis_hash(url: str, key: str) -> dict[bytes, bytes]:
    import redis

    r = redis.Redis.from_url(url)
    try:
        return r.hgetall(key)
    finally:
        r.close()


def test_a_client_budget_holds_across_three_replicas_under_concurrent_load(fo, redis_url, postgres_url):
    fo.script(usage=Usage(input_tokens=100, output_tokens=100), delay=0.05)  # $0.20 a request
    limit, cost, concurrency = 3.0, 0.2, 12
    clients = f"clients:\n  - {{name: ann, key: env:ANN, monthly_budget_usd: {limit}}}\n"
    engines = replicas(3, fo, redis_url, postgres_url, PRICES + clients)
    subs = [eng.subscribe() for eng in engines]
    try:
        statuses = spread(engines, total=90, concurrency=concurrency, key=ANN)
        assert set(statuses) == {200, 429}, statuses
        served = statuses.count(200)
        print(f"budget across 3 replicas: {served} served of 90, ${served * cost:.2f} against ${limit:.2f}")
        assert served * cost >= limit, "the budget was not under-used"
        assert served * cost <= limit + concurrency * cost + 1e-9, f"{served} served: overspent beyond the in-flight"
        assert len(fo.requests) == served  # a refused request never reached the upstream
        # Every replica refuses the next one, with the budget's own error.
        for eng in engines:
            r = httpx.post(eng.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {ANN}"},
                           json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})  # fmt: skip
            assert r.status_code == 429 and r.headers.get("Retry-After"), r.text
            assert "client:ann" in r.text
        # The shared counter is exactly the ledger's sum (µUSD), with nothing left held.
        for eng in engines:
            eng.api("GET", "/v0/requests?limit=1")  # flushes that replica's rows
        rows = asyncio.run(pg_fetch(postgres_url, "SELECT cost_usd, status FROM requests WHERE client = 'ann'"))
        assert len(rows) == 93 and sum(1 for r in rows if r["status"] == 200) == served
        ledger_usd = sum(r["cost_usd"] or 0 for r in rows)
        assert ledger_usd == pytest.approx(served * cost)
        month = next(k for k in _keys(redis_url, "pp:spend:client:ann:month:*"))
        counter = _redis_hash(redis_url, month)
        assert int(counter[b"spent"]) == round(ledger_usd * 1_000_000)
        assert not [f for f in counter if f.startswith(b"held:")], counter
        # Each alert threshold was raised once for the whole team, by the replica whose request crossed it.
        time.sleep(0.5)
        alerts = [e for sub in subs for e in sub.events if e["type"] == "budget.alert"]
        assert sorted(e["threshold"] for e in alerts) == [0.5, 0.8, 1.0], alerts
        assert {e["scope"] for e in alerts} == {"client:ann"}
    finally:
        for sub in subs:
            sub.close()
        stop_all(engines)


def _keys(url: str, pattern: str) -> list[str]:
    import redis

    r = redis.Redis.from_url(url)
    try:
        return [k.decode() for k in r.scan_iter(match=pattern)]
    finally:
        r.close()


def test_a_cooldown_set_through_one_replica_is_honoured_by_the_others_within_a_second(fo, redis_url):
    # Redis only: each replica keeps cooldowns in its own SQLite file, so only Redis can carry it.
    engines = replicas(3, fo, redis_url)
    try:
        fo.queue(key=KEYS["K1"], status=429, retry_after=600)
        for eng in engines:  # every replica has served once: each knows both keys as usable
            assert httpx.post(eng.url + "/v1/chat/completions", json=_CHAT).status_code == 200
        cooled_at = time.monotonic()
        assert [r.headers["authorization"][7:] for r in fo.requests][:2] == [KEYS["K1"], KEYS["K2"]]
        for eng in engines[1:]:
            wait_until(lambda e=eng: _cooling(e, "env:K1"), timeout=1.0, what="the cooldown on another replica")
        assert time.monotonic() - cooled_at < 1.0
        fo.requests.clear()
        for eng in engines[1:]:
            for _ in range(4):
                assert httpx.post(eng.url + "/v1/chat/completions", json=_CHAT).status_code == 200
        assert {r.headers["authorization"][7:] for r in fo.requests} == {KEYS["K2"]}, "K1 was used while cooling"
        # Cleared on one replica: usable on the others again.
        assert engines[2].api("POST", "/v0/auth/cooldowns/clear", json={"provider": "openai"}).json()["cleared"] == 1
        wait_until(lambda: not _cooling(engines[0], "env:K1"), timeout=1.0, what="the clear to reach replica 0")
    finally:
        stop_all(engines)


_CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def _cooling(eng, cred: str) -> bool:
    providers = eng.api("GET", "/v0/auth/status").json()["providers"]
    creds = next(p for p in providers if p["name"] == "openai")["credentials"]
    return next(c for c in creds if c["id"] == cred)["state"] == "cooling"


def test_tail_team_on_one_replica_shows_every_replicas_requests_with_their_tags(fo, redis_url):
    engines = replicas(3, fo, redis_url)
    tail = subprocess.Popen([sys.executable, "-m", "proxy_engine", "tail", "--team", "--json",
                             "--socket", engines[0].events_socket()],
                            stdout=subprocess.PIPE, env=engines[0].env)  # fmt: skip
    plain = engines[0].subscribe()  # without --team: this replica's events only
    lines: list[dict] = []

    def read() -> None:
        assert tail.stdout is not None
        for raw in tail.stdout:
            lines.append(json.loads(raw))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        time.sleep(0.5)  # the subscriber's team request is read before the traffic starts
        ids = {}
        for eng in engines:
            r = httpx.post(eng.url + "/v1/chat/completions", json=_CHAT)
            ids[r.headers["X-ProxyPal-Request-Id"]] = eng.api("GET", "/v0/status").json()["team"]["replica"]
            assert r.status_code == 200

        def finished() -> dict[str, str]:
            return {e["id"]: e.get("replica") for e in lines if e["type"] == "request.finished"}

        wait_until(lambda: set(finished()) >= set(ids), timeout=10, what="every replica's request in tail --team")
        assert {k: v for k, v in finished().items() if k in ids} == ids
        assert len(set(ids.values())) == 3
        time.sleep(0.3)
        own = {e["id"] for e in plain.events if e["type"] == "request.finished"}
        first = next(iter(ids.values()))
        assert own == {k for k, v in ids.items() if v == first}, "a plain subscriber saw other replicas"
    finally:
        plain.close()
        tail.terminate()
        tail.wait(10)
        stop_all(engines)


def test_redis_stopped_mid_load_requests_flow_status_says_degraded_and_state_reconciles(fo, redis_server, postgres_url):
    redis_server.ensure_running()
    redis_server.flush_all()
    fo.script(usage=Usage(input_tokens=100, output_tokens=100))  # $0.20 a request
    clients = "clients:\n  - {name: ann, key: env:ANN, monthly_budget_usd: 1000}\n"
    engines = replicas(2, fo, redis_server.url, postgres_url, PRICES + clients)
    sub = engines[0].subscribe()
    statuses: list[int] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            statuses.extend(spread(engines, total=4, concurrency=2, key=ANN))

    loader = threading.Thread(target=load)
    loader.start()
    try:
        wait_until(lambda: len(statuses) >= 20, what="load before the outage")
        redis_server.stop()
        before = len(statuses)
        for eng in engines:
            wait_until(lambda e=eng: e.api("GET", "/v0/status").json()["team"]["redis"] == "degraded",
                       timeout=10, what="the degraded state in /v0/status")  # fmt: skip
        status = engines[0].api("GET", "/v0/status").json()["team"]
        assert status["last_error"] and status["degraded_since"]
        sub.wait_for("stats", lambda e: (e.get("team") or {}).get("redis") == "degraded", timeout=10)
        wait_until(lambda: len(statuses) >= before + 20, what="requests served while Redis is down")
        stop.set()
        loader.join(60)
        assert set(statuses) == {200}, "a request failed while Redis was down"
        for eng in engines:  # every row in PostgreSQL (see DESIGN: a row still unwritten as Redis returns empty)
            eng.api("GET", "/v0/requests?limit=1")
        redis_server.start()  # empty: nothing was saved
        for eng in engines:
            wait_until(lambda e=eng: e.api("GET", "/v0/status").json()["team"]["redis"] == "ok",
                       timeout=15, what="the replica to see Redis back")  # fmt: skip
            assert eng.api("GET", "/v0/status").json()["team"]["reconciled_at"]
        sub.wait_for("stats", lambda e: (e.get("team") or {}).get("redis") == "ok", timeout=10)
        # The counter Redis lost is rebuilt from the ledger: exactly every request's cost, counted once.
        for eng in engines:
            eng.api("GET", "/v0/requests?limit=1")
        rows = asyncio.run(pg_fetch(postgres_url, "SELECT cost_usd FROM requests WHERE client = 'ann'"))
        assert len(rows) == len(statuses)
        month = _keys(redis_server.url, "pp:spend:client:ann:month:*")
        assert len(month) == 1
        assert int(_redis_hash(redis_server.url, month[0])[b"spent"]) == round(sum(r["cost_usd"] for r in rows) * 1e6)
        # Served again through Redis afterwards, and counted there.
        assert set(spread(engines, total=4, concurrency=2, key=ANN)) == {200}
        after = round((sum(r["cost_usd"] for r in rows) + 0.8) * 1e6)
        wait_until(lambda: int(_redis_hash(redis_server.url, month[0])[b"spent"]) == after, timeout=5,
                   what="the new spend in Redis")  # fmt: skip
    finally:
        stop.set()
        loader.join(60)
        sub.close()
        stop_all(engines)
        redis_server.ensure_running()


def test_a_quota_window_used_up_on_one_replica_rests_the_credential_on_the_others(fo, redis_url):
    engines = replicas(3, fo, redis_url)  # Redis only: each replica keeps quota readings in its own file
    try:
        fo.queue(key=KEYS["K1"], headers=qh.openai_api((100, 0), (100000, 90000), "6m0s", "1s"))
        assert httpx.post(engines[0].url + "/v1/chat/completions", json=_CHAT).status_code == 200
        assert fo.requests[0].headers["authorization"] == f"Bearer {KEYS['K1']}"  # its reply: no requests left
        for eng in engines[1:]:
            wait_until(lambda e=eng: _exhausted(e, "env:K1"), timeout=1.0, what="the used-up window on another replica")
        fo.requests.clear()
        for eng in engines[1:]:
            for _ in range(4):
                assert httpx.post(eng.url + "/v1/chat/completions", json=_CHAT).status_code == 200
        assert {r.headers["authorization"][7:] for r in fo.requests} == {KEYS["K2"]}, "K1 was used while resting"
        # A replica that starts later reads the team's readings from Redis.
        late = replicas(1, fo, redis_url)[0]
        engines.append(late)
        assert _exhausted(late, "env:K1")
    finally:
        stop_all(engines)


def _exhausted(eng, cred: str) -> bool:
    answer = eng.api("GET", "/v0/quota").json()
    c = next((c for c in answer["credentials"] if (c["provider"], c["credential"]) == ("openai", cred)), None)
    return c is not None and any(w["exhausted"] for w in c["windows"])
