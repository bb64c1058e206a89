"""Everything the screens draw from, fed by protocol events; bounded and headless.

`LiveState.apply(events)` routes each event by type (a table, not an if-chain) and
returns the few events the UI must react to at once (config reloads, budget alerts).
Screens read the stores on their redraw timer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from proxy_engine.protocol import REQUEST_FINISHED, REQUEST_STARTED
from proxypal_tui.core.credentials import CredentialBoard
from proxypal_tui.core.feed import RequestFeed
from proxypal_tui.core.logbook import Logbook, LogLine

IMMEDIATE = frozenset({"config.reloaded", "budget.alert", "hello"})


@dataclass
class LiveState:
    feed: RequestFeed = field(default_factory=RequestFeed)
    logs: Logbook = field(default_factory=Logbook)
    stats: dict[str, Any] | None = None
    hello: dict[str, Any] | None = None
    auth: CredentialBoard = field(default_factory=CredentialBoard)
    day_rows: list[dict[str, Any]] = field(default_factory=list)
    hour_rows: list[dict[str, Any]] = field(default_factory=list)
    usage_version: int = 0
    dropped_by_engine: int = 0
    events_seen: int = 0
    alerts: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=50))
    _routes: dict[str, Callable[[dict[str, Any]], None]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._routes = {
            "hello": self._hello,
            "request.started": self.feed.started,
            "request.finished": self.feed.finished,
            "stats": self._stats,
            "log": lambda ev: self.logs.add(LogLine.from_event(ev)),
            "auth.changed": self.auth.auth_changed,
            "credential.cooldown": self.auth.cooldown_started,
            "budget.alert": self.alerts.append,
            "dropped": self._dropped,
            "config.reloaded": self._noop,
        }

    def apply(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        urgent = []
        # A request that starts and finishes within one batch is never drawn in flight (screens redraw
        # on a timer): skip its `request.started`, which halves the feed's work under heavy traffic.
        done = {ev.get("id") for ev in events if ev.get("type") == REQUEST_FINISHED} if len(events) > 1 else ()
        for ev in events:
            kind = ev.get("type")
            if kind == REQUEST_STARTED and ev.get("id") in done:
                self.events_seen += 1
                continue
            route = self._routes.get(str(kind))
            if route is None:
                continue  # a newer engine's event type: ignore it, stay compatible
            route(ev)
            self.events_seen += 1
            if ev["type"] in IMMEDIATE:
                urgent.append(ev)
        return urgent

    @staticmethod
    def _noop(ev: dict[str, Any]) -> None:
        return None

    def _hello(self, ev: dict[str, Any]) -> None:
        self.hello = ev
        snap = ev.get("snapshot") or {}
        self.feed.replace_history(snap.get("recent") or [])
        if snap.get("stats"):
            self.stats = snap["stats"]

    def _stats(self, ev: dict[str, Any]) -> None:
        self.stats = ev

    def _dropped(self, ev: dict[str, Any]) -> None:
        self.dropped_by_engine += int(ev.get("count") or 0)

    def set_usage(self, day_rows: list[dict[str, Any]], hour_rows: list[dict[str, Any]]) -> None:
        self.day_rows = day_rows
        self.hour_rows = hour_rows
        self.usage_version += 1
