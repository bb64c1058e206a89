"""Credential choice with quota: the headroom strategy, the max_used_percent ceiling, and exhausted
windows resting the credential until their reset (real CooldownStore and QuotaLedger on SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from proxy_engine.credentials import CooldownStore, Credential, CredentialPool
from proxy_engine.quota.ledger import QuotaLedger
from tests.fakes import quota_headers as qh

NOW = 1_790_000_000.0
CREDS = [Credential("ann"), Credential("bob"), Credential("cat")]


class Clock:
    now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def parts(tmp_path: Path):
    clock = Clock()
    cooldowns = await CooldownStore.open(tmp_path / "usage.db")
    quota = QuotaLedger(lambda e: None, clock)
    await quota.open(tmp_path / "usage.db")
    yield clock, cooldowns, quota
    await quota.close()


def seen(quota: QuotaLedger, cred: str, five: float, seven: float, five_reset: float = NOW + 3600) -> None:
    quota.observe("claude", cred, CIMultiDictProxy(CIMultiDict(qh.anthropic_unified(five, seven, five_reset,
                                                                                     NOW + 3 * 86400))))  # fmt: skip


async def test_headroom_prefers_the_credential_with_most_quota_for_its_time_left(parts) -> None:
    clock, cooldowns, quota = parts
    pool = CredentialPool("claude", CREDS, cooldowns, strategy="headroom", quota=quota, clock=clock)
    seen(quota, "ann", 0.70, 0.30)  # 30 % left, 1 h of 5 h to go: 1.5x pace
    seen(quota, "bob", 0.20, 0.90)  # the weekly window binds: 10 % left for 3 of 7 days
    seen(quota, "cat", 0.10, 0.10, five_reset=NOW + 4.5 * 3600)  # 90 % left for 90 % of the window: on pace
    assert [pool.pick("m").id for _ in range(3)] == ["ann", "ann", "ann"]
    seen(quota, "ann", 0.95, 0.30)  # ann is nearly out: cat has more room now
    assert pool.pick("m").id == "cat"


async def test_headroom_rotates_between_equals(parts) -> None:
    clock, cooldowns, quota = parts
    pool = CredentialPool("claude", CREDS[:2], cooldowns, strategy="headroom", quota=quota, clock=clock)
    assert [pool.pick("m").id for _ in range(4)] == ["ann", "bob", "ann", "bob"]  # no readings: on pace, alike


async def test_ceiling_skips_a_credential_above_it_while_another_is_usable(parts) -> None:
    clock, cooldowns, quota = parts
    pool = CredentialPool("claude", CREDS[:2], cooldowns, strategy="fill-first", quota=quota, clock=clock,
                          max_used_percent=90)  # fmt: skip
    seen(quota, "ann", 0.92, 0.10)
    seen(quota, "bob", 0.50, 0.10)
    assert pool.pick("m").id == "bob"
    seen(quota, "bob", 0.93, 0.10)  # both above: better one over the ceiling than none
    assert pool.pick("m").id == "ann"


async def test_an_exhausted_window_rests_the_credential_until_its_reset(parts) -> None:
    clock, cooldowns, quota = parts
    pool = CredentialPool("claude", CREDS[:2], cooldowns, quota=quota, clock=clock)
    seen(quota, "ann", 1.0, 0.5, five_reset=NOW + 600)
    assert {pool.pick("m").id for _ in range(4)} == {"bob"}  # never ann: it would only answer 429
    seen(quota, "bob", 1.0, 0.5, five_reset=NOW + 300)
    assert pool.pick("m") is None and pool.out_of_quota()
    assert pool.soonest_available("m") == NOW + 300  # the earliest reset
    clock.now = NOW + 301
    assert pool.pick("m").id == "bob" and not pool.out_of_quota()
