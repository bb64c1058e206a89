"""Member-key limits held across replicas: RPM/TPM in the team's rate limiter, budgets in its spend counters.

Team mode with Redis only (`MemberAccess.shared`). Admission reserves the member's recent average
cost in `member:<id>`'s monthly counter and counts the request in `member:<id>`'s minute window,
both concurrently (one Redis round trip of latency); the end of the request settles the real cost
and adds its real tokens, off the request path. So a member's RPM holds exactly across replicas,
and a budget is passed by no more than what its requests in flight cost beyond their estimates.
While Redis is down the team state counts per replica (the last team spend seen plus this
replica's since), as the embedded limits do; the local `MemberLimits` keeps counting throughout
and seeds a counter Redis does not have. Teams carry no limits of their own, so no `team:` scope.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass

from proxy_engine.members.limits import LimitHit, MemberLimits, model_refusal
from proxy_engine.storage.member_keys import MemberKey
from proxy_engine.team_state.rate_limits import RateDecision, RateLimiter
from proxy_engine.team_state.spend import Refusal, Reservation, SpendCounters
from proxy_engine.team_state.team_budgets import scope_counter
from proxy_engine.usage.budgets import period_end

log = logging.getLogger("proxy_engine.members")

_SMOOTHING = 0.3  # weight of the newest cost in a member's estimate


@dataclass
class _Admitted:
    scope: str
    rate: RateDecision | None
    reservation: Reservation | None


class SharedMemberLimits:
    def __init__(self, rates: RateLimiter, spend: SpendCounters, local: MemberLimits) -> None:
        self.rates = rates
        self.spend = spend
        self.local = local
        self._admitted: dict[str, _Admitted] = {}  # request id -> what it holds
        self._estimate: dict[str, float] = {}  # key id -> recent average cost (USD)
        self._tasks: set[asyncio.Task[None]] = set()

    async def admit(self, request_id: str, member: MemberKey, model: str) -> LimitHit | None:
        """Check the model, then reserve the budget and count the request in one concurrent round trip."""
        if (hit := model_refusal(member, model)) is not None:
            return hit
        budget = member.monthly_budget_usd
        limited = member.rpm is not None or member.tpm is not None
        if budget is None and not limited:
            return None  # nothing to count: no round trip
        scope = f"member:{member.id}"
        counter = None
        if budget is not None:
            counter = scope_counter(scope, "month", budget, self.local.spent(member.id))
        reserve = self.spend.reserve([counter], self._estimate.get(member.id, 0.0)) if counter else _nothing()
        acquire = self.rates.acquire(scope, member.rpm or 0, member.tpm or 0) if limited else _nothing()
        got_spend, got_rate = await asyncio.gather(reserve, acquire)
        rate = got_rate if isinstance(got_rate, RateDecision) else None
        if isinstance(got_spend, Refusal):
            if rate is not None and rate.allowed:
                self._spawn(self.rates.release(scope, rate))
            now = time.time()
            wait = max(1, math.ceil(period_end("month", now) - now))
            return LimitHit(429, "budget_exceeded", f"this key's monthly budget is used up (${got_spend.spent_usd:.2f} "
                            f"of ${budget:.2f}); it resets at the start of next month", wait)  # fmt: skip
        res = got_spend if isinstance(got_spend, Reservation) else None
        if rate is not None and not rate.allowed:
            if res is not None:
                self._spawn(self._settle(res, 0.0))
            which = f"{member.rpm} requests" if rate.limit == "rpm" else f"{member.tpm} tokens"
            return LimitHit(429, "rate_limit_exceeded", f"this key's limit of {which} per minute is reached",
                            max(1, math.ceil(rate.retry_after_s)))  # fmt: skip
        if res is not None or rate is not None:
            self._admitted[request_id] = _Admitted(scope, rate, res)
        return None

    def finished(self, request_id: str, key_id: str, tokens: int, cost: float | None) -> None:
        """Off the request path: settle the real cost and add the real tokens as a task (kept until it ends)."""
        held = self._admitted.pop(request_id, None)
        if cost:
            old = self._estimate.get(key_id)
            self._estimate[key_id] = cost if old is None else old + _SMOOTHING * (cost - old)
        if held is None:
            return
        if held.reservation is not None:
            self._spawn(self._settle(held.reservation, cost or 0.0))
        if held.rate is not None and tokens > 0:
            self._spawn(self.rates.add_tokens(held.scope, held.rate, tokens))

    def release(self, request_id: str) -> None:
        """Give back what an admitted request holds when it will never finish under this id."""
        held = self._admitted.pop(request_id, None)
        if held is None:
            return
        if held.reservation is not None:
            self._spawn(self._settle(held.reservation, 0.0))
        if held.rate is not None:
            self._spawn(self.rates.release(held.scope, held.rate))

    def forget(self, key_ids: set[str]) -> None:
        for gone in set(self._estimate) - key_ids:
            del self._estimate[gone]

    async def _settle(self, res: Reservation, cost: float) -> None:
        await self.spend.settle(res, cost)

    def _spawn(self, coro: object) -> None:
        task = asyncio.get_running_loop().create_task(coro, name="member-limits-settle")  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (e := task.exception()) is not None:
            log.error("settling a member's request failed: %r", e)

    async def drain(self) -> None:
        """At shutdown: let the settles in flight finish."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


async def _nothing() -> None:
    return None
