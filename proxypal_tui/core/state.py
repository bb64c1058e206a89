"""Everything the screens draw from, fed by protocol events; bounded and headless.

`LiveState.apply(events)` parses each event through `proxy_engine.protocol` (the one place
its shape is written), routes it by type (a table, not an if-chain) and returns the few
events the UI must react to at once (config reloads, budget alerts). Screens read the
stores on their redraw timer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from proxy_engine.protocol import (
    AUTH_CHANGED,
    BUDGET_ALERT,
    CONFIG_RELOADED,
    CREDENTIAL_COOLDOWN,
    DROPPED,
    HELLO,
    LOG,
    QUOTA_ALERT,
    QUOTA_UPDATED,
    REQUEST_FINISHED,
    REQUEST_STARTED,
    STATS,
    BudgetAlert,
    Dropped,
    Event,
    Hello,
    RequestFinished,
    RequestStarted,
    Stats,
    parse_event,
)
from proxypal_tui.core import formatting as fmt
from proxypal_tui.core.credentials import CredentialBoard
from proxypal_tui.core.feed import RequestFeed
from proxypal_tui.core.ledger_series import LedgerSeries
from proxypal_tui.core.logbook import Logbook, LogLine
from proxypal_tui.core.quota import QuotaBoard

IMMEDIATE = frozenset({CONFIG_RELOADED, BUDGET_ALERT, HELLO, QUOTA_ALERT})


@dataclass
class LiveState:
    feed: RequestFeed = field(default_factory=RequestFeed)
    logs: Logbook = field(default_factory=Logbook)
    stats: Stats | None = None
    hello: Hello | None = None
    auth: CredentialBoard = field(default_factory=CredentialBoard)
    quota: QuotaBoard = field(default_factory=QuotaBoard)
    day_rows: list[dict[str, Any]] = field(default_factory=list)
    hour_rows: list[dict[str, Any]] = field(default_factory=list)
    usage_version: int = 0
    ledger: LedgerSeries | None = None  # per-minute charts and today's split from the ledger
    dropped_by_engine: int = 0
    events_seen: int = 0
    alerts: deque[BudgetAlert] = field(default_factory=lambda: deque(maxlen=50))
    _routes: dict[str, Callable[[Any], None]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._routes = {
            HELLO: self._hello,
            REQUEST_STARTED: self.feed.started,
            REQUEST_FINISHED: self._finished,
            STATS: self._stats,
            LOG: lambda ev: self.logs.add(LogLine.from_event(ev)),
            AUTH_CHANGED: self.auth.auth_changed,
            CREDENTIAL_COOLDOWN: self.auth.cooldown_started,
            BUDGET_ALERT: self.alerts.append,
            DROPPED: self._dropped,
            CONFIG_RELOADED: self._noop,
            QUOTA_UPDATED: self.quota.updated,
            QUOTA_ALERT: self.quota.alert,
        }

    def apply(self, events: list[dict[str, Any]]) -> list[Event]:
        """Apply decoded events; a newer engine's unknown types are skipped, to stay compatible."""
        parsed = [ev for ev in map(parse_event, events) if ev is not None]
        urgent: list[Event] = []
        # A request that starts and finishes within one batch is never drawn in flight (screens redraw
        # on a timer): skip its `request.started`, which halves the feed's work under heavy traffic.
        done = {ev.id for ev in parsed if isinstance(ev, RequestFinished)} if len(parsed) > 1 else ()
        for ev in parsed:
            self.events_seen += 1
            if isinstance(ev, RequestStarted) and ev.id in done:
                continue
            self._routes[ev.TYPE](ev)
            if ev.TYPE in IMMEDIATE:
                urgent.append(ev)
        return urgent

    @staticmethod
    def _noop(ev: Event) -> None:
        return None

    def _hello(self, ev: Hello) -> None:
        self.hello = ev
        self.feed.replace_history(ev.snapshot.recent)
        if ev.snapshot.stats is not None:
            self.stats = ev.snapshot.stats

    def _finished(self, ev: RequestFinished) -> None:
        self.feed.finished(ev)
        self.fold_into_today(ev)
        if self.ledger is not None:
            self.ledger.fold(ev)

    def fold_into_today(self, ev: RequestFinished) -> None:
        """Count a finished request in its day's usage row now, so Today and the budget bar keep up.

        The next `/v0/usage` answer replaces the rows with the ledger's own totals.
        """
        key = fmt.day_key(ev.ts_start or ev.ts)
        row = next((r for r in self.day_rows if str(r.get("key")) == key), None)
        if row is None:
            row = {"key": key, "requests": 0, "errors": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
            self.day_rows.append(row)
        n = int(row.get("requests") or 0)
        avg = row.get("avg_latency_ms")
        row["avg_latency_ms"] = ev.latency_ms if avg is None else (float(avg) * n + ev.latency_ms) / (n + 1)
        row["requests"] = n + 1
        row["errors"] = int(row.get("errors") or 0) + (1 if ev.status >= 400 else 0)
        row["input_tokens"] = int(row.get("input_tokens") or 0) + ev.input_tokens
        row["output_tokens"] = int(row.get("output_tokens") or 0) + ev.output_tokens
        row["cost_usd"] = float(row.get("cost_usd") or 0.0) + float(ev.cost_usd or 0.0)
        self.usage_version += 1

    def _stats(self, ev: Stats) -> None:
        self.stats = ev

    def _dropped(self, ev: Dropped) -> None:
        self.dropped_by_engine += ev.count

    def set_usage(
        self, day_rows: list[dict[str, Any]], hour_rows: list[dict[str, Any]], ledger: LedgerSeries | None = None
    ) -> None:
        self.day_rows = day_rows
        self.hour_rows = hour_rows
        if ledger is not None:
            self.ledger = ledger
        self.usage_version += 1
