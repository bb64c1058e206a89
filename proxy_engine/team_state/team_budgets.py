"""The engine's budgets on the shared counters: reserve at admission, settle when the request ends.

The limits are the embedded ones (`budgets.daily_usd`, `budgets.monthly_usd`,
`clients[].monthly_budget_usd`, as `BudgetTracker.limits`); only where their spend is counted
changes. The estimate reserved for a request is the client's recent average cost, so a budget's
overshoot is bounded by what the requests in flight cost beyond it. `scope_counter` and
`SpendCounters.reserve`/`settle` are the same API for any other scope (member keys, teams).
`budget.alert` comes from the team's counter too: the request that crosses a threshold raises it,
once for the whole team (marked in Redis); the tracker's own per-replica alerts are off.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from proxy_engine.protocol import BudgetAlert
from proxy_engine.team_state.link import RedisDown
from proxy_engine.team_state.spend import PREFIX, Counter, Refusal, Reservation, SpendCounters
from proxy_engine.usage.budgets import BudgetTracker, Limit, period_end, period_start

log = logging.getLogger("proxy_engine.team_state")

_SMOOTHING = 0.3  # weight of the newest cost in a client's estimate
_TTL_MARGIN_S = 2 * 86400  # a counter outlives its period by this, then Redis forgets it


def scope_counter(
    scope: str, period: str, limit_usd: float, seed_usd: float = 0.0, now: float | None = None
) -> Counter:
    """The counter of `scope` (any string: "client:ann", "member:42", "team:red") in the current day or month."""
    now = time.time() if now is None else now
    start = period_start(period, now)
    ttl = int(period_end(period, now) - now) + _TTL_MARGIN_S
    return Counter(f"{PREFIX}{scope}:{period}:{start:.0f}", limit_usd, seed_usd, ttl)


class TeamBudgets:
    def __init__(
        self,
        counters: SpendCounters,
        tracker: BudgetTracker,
        emit: Callable[[BudgetAlert], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.counters = counters
        self.tracker = tracker
        self._emit = emit
        self._clock = clock
        tracker.alerts_elsewhere = True
        self._held: dict[str, tuple[Reservation, list[Limit]]] = {}  # request id -> its reservation
        self._estimate: dict[str, float] = {}  # client -> recent average cost (USD)
        self._tasks: set[asyncio.Task[None]] = set()

    def counters_for(self, client: str) -> list[tuple[Limit, Counter]]:
        now = self._clock()
        return [(lim, scope_counter(lim.scope, lim.period, lim.limit, self.tracker.spent(lim, now), now))
                for lim in self.tracker.limits if lim.client in (None, client)]  # fmt: skip

    async def admit(self, request_id: str, client: str) -> tuple[Limit, float, float] | None:
        """Reserve this request's estimate; or (limit, spent, seconds until it resets) when it is refused."""
        pairs = self.counters_for(client)
        if not pairs:
            return None
        got = await self.counters.reserve([c for _, c in pairs], self._estimate.get(client, 0.0))
        if isinstance(got, Refusal):
            lim = next(lim for lim, c in pairs if c.key == got.counter.key)
            now = self._clock()
            return lim, got.spent_usd, period_end(lim.period, now) - now
        self._held[request_id] = (got, [lim for lim, _ in pairs])
        return None

    def settle(self, request_id: str, client: str, cost_usd: float | None) -> None:
        """Off the request path: the settle runs as a task (kept until it ends)."""
        held = self._held.pop(request_id, None)
        if held is None:
            return
        res, limits = held
        cost = cost_usd or 0.0
        if cost:
            old = self._estimate.get(client)
            self._estimate[client] = cost if old is None else old + _SMOOTHING * (cost - old)
        task = asyncio.get_running_loop().create_task(self._settle(res, limits, cost), name="spend-settle")
        self._tasks.add(task)
        task.add_done_callback(self._settled)

    async def _settle(self, res: Reservation, limits: list[Limit], cost: float) -> None:
        spent = await self.counters.settle(res, cost)
        if spent is None or not cost:
            return
        for lim, counter, usd in zip(limits, res.counters, spent, strict=True):
            for t in self.tracker.thresholds:
                if usd >= lim.limit * t and usd - cost < lim.limit * t:  # this request crossed it
                    await self._alert_once(lim, counter, usd, t)

    async def _alert_once(self, lim: Limit, counter: Counter, usd: float, t: float) -> None:
        """One `budget.alert` per threshold for the whole team: the replica that marks it first sends it."""
        mark = f"pp:alerted:{counter.key}:{t:g}"
        try:
            first = await self.counters.link.run(lambda r: r.set(mark, "1", nx=True, ex=counter.ttl_s))
        except RedisDown:
            first = True  # better twice than never
        if first:
            log.warning("budget %s: $%.2f of $%.2f spent (%d%%)", lim.scope, usd, lim.limit, t * 100)
            self._emit(BudgetAlert(scope=lim.scope, spent=round(usd, 6), limit=lim.limit, threshold=t))

    def _settled(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (e := task.exception()) is not None:
            log.error("settling a request's spend failed: %r", e)

    async def drain(self) -> None:
        """At shutdown: let the settles in flight finish."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
