"""Credential pools: rotation, cooldowns per (credential, model), persistence, the all-cooling case."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from proxy_engine.credentials.cooldowns import Cooldown, CooldownStore
from proxy_engine.credentials.pool import CooldownPolicy, Credential, CredentialPool, parse_retry_after

A, B, C = Credential("a", priority=1), Credential("b", priority=1), Credential("c", priority=0)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "usage.db"


async def _pool(db: Path, creds=(A, B, C), **kw) -> CredentialPool:  # type: ignore[no-untyped-def]
    return CredentialPool("openai", list(creds), await CooldownStore.open(db), **kw)


async def test_round_robin_among_the_highest_priority(db: Path) -> None:
    pool = await _pool(db)
    assert [pool.pick("gpt-5").id for _ in range(4)] == ["a", "b", "a", "b"]


async def test_fill_first_sticks_to_the_first_available(db: Path) -> None:
    pool = await _pool(db, strategy="fill-first")
    assert {pool.pick("gpt-5").id for _ in range(3)} == {"a"}
    await pool.report(A, "gpt-5", 500)
    assert pool.pick("gpt-5").id == "b"


async def test_lower_priority_only_when_the_top_ones_cool(db: Path) -> None:
    pool = await _pool(db)
    await pool.report(A, "gpt-5", 429, retry_after=60)
    assert [pool.pick("gpt-5").id for _ in range(2)] == ["b", "b"]
    await pool.report("b", "gpt-5", 401)
    assert pool.pick("gpt-5").id == "c"
    assert pool.pick("other-model").id in {"a", "b"}  # cooldowns are per model


async def test_cooldown_lengths_by_failure(db: Path) -> None:
    now = 1_000_000.0
    policy = CooldownPolicy(auth_seconds=1800, server_error_seconds=30, timeout_seconds=20, rate_limit_base=5)
    pool = await _pool(db, policy=policy, clock=lambda: now)
    cases = [
        (401, None, "auth", 1800),
        (403, None, "auth", 1800),
        (429, 7.0, "rate_limit", 7),
        (503, None, "server_error", 30),
        (None, None, "timeout", 20),
    ]
    for status, retry_after, reason, seconds in cases:
        cd = await pool.report(A, f"m-{status}", status, retry_after)
        assert cd is not None and (cd.reason, cd.until - now) == (reason, seconds), status
    assert await pool.report(A, "m", 404) is None  # the request's fault, not the credential's
    assert await pool.report(A, "m", 400) is None


async def test_429_without_retry_after_backs_off_exponentially_and_success_clears(db: Path) -> None:
    now = 5_000.0
    pool = await _pool(db, clock=lambda: now)
    lengths = [(await pool.report(A, "m", 429)).until - now for _ in range(4)]  # type: ignore[union-attr]
    assert lengths == [5, 10, 20, 40]
    assert await pool.report(A, "m", 200) is None
    assert pool.cooldowns() == []
    assert (await pool.report(A, "m", 429)).until - now == 5  # type: ignore[union-attr]


async def test_cooldowns_survive_a_restart_and_can_be_cleared(db: Path) -> None:
    pool = await _pool(db)
    await pool.report(A, "gpt-5", 401)
    await pool.report(B, "gpt-5", 429, retry_after=600)
    await pool.report(B, "gpt-4o", 500)

    reopened = await _pool(db)  # a new engine process
    assert reopened.pick("gpt-5").id == "c"
    assert {(c.credential, c.model, c.reason) for c in reopened.cooldowns()} == {
        ("a", "gpt-5", "auth"),
        ("b", "gpt-5", "rate_limit"),
        ("b", "gpt-4o", "server_error"),
    }
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert await reopened.clear(credential="b") == 2
    assert await (await _pool(db)).clear() == 1
    after = await _pool(db)
    assert after.cooldowns() == [] and after.pick("gpt-5").id in {"a", "b"}


async def test_all_cooling_gives_the_soonest_time(db: Path) -> None:
    now = 10_000.0
    pool = await _pool(db, clock=lambda: now)
    assert pool.soonest_available("m") is None
    await pool.report(A, "m", 429, retry_after=30)
    await pool.report(B, "m", 429, retry_after=12)
    assert pool.soonest_available("m") is None  # c is still free
    await pool.report(C, "m", 500)  # 30 s
    assert pool.pick("m") is None
    assert pool.soonest_available("m") == now + 12


async def test_cooling_ends_when_the_time_passes(db: Path) -> None:
    clock = [100.0]
    pool = await _pool(db, creds=(A,), clock=lambda: clock[0])
    await pool.report(A, "m", 429, retry_after=10)
    assert pool.pick("m") is None
    clock[0] += 10.5
    assert pool.pick("m") == A and pool.soonest_available("m") is None


async def test_cooldown_hook_gets_protocol_fields(db: Path) -> None:
    seen: list[Cooldown] = []
    pool = await _pool(db, on_cooldown=seen.append)
    await pool.report(A, "gpt-5", 429, retry_after=3)
    await pool.report(A, "gpt-5", 200)
    assert len(seen) == 1
    assert set(seen[0].to_protocol()) == {"provider", "credential", "model", "until", "reason", "status"}
    assert seen[0].to_protocol()["provider"] == "openai"


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)


async def test_pool_against_a_fake_upstream(db: Path) -> None:
    """Drive the pool with real HTTP answers: a 429 with Retry-After, a revoked key, a 500."""
    behaviour = {
        "key-a": (429, {"Retry-After": "120"}),
        "key-b": (401, {}),
        "key-c": (500, {}),
        "key-d": (200, {}),
    }
    calls: list[str] = []

    async def upstream(request: web.Request) -> web.Response:
        key = request.headers["Authorization"].removeprefix("Bearer ")
        calls.append(key)
        status, headers = behaviour[key]
        return web.json_response({"ok": status == 200}, status=status, headers=headers)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", upstream)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    creds = [Credential(x, priority=1, ref=f"keyring:key-{x}") for x in "abc"] + [Credential("d", priority=0)]
    pool = await _pool(db, creds=creds)
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(4):
                cred = pool.pick("gpt-5")
                assert cred is not None
                resp = await http.post(
                    f"{base}/v1/chat/completions", headers={"Authorization": f"Bearer key-{cred.id}"}, json={}
                )
                await pool.report(cred, "gpt-5", resp.status_code, parse_retry_after(resp.headers.get("Retry-After")))
                if resp.status_code == 200:
                    break
    finally:
        await runner.cleanup()
    assert calls == ["key-a", "key-b", "key-c", "key-d"]
    reasons = {c.credential: (c.reason, round(c.until - time.time())) for c in pool.cooldowns()}
    assert reasons["a"][0] == "rate_limit" and 118 <= reasons["a"][1] <= 120
    assert reasons["b"][0] == "auth" and reasons["c"][0] == "server_error" and "d" not in reasons
