"""Payloads about the engine as a whole: hello, stats, ledger health, config, logs, drops."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from proxy_engine.protocol.credentials import AuthChanged
from proxy_engine.protocol.fields import _dict, _float, _int, _list, _opt_int, _str
from proxy_engine.protocol.names import CONFIG_RELOADED, DROPPED, HELLO, LOG, STATS
from proxy_engine.protocol.requests import RequestFinished


@dataclass(slots=True, kw_only=True)
class LedgerHealth:
    """Is the ledger keeping up: rows waiting for SQLite, and anything lost (see `usage/ledger.py`)."""

    ok: bool = True
    backlog: int = 0
    last_error: str = ""
    dropped: int = 0
    journal_failed: int = 0
    journal_error: str = ""
    backend: str = ""  # "sqlite", or "postgres" in team mode (then last_error says when it cannot be reached)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "backlog": self.backlog,
            "last_error": self.last_error,
            "dropped": self.dropped,
            "journal_failed": self.journal_failed,
            "journal_error": self.journal_error,
            "backend": self.backend,
        }

    @classmethod
    def from_dict(cls, d: Any) -> LedgerHealth:
        d = _dict(d)
        return cls(
            ok=d.get("ok") is not False,
            backlog=_int(d.get("backlog")),
            last_error=_str(d.get("last_error")),
            dropped=_int(d.get("dropped")),
            journal_failed=_int(d.get("journal_failed")),
            journal_error=_str(d.get("journal_error")),
            backend=_str(d.get("backend")),
        )


@dataclass(slots=True, kw_only=True)
class TeamHealth:
    """Team mode: can this replica use the shared Redis; `degraded` means it serves on local limits."""

    redis: str = "ok"  # "ok" | "degraded"
    replica: str = ""
    last_error: str = ""
    degraded_since: float | None = None
    reconciled_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"redis": self.redis, "replica": self.replica, "last_error": self.last_error,
                "degraded_since": self.degraded_since, "reconciled_at": self.reconciled_at}  # fmt: skip

    @classmethod
    def from_dict(cls, d: Any) -> TeamHealth:
        d = _dict(d)
        since, rec = d.get("degraded_since"), d.get("reconciled_at")
        return cls(redis=_str(d.get("redis")) or "ok", replica=_str(d.get("replica")),
                   last_error=_str(d.get("last_error")),
                   degraded_since=_float(since) if since is not None else None,
                   reconciled_at=_float(rec) if rec is not None else None)  # fmt: skip


@dataclass(slots=True, kw_only=True)
class Stats:
    """Rolling aggregates since the engine started; `per_minute` rows are [minute, requests, tokens, cost]."""

    TYPE: ClassVar[str] = STATS
    since: float = 0.0
    requests: int = 0
    errors: int = 0
    in_flight: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    avg_latency_ms: float = 0.0
    p95_latency_ms: float = 0.0
    error_rate: float = 0.0
    by_provider: dict[str, int] = field(default_factory=dict)
    by_model: dict[str, int] = field(default_factory=dict)
    per_minute: list[list[float]] = field(default_factory=list)
    ledger: LedgerHealth | None = None
    team: TeamHealth | None = None  # team mode only
    ts: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ledger": self.ledger.to_dict() if self.ledger is not None else None,
            "team": self.team.to_dict() if self.team is not None else None,
            "since": self.since,
            "requests": self.requests,
            "errors": self.errors,
            "in_flight": self.in_flight,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
            "avg_latency_ms": self.avg_latency_ms,
            "p95_latency_ms": self.p95_latency_ms,
            "error_rate": self.error_rate,
            "by_provider": self.by_provider,
            "by_model": self.by_model,
            "per_minute": self.per_minute,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Stats:
        return cls(
            since=_float(d.get("since")),
            requests=_int(d.get("requests")),
            errors=_int(d.get("errors")),
            in_flight=_int(d.get("in_flight")),
            input_tokens=_int(d.get("input_tokens")),
            output_tokens=_int(d.get("output_tokens")),
            cost_usd=_float(d.get("cost_usd")),
            avg_latency_ms=_float(d.get("avg_latency_ms")),
            p95_latency_ms=_float(d.get("p95_latency_ms")),
            error_rate=_float(d.get("error_rate")),
            by_provider={str(k): _int(v) for k, v in _dict(d.get("by_provider")).items()},
            by_model={str(k): _int(v) for k, v in _dict(d.get("by_model")).items()},
            per_minute=[list(r) for r in _list(d.get("per_minute")) if isinstance(r, list)],
            ledger=LedgerHealth.from_dict(d["ledger"]) if isinstance(d.get("ledger"), dict) else None,
            team=TeamHealth.from_dict(d["team"]) if isinstance(d.get("team"), dict) else None,
            ts=_float(d.get("ts")),
        )


@dataclass(slots=True, kw_only=True)
class HelloSnapshot:
    """What a subscriber that connects late missed: recent requests, aggregates, every login's state."""

    recent: list[RequestFinished] = field(default_factory=list)
    stats: Stats | None = None
    auth: list[AuthChanged] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "recent": [r.to_dict() for r in self.recent],
            "stats": self.stats.to_dict() if self.stats is not None else None,
            "auth": [a.to_dict() for a in self.auth],
        }

    @classmethod
    def from_dict(cls, d: Any) -> HelloSnapshot:
        d = _dict(d)
        stats = d.get("stats")
        return cls(
            recent=[RequestFinished.from_dict(r) for r in _list(d.get("recent")) if isinstance(r, dict)],
            stats=Stats.from_dict(stats) if isinstance(stats, dict) and stats else None,
            auth=[AuthChanged.from_dict(a) for a in _list(d.get("auth")) if isinstance(a, dict)],
        )


@dataclass(slots=True, kw_only=True)
class Hello:
    TYPE: ClassVar[str] = HELLO
    version: str = ""
    pid: int = 0
    listen: str = ""
    config_path: str = ""
    events_socket: str = ""
    snapshot: HelloSnapshot = field(default_factory=HelloSnapshot)
    ts: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "pid": self.pid,
            "listen": self.listen,
            "config_path": self.config_path,
            "events_socket": self.events_socket,
            "snapshot": self.snapshot.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Hello:
        return cls(
            version=_str(d.get("version")),
            pid=_int(d.get("pid")),
            listen=_str(d.get("listen")),
            config_path=_str(d.get("config_path")),
            events_socket=_str(d.get("events_socket")),
            snapshot=HelloSnapshot.from_dict(d.get("snapshot")),
            ts=_float(d.get("ts")),
        )


@dataclass(slots=True, kw_only=True)
class ConfigProblem:
    file: str
    line: int | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "message": self.message}

    @classmethod
    def from_dict(cls, d: Any) -> ConfigProblem:
        d = _dict(d)
        return cls(file=_str(d.get("file")), line=_opt_int(d.get("line")), message=_str(d.get("message")))


@dataclass(slots=True, kw_only=True)
class ConfigReloaded:
    TYPE: ClassVar[str] = CONFIG_RELOADED
    ok: bool
    errors: list[ConfigProblem] = field(default_factory=list)
    path: str = ""
    warnings: list[str] = field(default_factory=list)  # a valid config that is likely wrong (config_warnings)
    ts: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "errors": [e.to_dict() for e in self.errors], "path": self.path,
                "warnings": list(self.warnings)}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ConfigReloaded:
        return cls(
            ok=bool(d.get("ok")),
            errors=[ConfigProblem.from_dict(e) for e in _list(d.get("errors"))],
            path=_str(d.get("path")),
            warnings=[_str(w) for w in _list(d.get("warnings"))],
            ts=_float(d.get("ts")),
        )


@dataclass(slots=True, kw_only=True)
class Log:
    TYPE: ClassVar[str] = LOG
    level: str
    message: str
    logger: str = ""
    ts: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "logger": self.logger, "message": self.message}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Log:
        return cls(
            level=_str(d.get("level") or "info").lower(),
            logger=_str(d.get("logger")),
            message=_str(d.get("message")),
            ts=_float(d.get("ts")),
        )


@dataclass(slots=True, kw_only=True)
class Dropped:
    """This subscriber fell behind and `count` events were dropped for it."""

    TYPE: ClassVar[str] = DROPPED
    count: int
    ts: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Dropped:
        return cls(count=_int(d.get("count")), ts=_float(d.get("ts")))
