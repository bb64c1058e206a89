"""`MemberLimits` on a clock the test moves: the minute windows slide, a month's spend resets with the
month, and a revoked key's windows are dropped (so nothing grows without bound)."""

from __future__ import annotations

import datetime as dt

from proxy_engine.members.limits import MemberLimits, model_allowed
from proxy_engine.storage.member_keys import MemberKey

START = dt.datetime(2026, 3, 31, 23, 59, 0).timestamp()  # local time: the month ends in a minute


def key(**limits: object) -> MemberKey:
    base = {"id": "mk_1", "name": "ann", "team": None, "key_hash": "h", "key_prefix": "ppk_abcd", "role": "member",
            "monthly_budget_usd": None, "models": None, "rpm": None, "tpm": None, "expires_at": None,
            "created_at": 0.0, "revoked_at": None}  # fmt: skip
    return MemberKey(**{**base, **limits})  # type: ignore[arg-type]


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_rpm_window_slides_with_time():
    clock = Clock(START - 3600)
    limits, k = MemberLimits(clock), key(rpm=2)
    assert limits.admit(k, "m") is None
    clock.t += 30
    assert limits.admit(k, "m") is None
    hit = limits.admit(k, "m")
    assert hit is not None and hit.status == 429 and hit.retry_after == 30  # the first request leaves in 30 s
    clock.t += 30  # the first one is now 60 s old
    assert limits.admit(k, "m") is None
    assert limits.admit(k, "m") is not None


def test_tpm_counts_finished_tokens_for_a_minute():
    clock = Clock(START - 3600)
    limits, k = MemberLimits(clock), key(tpm=1000)
    limits.finished("mk_1", 600, None)
    assert limits.admit(k, "m") is None
    limits.finished("mk_1", 600, None)
    hit = limits.admit(k, "m")
    assert hit is not None and "1200 used" in hit.message
    clock.t += 61
    assert limits.admit(k, "m") is None


def test_spend_resets_when_the_month_turns():
    clock = Clock(START)
    limits, k = MemberLimits(clock), key(monthly_budget_usd=1.0)
    limits.load_spend(START - 86400 * 30, {})  # an older month's start: nothing counts for this one
    limits.finished("mk_1", 10, 1.5)
    hit = limits.admit(k, "m")
    assert hit is not None and hit.code == "budget_exceeded" and 0 < hit.retry_after <= 60
    clock.t += 120  # April
    assert limits.spent("mk_1") == 0.0 and limits.admit(k, "m") is None


def test_models_and_forgetting():
    k = key(models=("Smart", "claude-*"))
    assert model_allowed(k, "Smart") and model_allowed(k, "claude-opus-4-5") and not model_allowed(k, "smart")
    limits = MemberLimits(Clock(START - 3600))
    assert limits.admit(key(rpm=5), "m") is None
    limits.forget(set())
    assert limits._admitted == {}
