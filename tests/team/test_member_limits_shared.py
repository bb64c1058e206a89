"""Member-key limits across replicas sharing Redis (real engine processes, PostgreSQL, Redis, fake upstream).

A member's TPM is counted in one window for the whole team, so alternating replicas does not
multiply it; with Redis unreachable each replica still holds a member's RPM on its own count; a budget counter
Redis lost is rebuilt from the ledger, not from one replica's count.
(RPM and monthly budgets under the three-replica load: `test_three_replicas.py`.)
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.engine_harness import free_port
from tests.fakes import FakeOpenAI, FakeServerThread
from tests.fakes.script import Usage
from tests.team.engines import KEYS, wait_until
from tests.team.members import api_create, as_member, chat
from tests.team.redis_engines import PRICES, replicas, stop_all
from tests.team.stores import pg_fetch


@pytest.fixture(scope="module")
def fo():
    with FakeServerThread(FakeOpenAI(api_keys=[KEYS["K1"], KEYS["K2"]])) as fake:
        yield fake


def _inside_one_minute() -> None:
    """The limits use fixed one-minute windows: start well inside one."""
    left = 60 - time.time() % 60
    if left < 20:
        time.sleep(left + 0.5)


def _known_everywhere(engines, key: str) -> None:
    for eng in engines:
        wait_until(lambda e=eng: as_member(e, key, "GET", "/v0/usage?key=me").status_code == 200,
                   what=f"the key on {eng.url}")  # fmt: skip


def test_a_members_tpm_is_one_window_for_all_replicas(fo, redis_url, postgres_url):
    fo.reset()
    fo.script(usage=Usage(input_tokens=100, output_tokens=100))  # 200 tokens a call
    engines = replicas(2, fo, redis_url, postgres_url)
    try:
        key = api_create(engines[0], name="tia", tpm=500)["key"]
        _known_everywhere(engines, key)
        _inside_one_minute()
        answers = []
        for i in range(6):  # alternating: each replica alone would see 600 tokens only after its 4th call
            answers.append(chat(engines[i % 2], key))
            if answers[-1].status_code == 200:  # the tokens are added as the call ends, off its path
                time.sleep(0.2)
        assert [a.status_code for a in answers] == [200, 200, 200, 429, 429, 429]
        refused = answers[3]
        assert refused.json()["error"]["code"] == "rate_limit_exceeded"
        assert "500 tokens per minute" in refused.json()["error"]["message"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
    finally:
        stop_all(engines)


def test_with_redis_unreachable_each_replica_holds_a_members_rpm_itself(fo, postgres_url):
    fo.reset()
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    engines = replicas(1, fo, nowhere, postgres_url)
    try:
        eng = engines[0]
        assert eng.api("GET", "/v0/status").json()["team"]["redis"] == "degraded"
        key = api_create(eng, name="uma", rpm=2)["key"]
        _known_everywhere(engines, key)
        _inside_one_minute()
        statuses = [chat(eng, key).status_code for _ in range(4)]
        assert statuses == [200, 200, 429, 429]
    finally:
        stop_all(engines)


def test_a_members_budget_counter_redis_lost_is_rebuilt_from_the_ledger(fo, redis_server, postgres_url):
    redis_server.ensure_running()
    redis_server.flush_all()
    fo.reset()
    fo.script(usage=Usage(input_tokens=100, output_tokens=100))  # $0.20 a call at these prices
    engines = replicas(2, fo, redis_server.url, postgres_url, PRICES)
    try:
        key = api_create(engines[0], name="vic", monthly_budget_usd=1.0)["key"]
        _known_everywhere(engines, key)
        assert [chat(engines[i % 2], key).status_code for i in range(4)] == [200] * 4  # $0.80, two per replica
        rows = "SELECT id FROM requests WHERE client = 'vic'"
        wait_until(lambda: len(asyncio.run(pg_fetch(postgres_url, rows))) == 4, what="the four rows in PostgreSQL")
        redis_server.stop()
        redis_server.start()  # empty: nothing was saved
        for eng in engines:
            wait_until(lambda e=eng: e.api("GET", "/v0/status").json()["team"]["redis"] == "ok",
                       timeout=15, what="the replica to see Redis back")  # fmt: skip
        # Each replica alone counted $0.40; the team spent $0.80, so one more call fits and then none.
        statuses = [chat(engines[i % 2], key).status_code for i in range(4)]
        assert statuses == [200, 429, 429, 429]
    finally:
        stop_all(engines)
