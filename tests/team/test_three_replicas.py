"""Three replicas, one PostgreSQL, one Redis, one load: 600 calls from 30 clients spread round robin.

The ledger holds exactly one row per call, each member's spend is the sum of its rows, and no member
spends past its budget by more than its own calls in flight. Figures are printed for the closing note
(`pytest -s`)."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.fakes import FakeOpenAI, FakeServerThread
from tests.team.engines import wait_until
from tests.team.replicas import COST_PER_REQUEST, MODEL, UPSTREAM_KEYS, Load, Member, Outcome, ReplicaSet, members
from tests.team.shared_state import needs_member_keys, needs_shared_state

REQUESTS = 600
CLIENTS = 30
BUDGETS = {"ana": 0.2, "ben": 0.5, "cho": 1.0, "dev": None, "eli": None}


@pytest.fixture(scope="module")
def upstream():
    with FakeServerThread(FakeOpenAI(api_keys=UPSTREAM_KEYS)) as fake:
        yield fake


@pytest.fixture(scope="module")
def loaded(upstream, postgres_server, redis_server):
    """One run of the whole load, shared by the assertions below."""
    postgres_server.ensure_running()
    redis_server.ensure_running()
    redis_server.flush_all()
    with ReplicaSet(upstream.base_url, postgres_server.create_database(), redis_server.url, members(BUDGETS)) as team:
        started = time.monotonic()
        outcomes = Load(team, CLIENTS, REQUESTS).join()
        elapsed = time.monotonic() - started
        ids = {o.request_id for o in outcomes if o.request_id}
        rows = team.wait_rows(ids)
        yield team, outcomes, rows, elapsed


def test_every_call_has_exactly_one_ledger_row(loaded):
    _, outcomes, rows, elapsed = loaded
    assert len(outcomes) == REQUESTS
    assert [o for o in outcomes if o.status not in (200, 429)] == []
    assert {o.replica for o in outcomes} == {0, 1, 2}
    answered = [o.request_id for o in outcomes]
    assert None not in answered and len(set(answered)) == REQUESTS
    ids = Counter(r["id"] for r in rows)
    assert [i for i, n in ids.items() if n > 1] == []  # no duplicates
    assert set(ids) == set(answered)  # none lost, none invented
    statuses = {r["id"]: r["status"] for r in rows}
    assert all(statuses[o.request_id] == o.status for o in outcomes)
    _report(outcomes, rows, elapsed)


def test_each_members_spend_is_the_sum_of_its_rows(loaded):
    team, outcomes, rows, _ = loaded
    by_rows: dict[str, float] = {}
    for r in rows:
        by_rows[r["client"]] = by_rows.get(r["client"], 0.0) + (r["cost_usd"] or 0.0)
    served = Counter(o.member for o in outcomes if o.status == 200)
    for name in BUDGETS:
        assert by_rows[name] == pytest.approx(served[name] * COST_PER_REQUEST, abs=1e-9), name
    # Every replica answers the same totals: /v0/usage reads the one PostgreSQL.
    for replica in team.replicas:
        hist = replica.api("GET", "/v0/history", params={"by": "day", "group": "client"}).json()["rows"]
        assert {h["client"]: h["cost_usd"] for h in hist} == pytest.approx(by_rows), replica.url
        assert {h["client"]: h["requests"] for h in hist} == Counter(r["client"] for r in rows)


def test_unlimited_members_are_never_refused(loaded):
    _, outcomes, _, _ = loaded
    assert [o for o in outcomes if BUDGETS[o.member] is None and o.status != 200] == []


def test_no_member_overspends_beyond_its_calls_in_flight(loaded):
    team, outcomes, rows, _ = loaded
    needs_shared_state(team.replicas[0])
    spend: dict[str, float] = {}
    for r in rows:
        spend[r["client"]] = spend.get(r["client"], 0.0) + (r["cost_usd"] or 0.0)
    max_in_flight = CLIENTS // len(BUDGETS)  # each member is this many of the clients
    for name, budget in BUDGETS.items():
        if budget is None:
            continue
        assert spend[name] <= budget + max_in_flight * COST_PER_REQUEST + 1e-9, (name, spend[name], budget)
        assert any(o.member == name and o.status == 429 for o in outcomes), f"{name} was never refused"


def _report(outcomes: list[Outcome], rows: list[dict[str, object]], elapsed: float) -> None:
    statuses = Counter(o.status for o in outcomes)
    spend = Counter()
    for r in rows:
        spend[r["client"]] += r["cost_usd"] or 0.0
    served = Counter(o.member for o in outcomes if o.status == 200)
    print(f"\nthree replicas: {len(outcomes)} calls in {elapsed:.1f}s, statuses {dict(statuses)}, {len(rows)} rows")
    for name, budget in BUDGETS.items():
        print(f"  {name}: budget {budget}, served {served[name]}, spend {spend[name]:.2f} USD, "
              f"expected {served[name] * COST_PER_REQUEST:.2f}")  # fmt: skip


def _call(replica, member) -> None:
    r = httpx.post(replica.url + "/v1/chat/completions", headers={"Authorization": "Bearer " + member.key},
                   json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}, timeout=20)  # fmt: skip
    assert r.status_code == 200, r.text


def _keys_used(upstream) -> list[str]:
    return [r.headers["authorization"].removeprefix("Bearer ") for r in upstream.requests]


def test_a_cooldown_set_through_one_replica_is_honoured_by_the_others_within_a_second(loaded, upstream):
    team = loaded[0]
    first, *others = team.replicas
    dev = team.members["dev"]
    upstream.reset()
    upstream.queue(key=UPSTREAM_KEYS[0], status=429, retry_after=600)
    for _ in range(3):  # the first replica's round robin reaches key 1 within two calls; its 429 cools it
        _call(first, dev)
        if UPSTREAM_KEYS[0] in _keys_used(upstream):
            break
    assert UPSTREAM_KEYS[0] in _keys_used(upstream)
    time.sleep(1.0)  # the contract: the others skip it within a second
    upstream.requests.clear()
    for replica in others * 3:
        _call(replica, dev)
    assert _keys_used(upstream) == [UPSTREAM_KEYS[1]] * 6, "another replica still sends to the cooled key"

    assert first.api("POST", "/v0/auth/cooldowns/clear", json={"provider": "openai"}).json() == {"cleared": 1}
    time.sleep(1.0)
    upstream.requests.clear()
    for replica in others * 2:
        _call(replica, dev)
    assert UPSTREAM_KEYS[0] in _keys_used(upstream), "a cleared cooldown still holds on another replica"


RPM = 10


def test_the_rpm_limit_holds_across_replicas(loaded):
    team = loaded[0]
    needs_member_keys()
    needs_shared_state(team.replicas[0])
    key = str(team.keys("create", "rpm-probe", "--rpm", str(RPM))["key"])
    for replica in team.replicas:  # every replica knows the key (its own usage costs no request)
        wait_until(lambda r=replica: _get(r, key, "/v0/usage?key=me") == 200, what=f"the key on {replica.url}")
    left = 60 - time.time() % 60  # the limit is a fixed one-minute window: start well inside one
    if left < 20:
        time.sleep(left + 0.5)
    with ThreadPoolExecutor(RPM) as pool:
        statuses = Counter(pool.map(lambda _: _post(team.replicas[team.next()], key), range(3 * RPM)))
    assert statuses == {200: RPM, 429: 2 * RPM}


def _get(replica, key: str, path: str) -> int:
    return httpx.get(replica.url + path, headers={"Authorization": "Bearer " + key}, timeout=10).status_code


def _post(replica, key: str) -> int:
    r = httpx.post(replica.url + "/v1/chat/completions", headers={"Authorization": "Bearer " + key},
                   json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}, timeout=20)  # fmt: skip
    return r.status_code


def test_member_key_budgets_hold_across_replicas(loaded):
    """The same load with member keys (`keys create --budget-monthly-usd`) instead of `clients:` entries."""
    team = loaded[0]
    needs_member_keys()
    needs_shared_state(team.replicas[0])
    budgets = {"mia": 0.1, "noa": 0.3}
    keyed = [
        Member(n, b, str(team.keys("create", n, "--budget-monthly-usd", str(b))["key"])) for n, b in budgets.items()
    ]
    for replica in team.replicas:
        for m in keyed:
            wait_until(lambda r=replica, k=m.key: _get(r, k, "/v0/usage?key=me") == 200, what=f"keys on {replica.url}")
    clients = 12
    outcomes = Load(team, clients, 200, cycle=keyed).join()
    assert [o for o in outcomes if o.status not in (200, 429)] == []
    team.wait_rows({o.request_id for o in outcomes if o.request_id})
    for m in keyed:
        spent = sum(1 for o in outcomes if o.member == m.name and o.status == 200) * COST_PER_REQUEST
        in_flight = clients // len(keyed)
        assert spent <= m.budget_usd + in_flight * COST_PER_REQUEST + 1e-9, (m.name, spent, m.budget_usd)
