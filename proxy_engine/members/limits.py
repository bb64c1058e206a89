"""What one member key may do: its models, its monthly budget, its requests and tokens per minute.

Counted in this process (the embedded SQLite mode, and team mode while Redis is not in use): the
month's spend per key is read from the ledger at start-up and grows as requests finish; RPM counts
requests admitted in the last 60 s, TPM the tokens of requests finished in the last 60 s. Each
window holds at most one entry per request of that minute, and is pruned as it is read.
"""

from __future__ import annotations

import fnmatch
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from proxy_engine.storage.member_keys import MemberKey
from proxy_engine.usage.budgets import period_end, period_start

WINDOW_S = 60.0


@dataclass(frozen=True)
class LimitHit:
    """A refusal: 403 (model not allowed) or 429 (with seconds until it may pass)."""

    status: int
    code: str
    message: str
    retry_after: int | None = None


def model_allowed(member: MemberKey, model: str) -> bool:
    """`models` names friendly names or `provider/model`, exactly or as a `*` pattern."""
    if member.models is None:
        return True
    return any(model == m or ("*" in m and fnmatch.fnmatchcase(model, m)) for m in member.models)


def model_refusal(member: MemberKey, model: str) -> LimitHit | None:
    """The 403 for a model outside the key's `models`, else None."""
    if model_allowed(member, model):
        return None
    allowed = ", ".join(member.models or ())
    return LimitHit(403, "model_not_allowed", f"this key may not use {model!r}; it may use: {allowed}")


class MemberLimits:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._month = 0.0
        self._spend: dict[str, float] = {}  # key id -> USD this month
        self._admitted: dict[str, deque[float]] = {}
        self._tokens: dict[str, deque[tuple[float, int]]] = {}

    def load_spend(self, month_start: float, spend: dict[str, float]) -> None:
        self._month = month_start
        self._spend = dict(spend)

    def spent(self, key_id: str) -> float:
        if period_start("month", self._clock()) != self._month:
            return 0.0
        return self._spend.get(key_id, 0.0)

    def admit(self, member: MemberKey, model: str) -> LimitHit | None:
        """Check every limit; when all pass, count the request in its minute."""
        if (hit := model_refusal(member, model)) is not None:
            return hit
        now = self._clock()
        budget = member.monthly_budget_usd
        if budget is not None and (spent := self.spent(member.id)) >= budget:
            wait = math.ceil(period_end("month", now) - now)
            return LimitHit(429, "budget_exceeded", f"this key's monthly budget is used up (${spent:.2f} of "
                            f"${budget:.2f}); it resets at the start of next month", max(1, wait))  # fmt: skip
        if member.rpm is not None:
            times = self._admitted.setdefault(member.id, deque())
            while times and times[0] <= now - WINDOW_S:
                times.popleft()
            if len(times) >= member.rpm:
                return LimitHit(429, "rate_limit_exceeded", f"this key's limit of {member.rpm} requests per minute "
                                "is reached", _wait(times[0], now))  # fmt: skip
        if member.tpm is not None:
            used = self._tokens_in_window(member.id, now)
            if used >= member.tpm:
                oldest = self._tokens[member.id][0][0]
                return LimitHit(429, "rate_limit_exceeded", f"this key's limit of {member.tpm} tokens per minute "
                                f"is reached ({used} used)", _wait(oldest, now))  # fmt: skip
        if member.rpm is not None:
            self._admitted[member.id].append(now)
        return None

    def _tokens_in_window(self, key_id: str, now: float) -> int:
        window = self._tokens.get(key_id)
        if not window:
            return 0
        while window and window[0][0] <= now - WINDOW_S:
            window.popleft()
        return sum(n for _, n in window)

    def finished(self, key_id: str, tokens: int, cost: float | None) -> None:
        now = self._clock()
        if cost:
            month = period_start("month", now)
            if month != self._month:
                self._month, self._spend = month, {}
            self._spend[key_id] = self._spend.get(key_id, 0.0) + cost
        if tokens > 0:
            self._tokens.setdefault(key_id, deque()).append((now, tokens))

    def forget(self, key_ids: set[str]) -> None:
        """Drop windows of keys no longer live (revoked or removed), so nothing grows without bound."""
        for table in (self._admitted, self._tokens):
            for gone in set(table) - key_ids:
                del table[gone]


def _wait(oldest: float, now: float) -> int:
    return max(1, math.ceil(oldest + WINDOW_S - now))
