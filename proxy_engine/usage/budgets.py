"""Spending limits: alerts as spend crosses each threshold, and a 429 once a limit is reached.

Scopes are the whole engine per day and per month (`budgets:`) and each client per month
(`clients[].monthly_budget_usd`). Spend is rebuilt from the ledger at startup, then kept in
memory as requests finish; periods follow the local calendar, like the usage views.
With worker processes (`serve --workers N`) the spend lives in a `SharedSpend` map instead, so
every worker sees every other's spend the moment a request finishes.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from proxy_engine.config import Config
from proxy_engine.protocol import BudgetAlert
from proxy_engine.usage.shared_spend import SharedSpend

log = logging.getLogger("proxy_engine.budgets")


# The last [start, end) window computed per period kind: every request asks for the current period
# (twice per kind), and datetime maths for each is a visible slice of a pass-through request's CPU.
_windows: dict[str, tuple[float, float]] = {}


def _compute_start(kind: str, now: float) -> float:
    d = dt.datetime.fromtimestamp(now)
    start = d.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "month":
        start = start.replace(day=1)
    return start.timestamp()


def _compute_end(kind: str, start: float) -> float:
    d = dt.datetime.fromtimestamp(start)
    if kind == "day":
        return (d + dt.timedelta(days=1)).timestamp()
    return d.replace(year=d.year + (d.month == 12), month=d.month % 12 + 1).timestamp()


def _window(kind: str, now: float) -> tuple[float, float]:
    """The local-time period holding `now`, reusing the last one when `now` still falls inside it."""
    w = _windows.get(kind)
    if w is not None and w[0] <= now < w[1]:
        return w
    start = _compute_start(kind, now)
    w = (start, _compute_end(kind, start))
    _windows[kind] = w
    return w


def period_start(kind: str, now: float) -> float:
    return _window(kind, now)[0]


def period_end(kind: str, now: float) -> float:
    return _window(kind, now)[1]


@dataclass(frozen=True)
class Limit:
    scope: str  # "daily", "monthly", "client:NAME"
    period: str  # "day" | "month"
    limit: float
    client: str | None = None  # None: every client counts


class BudgetTracker:
    def __init__(self, emit: Callable[[BudgetAlert], None], clock: Callable[[], float] = time.time) -> None:
        self._emit = emit
        self._clock = clock
        self.limits: list[Limit] = []
        self.thresholds: tuple[float, ...] = ()
        self._spend: dict[tuple[str, float], dict[str, float]] = {}  # (period, start) -> client -> usd
        self._alerted: set[tuple[str, float, float]] = set()  # (scope, period start, threshold)
        self.shared: SharedSpend | None = None  # set in a worker process: spend shared by all workers
        self.alerts_elsewhere = False  # team mode with Redis: alerts come from the team's counters

    @staticmethod
    def shared_key(period: str, start: float, client: str | None) -> str:
        """The key of one period's spend in the shared map; client None is every client."""
        return f"{period}:{start:.0f}:{'*' if client is None else 'c:' + client}"

    @staticmethod
    def seed(shared: SharedSpend, period: str, start: float, spend: dict[str, float]) -> None:
        """Write a period's spend read from the ledger into the shared map (the supervisor, at start)."""
        for client, usd in spend.items():
            shared.add(BudgetTracker.shared_key(period, start, client), usd)
            shared.add(BudgetTracker.shared_key(period, start, None), usd)

    def configure(self, cfg: Config) -> None:
        limits = []
        if cfg.budgets.daily_usd:
            limits.append(Limit("daily", "day", cfg.budgets.daily_usd))
        if cfg.budgets.monthly_usd:
            limits.append(Limit("monthly", "month", cfg.budgets.monthly_usd))
        for c in cfg.clients:
            if c.monthly_budget_usd:
                limits.append(Limit(f"client:{c.name}", "month", c.monthly_budget_usd, c.name))
        self.limits = limits
        self.thresholds = tuple(sorted(set(cfg.budgets.alert_at)))

    def load(self, period: str, start: float, spend: dict[str, float]) -> None:
        if self.shared is None:
            self._spend[(period, start)] = dict(spend)
        for lim in self.limits:
            if lim.period == period:
                self._check(lim, start, quiet=True)  # thresholds passed before a restart are not repeated

    def spent(self, lim: Limit, now: float | None = None) -> float:
        start = period_start(lim.period, self._clock() if now is None else now)
        if self.shared is not None:
            return self.shared.total(self.shared_key(lim.period, start, lim.client))
        by_client = self._spend.get((lim.period, start), {})
        return by_client.get(lim.client, 0.0) if lim.client is not None else sum(by_client.values())

    def add(self, client: str, cost: float | None) -> None:
        if not cost:
            return
        now = self._clock()
        for period in ("day", "month"):
            if self.shared is not None:
                start = period_start(period, now)
                self.shared.add(self.shared_key(period, start, client), cost)
                self.shared.add(self.shared_key(period, start, None), cost)
                continue
            key = (period, period_start(period, now))
            bucket = self._spend.setdefault(key, {})
            bucket[client] = bucket.get(client, 0.0) + cost
        for lim in self.limits:
            self._check(lim, period_start(lim.period, now))

    def _check(self, lim: Limit, start: float, quiet: bool = False) -> None:
        if self.alerts_elsewhere:
            return
        spent = self.spent(lim, start)
        for t in self.thresholds:
            key = (lim.scope, start, t)
            if spent >= lim.limit * t and key not in self._alerted:
                self._alerted.add(key)
                if self.shared is not None:  # another worker may have sent this alert already
                    mark = f"alert:{lim.scope}:{start:.0f}:{t}"
                    quiet = quiet or self.shared.total(mark) > 0
                    self.shared.add(mark, 1.0)
                if not quiet:
                    log.warning("budget %s: $%.2f of $%.2f spent (%d%%)", lim.scope, spent, lim.limit, t * 100)
                    self._emit(BudgetAlert(scope=lim.scope, spent=round(spent, 6), limit=lim.limit, threshold=t))

    def exceeded(self, client: str) -> tuple[Limit, float] | None:
        """The first limit this client's next request would break, and seconds until it resets."""
        now = self._clock()
        for lim in self.limits:
            if lim.client not in (None, client):
                continue
            if self.spent(lim, now) >= lim.limit:
                return lim, period_end(lim.period, now) - now
        return None

    def status(self) -> list[dict]:
        now = self._clock()
        return [{"scope": lim.scope, "period": lim.period, "limit": lim.limit, "spent": round(self.spent(lim, now), 6),
                 "resets_at": period_end(lim.period, now)} for lim in self.limits]  # fmt: skip
