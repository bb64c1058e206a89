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
from proxy_engine.credentials.broker import CredentialBroker
from proxy_engine.credentials.pacing import PacingBoard
from proxy_engine.events import EventBus
from proxy_engine.members.access import MemberAccess
from proxy_engine.metrics.registry import RequestMetrics
from proxy_engine.paths import Paths
from proxy_engine.protocol import REQUEST_FINISHED, Hello, HelloSnapshot, LedgerHealth, RequestFinished, Stats
from proxy_engine.protocol.names import REQUEST_STARTED
from proxy_engine.record import RequestRecord
from proxy_engine.recorder.flight_recorder import FlightRecorder
from proxy_engine.runtime import Runtime
from proxy_engine.storage.backend import Storage
from proxy_engine.storage.errors import StorageUnavailable
from proxy_engine.usage.budgets import BudgetTracker, period_start
from proxy_engine.usage.ledger import CostLedger
from proxy_engine.usage.stats import RollingStats
from proxy_engine.workers.role import WorkerRole

if TYPE_CHECKING:
    from proxy_engine.team_state.hot_state import TeamHotState

log = logging.getLogger("proxy_engine.state")


@dataclass
class RunningEngine:
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
    # Bodies of model calls still arriving: aiohttp stops reading every connection when shutdown starts,
    # so the drain ends these at once (drain.py) instead of letting them wait out the grace.
    bodies_arriving: set[aiohttp.StreamReader] = field(default_factory=set)
    worker: WorkerRole | None = None  # set in a worker process of `serve --workers N`
    credentials: CredentialBroker = field(init=False)
    pacing: PacingBoard = field(default_factory=PacingBoard)  # per-credential max_concurrent / rpm

    budgets: BudgetTracker = field(init=False)
    recorder: FlightRecorder = field(init=False)
    storage: Storage = field(init=False)  # everything durable: SQLite, or PostgreSQL in team mode
    members: MemberAccess = field(init=False)  # member keys and their limits (members/)
    metrics: RequestMetrics = field(default_factory=RequestMetrics)  # GET /metrics
    team: TeamHotState | None = None  # team mode with `team.redis`: the state shared through Redis

    def __post_init__(self) -> None:
        self.storage = Storage.from_config(self.paths.ledger_file, None)  # build_app sets the configured one
        self.members = MemberAccess(self.storage)
        self.credentials = CredentialBroker(self.paths, lambda: self.runtime, self.bus.publish)
        self.budgets = BudgetTracker(self.bus.publish)
        self.budgets.configure(self.runtime.config)
        self.recorder = FlightRecorder(self.paths.state_dir, self.runtime.config.recorder)

    async def load_budgets(self) -> None:
        """Rebuild this day's and month's spend from the ledger."""
        now = time.time()
        for period in ("day", "month"):
            start = period_start(period, now)
            # A worker's spend is in the shared map, which the supervisor seeded from the ledger.
            try:
                spend = {} if self.budgets.shared is not None else await self.ledger.spend_by_client(start)
            except StorageUnavailable as e:  # team mode with PostgreSQL down: count what is not stored yet
                log.error("budgets start without the stored spend: %s", e)
                spend = self.ledger.pending_spend(start)
            self.budgets.load(period, start, spend)

    def started(self, rec: RequestRecord) -> None:
        self.stats.in_flight += 1

    def request_started(self, rec: RequestRecord) -> None:
        self.runtime.prices.expect(rec.provider_kind, rec.model or "")
        if self.bus.subscribers:
            self.bus.emit(REQUEST_STARTED, rec.started_dict())

    def finished(self, rec: RequestRecord) -> None:
        """Record once: a relay calls this before its last write, and the handler's finally again."""
        if rec.recorded:
            return
        rec.recorded = True
        self.stats.in_flight -= 1
        if rec.usage is not None and rec.model:
            rec.cost_usd = self.runtime.prices.cost(rec.provider_kind, rec.model, rec.usage)
            self.budgets.add(rec.client, rec.cost_usd)
        if self.team is not None:
            self.team.budgets.settle(rec.id, rec.client, rec.cost_usd)
        d = rec.as_dict()
        self.ledger.append(d)
        self.stats.add(d)
        self.metrics.note(d)
        if rec.member is not None:
            self.members.finished(d)
        self.bus.emit(REQUEST_FINISHED, d)

    def hello(self) -> Hello:
        return Hello(
            version=__version__,
            pid=os.getpid(),
            listen=f"{self.host}:{self.port}",
            config_path=str(self.runtime.loaded.path or ""),
            events_socket=str(self.bus.path or ""),
            snapshot=HelloSnapshot(
                recent=[RequestFinished.from_dict(r) for r in self.stats.recent],
                stats=self.stats_payload(),
                auth=self.credentials.login_states(),
            ),
        )

    def status(self) -> dict[str, Any]:
        workers = {} if self.worker is None else {"worker": self.worker.index, "workers": self.worker.siblings(),
                                                  "supervisor_pid": self.worker.supervisor_pid}  # fmt: skip
        return {
            **workers,
            **{k: v for k, v in self.hello().to_dict().items() if k != "snapshot"},
            "host": self.host,
            "port": self.port,
            "started_at": self.started_at,
            "uptime_s": round(time.time() - self.started_at, 1),
            "config_ok": not self.config_errors,
            "config_errors": [i.as_dict() for i in self.config_errors],
            "stats": self.stats_payload().to_dict(),
            "budgets": self.budgets.status(),
            "ledger": self.ledger.health(),
            "recorder": self.recorder.status(),
            **({"team": self.team.health().to_dict()} if self.team is not None else {}),
        }

    def stats_payload(self) -> Stats:
        """The `stats` event and snapshots: rolling aggregates plus the ledger's health."""
        payload = self.stats.payload()
        payload.ledger = LedgerHealth.from_dict(self.ledger.health())
        if self.team is not None:
            payload.team = self.team.health()
        return payload


ENGINE = web.AppKey("engine", RunningEngine)
RECORD = web.RequestKey("record", RequestRecord)
