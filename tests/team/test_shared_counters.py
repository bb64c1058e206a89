"""The shared counters against a real Redis: several links stand for several replicas.

Spend reserved and settled from three replicas at once stays exact and within the limit;
a request-per-minute limit holds across them; with Redis stopped each falls back to local
state, and what it spent meanwhile reaches Redis when it returns.
"""

from __future__ import annotations

import asyncio

import pytest

from proxy_engine.team_state.link import RedisLink
from proxy_engine.team_state.rate_limits import RateLimiter
from proxy_engine.team_state.spend import MICRO, Refusal, Reservation, SpendCounters
from proxy_engine.team_state.team_budgets import scope_counter


async def _links(url: str, n: int) -> list[RedisLink]:
    links = [RedisLink(url, f"replica-{i}") for i in range(n)]
    for link in links:
        await link.open()
        assert link.ok
    return links


async def _alive(counters: list[SpendCounters]) -> list[asyncio.Task]:
    """Each replica renews its mark, as `TeamHotState` does (holds count only for live replicas)."""
    tasks = [asyncio.create_task(c.keep_alive()) for c in counters]
    for c in counters:
        while not await c.link.client.exists(f"pp:alive:{c.link.replica_id}"):  # noqa: ASYNC110 - polling Redis, not an in-process flag
            await asyncio.sleep(0.01)
    return tasks


async def _end(tasks: list[asyncio.Task], links: list[RedisLink]) -> None:
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for link in links:
        await link.close()


async def test_spend_from_three_replicas_is_exact_and_never_passes_the_limit(redis_url):
    links = await _links(redis_url, 3)
    counters = [SpendCounters(link) for link in links]
    tasks = await _alive(counters)
    try:
        limit, cost = 1.0, 0.03  # 33 requests fit; 34 would pass the limit
        served: list[float] = []

        async def member(c: SpendCounters) -> None:
            for _ in range(30):
                counter = scope_counter("member:ann", "month", limit)
                got = await c.reserve([counter], estimate_usd=cost)
                if isinstance(got, Refusal):
                    assert got.spent_usd <= limit
                    continue
                await asyncio.sleep(0.001)  # in flight: the others reserve meanwhile
                await c.settle(got, cost)
                served.append(cost)

        await asyncio.gather(*(member(c) for c in counters for _ in range(4)))  # 12 concurrent callers, 360 tries
        assert len(served) == 33, "with exact estimates the counters admit exactly what the limit holds"
        spent, held = await counters[0].read(scope_counter("member:ann", "month", limit).key)
        assert (spent, held) == (33 * round(cost * MICRO), 0)
    finally:
        await _end(tasks, links)


async def test_an_estimate_below_the_cost_overspends_at_most_the_requests_in_flight(redis_url):
    links = await _links(redis_url, 3)
    counters = [SpendCounters(link) for link in links]
    tasks = await _alive(counters)
    try:
        limit, cost, in_flight = 0.5, 0.1, 6
        gate = asyncio.Event()
        results: list[Reservation | Refusal] = []

        async def one(c: SpendCounters) -> None:
            got = await c.reserve([scope_counter("team:red", "day", limit)], estimate_usd=0.0)  # nothing known yet
            results.append(got)
            if isinstance(got, Reservation):
                await gate.wait()
                await c.settle(got, cost)

        first = [asyncio.create_task(one(counters[i % 3])) for i in range(in_flight)]
        await asyncio.sleep(0.2)
        gate.set()
        await asyncio.gather(*first)
        assert all(isinstance(r, Reservation) for r in results), "unknown cost: every one in flight was admitted"
        spent, _ = await counters[0].read(scope_counter("team:red", "day", limit).key)
        assert spent / MICRO == pytest.approx(in_flight * cost)  # over by the in-flight requests, no more
        later = await counters[1].reserve([scope_counter("team:red", "day", limit)], estimate_usd=0.0)
        assert isinstance(later, Refusal) and later.spent_usd == pytest.approx(0.6)
    finally:
        await _end(tasks, links)


async def test_requests_per_minute_hold_exactly_across_replicas(redis_url):
    links = await _links(redis_url, 3)
    try:
        limiters = [RateLimiter(link) for link in links]
        decisions = await asyncio.gather(*(limiters[i % 3].acquire("member:bo", rpm=25) for i in range(90)))
        allowed = [d for d in decisions if d.allowed]
        assert len(allowed) == 25 and len({d.window for d in allowed}) <= 2
        refused = [d for d in decisions if not d.allowed]
        assert {d.limit for d in refused} == {"rpm"} and all(0 < d.retry_after_s <= 60 for d in refused)
        # Another scope has its own window; tokens per minute count the estimate, then the real tokens.
        first = await limiters[0].acquire("member:cy", tpm=1000, tokens=600)
        assert first.allowed
        await limiters[1].add_tokens("member:cy", first, 300)  # it used 900 in the end
        over = await limiters[2].acquire("member:cy", tpm=1000, tokens=200)
        assert not over.allowed and over.limit == "tpm"
    finally:
        for link in links:
            await link.close()


async def test_redis_stopped_then_back_local_spend_is_pushed(redis_server):
    redis_server.ensure_running()
    redis_server.flush_all()
    links = await _links(redis_server.url, 2)
    try:
        a, b = SpendCounters(links[0]), SpendCounters(links[1])
        counter = scope_counter("client:ann", "month", 10.0)
        got = await a.reserve([counter], 0.5)
        await a.settle(got, 0.5)
        redis_server.stop()
        got = await a.reserve([counter], 0.5)  # Redis gone: decided on local state
        assert isinstance(got, Reservation) and not got.in_redis
        assert links[0].health()["redis"] == "degraded"
        await a.settle(got, 0.75)
        assert a.pending == {counter.key: 750_000}
        redis_server.start()  # empty: Redis lost the counter
        links[0].on_recover(lambda: a.reconcile(lambda key: _seed(1.25)))
        for _ in range(100):
            if links[0].ok and links[0].degraded_since is None:
                break
            await asyncio.sleep(0.1)
        assert links[0].health()["redis"] == "ok" and links[0].reconciled_at is not None
        # A counter Redis lost is seeded from the ledger (which holds both requests), never counted twice.
        assert await b.read(counter.key) == (1_250_000, 0)
        assert a.pending == {}
    finally:
        for link in links:
            await link.close()


async def _seed(usd: float) -> int:
    return round(usd * MICRO)


_REPLICA = """
import asyncio, json, sys
from proxy_engine.team_state.link import RedisLink
from proxy_engine.team_state.rate_limits import RateLimiter

async def main():
    link = RedisLink(sys.argv[1], sys.argv[2])
    await link.open()
    limiter = RateLimiter(link)
    got = await asyncio.gather(*(limiter.acquire("client:ann", rpm=40) for _ in range(30)))
    print(json.dumps([[d.allowed, d.window, d.shared] for d in got]))
    await link.close()

asyncio.run(main())
"""


def test_requests_per_minute_hold_across_replica_processes(redis_url):
    """Three processes, 90 requests at once against 40 a minute: 40 pass, whichever process asks."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    procs = [subprocess.Popen([sys.executable, "-c", _REPLICA, redis_url, f"replica-{i}"], stdout=subprocess.PIPE,
                              env=env) for i in range(3)]  # fmt: skip
    decisions = [d for p in procs for d in json.loads(p.communicate(timeout=60)[0])]
    assert all(shared for _, _, shared in decisions), "every decision was Redis's"
    per_window: dict[int, int] = {}
    for allowed, window, _ in decisions:
        per_window[window] = per_window.get(window, 0) + allowed
    assert all(n <= 40 for n in per_window.values()), per_window
    if len(per_window) == 1:  # the minute did not turn during the run
        assert sum(per_window.values()) == 40


async def test_the_holds_of_a_replica_that_died_stop_counting(redis_url):
    links = await _links(redis_url, 2)
    counters = [SpendCounters(link) for link in links]
    tasks = await _alive(counters)
    try:
        counter = scope_counter("client:ann", "day", 1.0)
        held = await counters[0].reserve([counter], 0.6)  # in flight on replica-0
        assert isinstance(held, Reservation)
        assert isinstance(await counters[1].reserve([counter], 0.6), Refusal), "0.6 held + 0.6 > 1.0"
        tasks[0].cancel()  # replica-0 dies: its mark is no longer renewed and expires
        await asyncio.gather(tasks[0], return_exceptions=True)
        await links[1].client.delete("pp:alive:replica-0")  # what its expiry (10 s) does
        assert isinstance(await counters[1].reserve([counter], 0.6), Reservation)
    finally:
        await _end(tasks, links)
