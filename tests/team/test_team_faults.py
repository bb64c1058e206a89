"""Faults under load on three replicas: a replica killed with SIGKILL, PostgreSQL stopped, Redis stopped.

A completed call is one whose client got the whole answer; every completed call must end with exactly one
ledger row, whatever went away in between."""

from __future__ import annotations

import signal
from collections import Counter
from typing import Any

import pytest

from tests.fakes import FakeOpenAI, FakeServerThread
from tests.team.engines import wait_until
from tests.team.replicas import UPSTREAM_KEYS, Load, Outcome, ReplicaSet, members
from tests.team.shared_state import needs_shared_state, redis_state

CLIENTS = 30
UNLIMITED = {"fay": None, "gus": None, "hal": None}


@pytest.fixture(scope="module")
def upstream():
    with FakeServerThread(FakeOpenAI(api_keys=UPSTREAM_KEYS)) as fake:
        yield fake


def _more(load: Load, n: int, what: str) -> None:
    mark = load.count
    wait_until(lambda: load.count >= mark + n, timeout=60, what=f"{n} more calls {what}")


def _one_row_per_call(team: ReplicaSet, ids: set[str]) -> list[dict[str, Any]]:
    rows = team.wait_rows(ids, timeout=60)
    counts = Counter(r["id"] for r in rows)
    assert [i for i, n in counts.items() if n > 1] == [], "a call has two rows"
    return rows


def _ledger_ok(replica: Any) -> bool:
    return replica.api("GET", "/v0/status").json()["ledger"]["ok"]


def test_a_replica_killed_mid_load_loses_no_completed_calls_row(upstream, postgres_url, redis_url):
    with ReplicaSet(upstream.base_url, postgres_url, redis_url, members(UNLIMITED)) as team:
        load = Load(team, CLIENTS, None)
        try:
            _more(load, 150, "before the kill")
            victim = team.replicas[1]
            victim.proc.send_signal(signal.SIGKILL)
            victim.proc.wait(10)
            _more(load, 150, "after the kill")
            # Its service manager starts it again on the same state dir (docs/proxypal-engine@.service); the
            # rows it had journaled but not yet written go to PostgreSQL then.
            victim.start()
            _more(load, 60, "after the restart")
        finally:
            load.stop()
        outcomes = load.join()
        completed = {o.request_id for o in load.completed()}
        cut = [o for o in outcomes if not o.complete]
        # The balancer skips the dead replica, so calls go on; only calls in flight on it may be cut.
        assert len(cut) <= CLIENTS, cut[:3]
        assert all(o.replica == 1 for o in cut), cut[:3]
        rows = _one_row_per_call(team, completed)
        replayed = [line for line in victim.stderr_lines if "replayed" in line]
        print(f"\nkill -9: {len(outcomes)} calls, {len(completed)} completed, {len(cut)} cut on the killed replica, "
              f"{len(rows)} rows, every completed call has its row; {replayed}")  # fmt: skip


def test_postgres_stopped_mid_load_rows_queue_and_flush_once(upstream, postgres_factory, redis_url):
    server = postgres_factory()
    url = server.create_database("team")
    with ReplicaSet(upstream.base_url, url, redis_url, members(UNLIMITED)) as team:
        load = Load(team, CLIENTS, None)
        try:
            _more(load, 100, "before the outage")
            server.stop()
            wait_until(lambda: not any(_ledger_ok(r) for r in team.replicas), what="every replica to see it gone")
            during = load.count
            _more(load, 150, "while PostgreSQL is down")
            backlog = sum(r.api("GET", "/v0/status").json()["ledger"]["backlog"] for r in team.replicas)
            server.start()
            wait_until(lambda: all(_ledger_ok(r) for r in team.replicas), timeout=60, what="the ledgers to recover")
        finally:
            load.stop()
        outcomes = load.join()
        assert [o for o in outcomes if not o.complete] == []  # served all along
        ids = {o.request_id for o in outcomes}
        rows = _one_row_per_call(team, ids)
        assert {r["id"] for r in rows} == ids
        print(f"\nPostgreSQL stopped: {len(outcomes)} calls ({len(outcomes) - during} during the outage), "
              f"{backlog} rows queued at the peak check, {len(rows)} rows after the flush, no duplicates")  # fmt: skip


def test_redis_stopped_mid_load_keeps_calls_flowing_and_reconciles(upstream, postgres_url, redis_factory):
    needs_shared_state()
    redis = redis_factory()
    with ReplicaSet(upstream.base_url, postgres_url, redis.url, members(UNLIMITED)) as team:
        needs_shared_state(team.replicas[0])
        load = Load(team, CLIENTS, None)
        try:
            _more(load, 100, "before the outage")
            redis.stop()
            wait_until(lambda: not any(_redis_ok(r) for r in team.replicas), what="every replica to report degraded")
            _more(load, 150, "while Redis is down")
            redis.start()
            wait_until(lambda: all(_redis_ok(r) for r in team.replicas), timeout=60, what="Redis to be back in use")
            wait_until(lambda: all(_team_health(r).get("reconciled_at") for r in team.replicas), timeout=60,
                       what="every replica to reconcile its local counts with Redis")  # fmt: skip
            _more(load, 50, "after Redis returned")
        finally:
            load.stop()
        outcomes: list[Outcome] = load.join()
        assert [o for o in outcomes if not o.complete] == []
        ids = {o.request_id for o in outcomes}
        assert {r["id"] for r in _one_row_per_call(team, ids)} == ids


def _team_health(replica: Any) -> dict[str, Any]:
    """`/v0/status` `team`: {redis: ok|degraded, replica, last_error, degraded_since, reconciled_at}."""
    return replica.api("GET", "/v0/status").json().get("team") or {}


def _redis_ok(replica: Any) -> bool:
    return redis_state(replica.api("GET", "/v0/status").json()) == "ok"
