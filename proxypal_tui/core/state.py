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

from proxypal_tui.core.feed import RequestFeed
from proxypal_tui.core.logbook import Logbook, LogLine

IMMEDIATE = frozenset({"config.reloaded", "budget.alert", "hello"})


@dataclass
class Credential:
    provider: str
    id: str
    type: str = ""
    state: str = "unknown"
    source: str = ""
    message: str = ""
    cooldown_until: float | None = None
    cooldown_model: str = ""
    cooldown_reason: str = ""


@dataclass
class ProviderRow:
    name: str
    kind: str = ""
    base_url: str = ""
    credentials: list[Credential] = field(default_factory=list)


@dataclass
class LiveState:
    feed: RequestFeed = field(default_factory=RequestFeed)
    logs: Logbook = field(default_factory=Logbook)
    stats: dict[str, Any] | None = None
    hello: dict[str, Any] | None = None
    providers: dict[str, ProviderRow] = field(default_factory=dict)
    providers_version: int = 0
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
            "auth.changed": self._auth_changed,
            "credential.cooldown": self._cooldown,
            "budget.alert": self.alerts.append,
            "dropped": self._dropped,
            "config.reloaded": self._noop,
        }

    def apply(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        urgent = []
        for ev in events:
            route = self._routes.get(str(ev.get("type")))
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

    def set_auth_status(self, providers: list[dict[str, Any]]) -> None:
        """Replace the table from `/v0/auth/status`, keeping known cooldowns."""
        old = {(c.provider, c.id): c for row in self.providers.values() for c in row.credentials}
        rows: dict[str, ProviderRow] = {}
        for p in providers:
            name = str(p.get("name", ""))
            row = ProviderRow(name, str(p.get("kind") or ""), str(p.get("base_url") or ""))
            for c in p.get("credentials") or []:
                cred = Credential(
                    provider=name,
                    id=str(c.get("id", "")),
                    type=str(c.get("type") or ""),
                    state=str(c.get("state") or "unknown"),
                    source=str(c.get("source") or ""),
                )
                prev = old.get((name, cred.id))
                if prev is not None:
                    cred.cooldown_until, cred.cooldown_model = prev.cooldown_until, prev.cooldown_model
                    cred.cooldown_reason = prev.cooldown_reason
                row.credentials.append(cred)
            rows[name] = row
        self.providers = rows
        self.providers_version += 1

    def _credential(self, provider: str, cred_id: str) -> Credential:
        row = self.providers.setdefault(provider, ProviderRow(provider))
        for c in row.credentials:
            if c.id == cred_id:
                return c
        cred = Credential(provider, cred_id)
        row.credentials.append(cred)
        return cred

    def _auth_changed(self, ev: dict[str, Any]) -> None:
        cred = self._credential(str(ev.get("provider", "")), str(ev.get("credential", "")))
        cred.state = str(ev.get("state") or cred.state)
        cred.message = str(ev.get("message") or "")
        self.providers_version += 1

    def _cooldown(self, ev: dict[str, Any]) -> None:
        cred = self._credential(str(ev.get("provider", "")), str(ev.get("credential", "")))
        cred.cooldown_until = ev.get("until")
        cred.cooldown_model = str(ev.get("model") or "")
        cred.cooldown_reason = str(ev.get("reason") or "")
        self.providers_version += 1

    def set_usage(self, day_rows: list[dict[str, Any]], hour_rows: list[dict[str, Any]]) -> None:
        self.day_rows = day_rows
        self.hour_rows = hour_rows
        self.usage_version += 1
