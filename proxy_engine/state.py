"""What the running engine holds: the live runtime, shared client session, bus, ledger and stats."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from proxy_engine import __version__
from proxy_engine.config import ConfigIssue
from proxy_engine.events import EventBus
from proxy_engine.paths import Paths
from proxy_engine.protocol import BUDGET_ALERT, REQUEST_FINISHED, REQUEST_STARTED
from proxy_engine.record import RequestRecord
from proxy_engine.runtime import Runtime
from proxy_engine.usage.budgets import BudgetTracker, period_start
from proxy_engine.usage.ledger import CostLedger
from proxy_engine.usage.stats import RollingStats

if TYPE_CHECKING:
    from proxy_engine.credentials import CredentialManager

log = logging.getLogger("proxy_engine.state")


@dataclass
class EngineState:
    paths: Paths
    runtime: Runtime
    bus: EventBus
    ledger: CostLedger
    stats: RollingStats = field(default_factory=RollingStats)
    session: aiohttp.ClientSession | None = None
    management_key: bytes = b""
    host: str = "127.0.0.1"
    port: int = 8317
    started_at: float = field(default_factory=time.time)
    config_errors: list[ConfigIssue] = field(default_factory=list)
    model_calls: set[asyncio.Task] = field(default_factory=set)  # handler tasks of model calls in flight
    shutting_down: bool = False  # set once the drain's grace is over: what is still open gets ended
    credentials: CredentialManager = field(init=False)

    budgets: BudgetTracker = field(init=False)

    def __post_init__(self) -> None:
        from proxy_engine.credentials import CredentialManager

        self.credentials = CredentialManager(self)
        self.budgets = BudgetTracker(lambda alert: self.bus.emit(BUDGET_ALERT, alert))
        self.budgets.configure(self.runtime.config)

    async def load_budgets(self) -> None:
        """Rebuild this day's and month's spend from the ledger."""
        now = time.time()
        for period in ("day", "month"):
            start = period_start(period, now)
            self.budgets.load(period, start, await self.ledger.spend_by_client(start))

    def started(self, rec: RequestRecord) -> None:
        self.stats.in_flight += 1

    def request_started(self, rec: RequestRecord) -> None:
        if self.bus.subscribers:
            self.bus.emit(
                REQUEST_STARTED,
                {"id": rec.id, "client": rec.client, "agent": rec.agent, "dialect_in": rec.dialect_in,
                 "model_requested": rec.model_requested, "provider": rec.provider, "model": rec.model,
                 "stream": rec.stream},
            )  # fmt: skip

    def finished(self, rec: RequestRecord) -> None:
        self.stats.in_flight -= 1
        if rec.usage is not None and rec.model:
            rec.cost_usd = self.runtime.prices.cost(rec.provider_kind, rec.model, rec.usage)
            self.budgets.add(rec.client, rec.cost_usd)
        d = rec.as_dict()
        self.ledger.append(d)
        self.stats.add(d)
        self.bus.emit(REQUEST_FINISHED, d)

    def hello(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "pid": os.getpid(),
            "listen": f"{self.host}:{self.port}",
            "config_path": str(self.runtime.loaded.path or ""),
            "events_socket": str(self.bus.path or ""),
            "snapshot": {
                "recent": list(self.stats.recent),
                "stats": self.stats.snapshot(),
                "auth": self.credentials.login_states(),
            },
        }

    def status(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in self.hello().items() if k != "snapshot"},
            "host": self.host,
            "port": self.port,
            "started_at": self.started_at,
            "uptime_s": round(time.time() - self.started_at, 1),
            "config_ok": not self.config_errors,
            "config_errors": [i.as_dict() for i in self.config_errors],
            "stats": self.stats.snapshot(),
            "budgets": self.budgets.status(),
        }


ENGINE = web.AppKey("engine", EngineState)
