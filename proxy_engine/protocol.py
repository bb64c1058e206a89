"""The event protocol between the engine and its subscribers (the TUI, `tail`).

One JSON object per line on a Unix socket. Every event has `v`, `type` and `ts`; the rest
is the event's payload, one dataclass per type below. The engine builds payloads here and
the TUI parses them here, so each event's shape is written once. `to_dict` is plain field
copying (no validation): `request.finished` is built on the request path. `from_dict` is
lenient, as a reader of a newer or older engine must be: unknown fields are ignored and
missing ones take their defaults. This module is shared with the TUI, so it imports only
the standard library.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Protocol

PROTOCOL_VERSION: Final = 1

HELLO: Final = "hello"
REQUEST_STARTED: Final = "request.started"
REQUEST_FINISHED: Final = "request.finished"
STATS: Final = "stats"
CONFIG_RELOADED: Final = "config.reloaded"
AUTH_CHANGED: Final = "auth.changed"
CREDENTIAL_COOLDOWN: Final = "credential.cooldown"
BUDGET_ALERT: Final = "budget.alert"
LOG: Final = "log"
DROPPED: Final = "dropped"

EVENT_TYPES: Final = frozenset(
    {
        HELLO,
        REQUEST_STARTED,
        REQUEST_FINISHED,
        STATS,
        CONFIG_RELOADED,
        AUTH_CHANGED,
        CREDENTIAL_COOLDOWN,
        BUDGET_ALERT,
        LOG,
        DROPPED,
    }
)


class EventPayload(Protocol):
    """What every payload class offers; `ts` is the envelope's time, set when parsed."""

    TYPE: ClassVar[str]
    ts: float

    def to_dict(self) -> dict[str, Any]: ...


# ---- lenient readers: a field of the wrong type becomes its default, never an exception -------------


def _str(v: Any, default: str = "") -> str:
    return default if v is None else str(v)


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)


def _int(v: Any, default: int = 0) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def _float(v: Any, default: float = 0.0) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


def _opt_float(v: Any) -> float | None:
    return None if v is None else _float(v)


def _opt_int(v: Any) -> int | None:
    return None if v is None else _int(v)


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


# ---- payloads ---------------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class RequestError:
    code: str
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}

    @classmethod
    def from_dict(cls, d: Any) -> RequestError | None:
        d = _dict(d)
        return cls(code=_str(d.get("code")), message=_str(d.get("message"))) if d else None


@dataclass(slots=True, kw_only=True)
class RequestStarted:
    TYPE: ClassVar[str] = REQUEST_STARTED
    id: str
    ts_start: float = 0.0
    client: str = ""
    agent: str = ""
    dialect_in: str = ""
    model_requested: str | None = None
    provider: str | None = None
    model: str | None = None
    stream: bool = False
    ts: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts_start": self.ts_start,
            "client": self.client,
            "agent": self.agent,
            "dialect_in": self.dialect_in,
            "model_requested": self.model_requested,
            "provider": self.provider,
            "model": self.model,
            "stream": self.stream,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RequestStarted:
        ts = _float(d.get("ts"))
        return cls(
            id=_str(d.get("id")),
            ts_start=_float(d.get("ts_start")) or ts,  # engines before ts_start: the event's time
            client=_str(d.get("client")),
            agent=_str(d.get("agent")),
            dialect_in=_str(d.get("dialect_in")),
            model_requested=_opt_str(d.get("model_requested")),
            provider=_opt_str(d.get("provider")),
            model=_opt_str(d.get("model")),
            stream=bool(d.get("stream")),
            ts=ts,
        )


@dataclass(slots=True, kw_only=True)
class RequestFinished:
    """One request's record: the event, a row of the ledger, an entry of the `hello` snapshot."""

    TYPE: ClassVar[str] = REQUEST_FINISHED
    id: str
    ts_start: float = 0.0
    client: str = ""
    agent: str = ""
    dialect_in: str = ""
    dialect_out: str | None = None
    model_requested: str | None = None
    provider: str | None = None
    model: str | None = None
    credential: str | None = None
    stream: bool = False
    status: int = 500
    latency_ms: float = 0.0
    ttfb_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = None
    attempts: int = 0
    error: RequestError | None = None
    ts: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts_start": self.ts_start,
            "client": self.client,
            "agent": self.agent,
            "dialect_in": self.dialect_in,
            "dialect_out": self.dialect_out,
            "model_requested": self.model_requested,
            "provider": self.provider,
            "model": self.model,
            "credential": self.credential,
            "stream": self.stream,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "ttfb_ms": self.ttfb_ms,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cost_usd": self.cost_usd,
            "attempts": self.attempts,
            "error": self.error.to_dict() if self.error is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RequestFinished:
        ts = _float(d.get("ts"))
        return cls(
            id=_str(d.get("id")),
            ts_start=_float(d.get("ts_start")) or ts,
            client=_str(d.get("client")),
            agent=_str(d.get("agent")),
            dialect_in=_str(d.get("dialect_in")),
            dialect_out=_opt_str(d.get("dialect_out")),
            model_requested=_opt_str(d.get("model_requested")),
            provider=_opt_str(d.get("provider")),
            model=_opt_str(d.get("model")),
            credential=_opt_str(d.get("credential")),
            stream=bool(d.get("stream")),
            status=_int(d.get("status"), 500),
            latency_ms=_float(d.get("latency_ms")),
            ttfb_ms=_opt_float(d.get("ttfb_ms")),
            input_tokens=_int(d.get("input_tokens")),
            output_tokens=_int(d.get("output_tokens")),
            cache_read_tokens=_int(d.get("cache_read_tokens")),
            cache_write_tokens=_int(d.get("cache_write_tokens")),
            cost_usd=_opt_float(d.get("cost_usd")),
            attempts=_int(d.get("attempts")),
            error=RequestError.from_dict(d.get("error")),
            ts=ts,
        )


@dataclass(slots=True, kw_only=True)
class LedgerHealth:
    """Is the ledger keeping up: rows waiting for SQLite, and anything lost (see `usage/ledger.py`)."""

    ok: bool = True
    backlog: int = 0
    last_error: str = ""
    dropped: int = 0
    journal_failed: int = 0
    journal_error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "backlog": self.backlog,
            "last_error": self.last_error,
            "dropped": self.dropped,
            "journal_failed": self.journal_failed,
            "journal_error": self.journal_error,
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
        )


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
    ts: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ledger": self.ledger.to_dict() if self.ledger is not None else None,
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
            ts=_float(d.get("ts")),
        )


@dataclass(slots=True, kw_only=True)
class AuthChanged:
    """state: valid, expiring, expired, refreshing, error or missing."""

    TYPE: ClassVar[str] = AUTH_CHANGED
    provider: str
    credential: str
    state: str
    message: str = ""
    ts: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "credential": self.credential, "state": self.state, "message": self.message}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AuthChanged:
        return cls(
            provider=_str(d.get("provider")),
            credential=_str(d.get("credential")),
            state=_str(d.get("state")),
            message=_str(d.get("message")),
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
class CredentialCooldown:
    """`status` is the HTTP status that caused it (0 for a timeout); `until` is epoch seconds."""

    TYPE: ClassVar[str] = CREDENTIAL_COOLDOWN
    provider: str
    credential: str
    model: str
    until: float
    reason: str = ""
    status: int = 0
    ts: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "credential": self.credential,
            "model": self.model,
            "until": self.until,
            "reason": self.reason,
            "status": self.status,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CredentialCooldown:
        return cls(
            provider=_str(d.get("provider")),
            credential=_str(d.get("credential")),
            model=_str(d.get("model")),
            until=_float(d.get("until")),
            reason=_str(d.get("reason")),
            status=_int(d.get("status")),
            ts=_float(d.get("ts")),
        )


@dataclass(slots=True, kw_only=True)
class BudgetAlert:
    """`threshold` is the fraction of `limit` that `spent` reached (0.5, 0.8, 1.0)."""

    TYPE: ClassVar[str] = BUDGET_ALERT
    scope: str
    spent: float
    limit: float
    threshold: float
    ts: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "spent": self.spent, "limit": self.limit, "threshold": self.threshold}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BudgetAlert:
        return cls(
            scope=_str(d.get("scope"), "budget"),
            spent=_float(d.get("spent")),
            limit=_float(d.get("limit")),
            threshold=_float(d.get("threshold")),
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


Event = (
    Hello | RequestStarted | RequestFinished | Stats | ConfigReloaded | AuthChanged | CredentialCooldown
    | BudgetAlert | Log | Dropped
)  # fmt: skip

PAYLOADS: Final[dict[str, Any]] = {
    cls.TYPE: cls
    for cls in (Hello, RequestStarted, RequestFinished, Stats, ConfigReloaded, AuthChanged, CredentialCooldown,
                BudgetAlert, Log, Dropped)
}  # fmt: skip

# ---- the wire ---------------------------------------------------------------------------------------

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


def encode_event(type_: str, fields: dict[str, Any], ts: float | None = None) -> bytes:
    """One newline-terminated JSON line."""
    obj = {"v": PROTOCOL_VERSION, "type": type_, "ts": time.time() if ts is None else ts}
    obj.update(fields)
    return _dumps(obj).encode() + b"\n"


def encode_payload(payload: EventPayload, ts: float | None = None) -> bytes:
    return encode_event(payload.TYPE, payload.to_dict(), ts)


def decode_event(line: bytes | str) -> dict[str, Any]:
    """One line as a dict with at least a `type`; ValueError for anything else."""
    obj = json.loads(line)
    if not isinstance(obj, dict) or "type" not in obj:
        raise ValueError("not an event")
    return obj


def parse_event(obj: dict[str, Any]) -> Event | None:
    """The typed payload of a decoded event; None for a type this version does not know."""
    cls = PAYLOADS.get(str(obj.get("type")))
    return cls.from_dict(obj) if cls is not None else None
