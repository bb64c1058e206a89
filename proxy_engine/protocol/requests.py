"""Payloads of one request's life: started, finished, and its error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from proxy_engine.protocol.fields import _dict, _float, _int, _opt_float, _opt_str, _str
from proxy_engine.protocol.names import REQUEST_FINISHED, REQUEST_STARTED


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
    session: str | None = None  # the agent session the client named, if any
    replica: str = ""  # team mode: the replica that served it
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
            "session": self.session,
            "replica": self.replica,
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
            session=_opt_str(d.get("session")) or None,
            replica=_str(d.get("replica")),
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
    paid_fallback: bool = False  # failover went from a subscription/free provider to a paid one
    session: str | None = None  # the agent session the client named, if any
    member: str | None = None  # the member key's id (team mode), never the key
    team: str | None = None  # that member's team
    replica: str = ""  # team mode: the replica that served it
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
            "paid_fallback": self.paid_fallback,
            "session": self.session,
            "member": self.member,
            "team": self.team,
            "replica": self.replica,
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
            paid_fallback=bool(d.get("paid_fallback")),
            session=_opt_str(d.get("session")) or None,
            member=_opt_str(d.get("member")) or None,
            team=_opt_str(d.get("team")) or None,
            replica=_str(d.get("replica")),
            ts=ts,
        )
