"""The live request feed: a bounded history of finished requests plus those in flight.

Events land here at any rate; the Requests screen reads it on a timer, so the
store only counts changes (`version`) and never triggers a redraw itself.
"""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from proxy_engine.protocol import RequestFinished, RequestStarted

HISTORY = 5000
IN_FLIGHT_MAX = 1000


@dataclass(slots=True)
class FeedRow:
    """One request as the feed shows it; `status` is None while it is in flight."""

    id: str
    ts_start: float
    client: str = ""
    dialect_in: str = ""
    dialect_out: str = ""
    model_requested: str = ""
    provider: str = ""
    model: str = ""
    stream: bool = False
    status: int | None = None
    latency_ms: float | None = None
    ttfb_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = None
    attempts: int = 1
    error: dict[str, Any] | None = None
    paid_fallback: bool = False  # failover went from a subscription/free provider to a paid one
    agent: str = ""
    session: str = ""  # the agent session the request belongs to ("" when the client named none)
    replica: str = ""  # team mode: the replica that served it ("" on a single engine)

    @classmethod
    def from_started(cls, ev: RequestStarted) -> FeedRow:
        """A request in flight, from its `request.started` event."""
        return cls(
            id=ev.id,
            ts_start=ev.ts_start,
            client=ev.client,
            dialect_in=ev.dialect_in,
            model_requested=ev.model_requested or "",
            provider=ev.provider or "",
            model=ev.model or "",
            stream=ev.stream,
            agent=ev.agent,
            session=ev.session or "",
            replica=ev.replica,
        )

    @classmethod
    def from_finished(cls, ev: RequestFinished) -> FeedRow:
        """A finished request, from its `request.finished` event or a `hello` snapshot entry."""
        return cls(
            id=ev.id,
            ts_start=ev.ts_start,
            client=ev.client,
            dialect_in=ev.dialect_in,
            dialect_out=ev.dialect_out or "",
            model_requested=ev.model_requested or "",
            provider=ev.provider or "",
            model=ev.model or "",
            stream=ev.stream,
            status=ev.status,
            latency_ms=ev.latency_ms,
            ttfb_ms=ev.ttfb_ms,
            input_tokens=ev.input_tokens,
            output_tokens=ev.output_tokens,
            cache_read_tokens=ev.cache_read_tokens,
            cache_write_tokens=ev.cache_write_tokens,
            cost_usd=ev.cost_usd,
            attempts=ev.attempts or 1,
            error=ev.error.to_dict() if ev.error is not None else None,
            paid_fallback=ev.paid_fallback,
            agent=ev.agent,
            session=ev.session or "",
            replica=ev.replica,
        )

    @property
    def in_flight(self) -> bool:
        return self.status is None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 400

    def haystack(self) -> str:
        err = self.error or {}
        parts = (self.id, self.client, self.model_requested, self.model, self.provider, self.dialect_in, self.session)
        return " ".join((*parts, str(err.get("code", "")), str(err.get("message", "")))).lower()


_STATUS_CLASS = re.compile(r"^([1-5])xx$")


@dataclass(frozen=True)
class FeedFilter:
    """Parsed from `provider:NAME model:NAME status:429|4xx|ok|error client:NAME session:ID free text`."""

    provider: str = ""
    model: str = ""
    status: str = ""
    client: str = ""
    text: tuple[str, ...] = ()
    session: str = ""

    @classmethod
    def parse(cls, query: str) -> FeedFilter:
        fields: dict[str, str] = {}
        words: list[str] = []
        for token in query.split():
            key, sep, value = token.partition(":")
            if sep and key.lower() in ("provider", "model", "status", "client", "session") and value:
                fields[key.lower()] = value.lower()
            else:
                words.append(token.lower())
        return cls(text=tuple(words), **fields)

    @property
    def active(self) -> bool:
        return bool(self.provider or self.model or self.status or self.client or self.text or self.session)

    def matches(self, rec: FeedRow) -> bool:
        if self.provider and self.provider not in rec.provider.lower():
            return False
        if self.client and self.client not in rec.client.lower():
            return False
        if self.session and self.session != rec.session.lower():
            return False
        if self.model and self.model not in rec.model.lower() and self.model not in rec.model_requested.lower():
            return False
        if self.status and not _status_matches(self.status, rec.status):
            return False
        if self.text:
            hay = rec.haystack()
            return all(w in hay for w in self.text)
        return True

    def describe(self) -> str:
        parts = [f"{k}:{v}" for k, v in (("provider", self.provider), ("model", self.model)) if v]
        parts += [f"{k}:{v}" for k, v in (("status", self.status), ("client", self.client)) if v]
        parts += [f"session:{self.session}"] if self.session else []
        return " ".join([*parts, *self.text])


def _status_matches(want: str, status: int | None) -> bool:
    if want in ("flight", "pending", "running"):
        return status is None
    if status is None:
        return False
    if want == "ok":
        return 200 <= status < 400
    if want in ("error", "err", "fail"):
        return status >= 400
    m = _STATUS_CLASS.match(want)
    if m:
        return status // 100 == int(m.group(1))
    return want == str(status)


@dataclass
class RequestFeed:
    """Bounded: `history` finished records and at most `in_flight_max` open ones."""

    history: int = HISTORY
    in_flight_max: int = IN_FLIGHT_MAX
    version: int = 0
    _done: deque[FeedRow] = field(init=False)
    _open: OrderedDict[str, FeedRow] = field(init=False, default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self._done = deque(maxlen=self.history)

    def __len__(self) -> int:
        return len(self._done) + len(self._open)

    def started(self, ev: RequestStarted) -> None:
        rec = FeedRow.from_started(ev)
        self._open[rec.id] = rec
        while len(self._open) > self.in_flight_max:
            self._open.popitem(last=False)
        self.version += 1

    def finished(self, ev: RequestFinished) -> FeedRow:
        rec = FeedRow.from_finished(ev)
        self._open.pop(rec.id, None)
        self._done.append(rec)
        self.version += 1
        return rec

    def replace_history(self, records: Iterable[RequestFinished]) -> None:
        """Load the `hello` snapshot (oldest first after sorting) in place of what we had."""
        recs = sorted((FeedRow.from_finished(r) for r in records), key=lambda r: r.ts_start)
        self._done.clear()
        self._done.extend(recs)
        self._open.clear()
        self.version += 1

    def merge_history(self, records: Iterable[RequestFinished]) -> None:
        """Add the ledger's records we do not have (after a restart or on attach); newest kept, oldest first."""
        have = {r.id for r in self._done}
        new = [FeedRow.from_finished(r) for r in records if r.id not in have]
        if not new:
            return
        merged = sorted([*self._done, *new], key=lambda r: r.ts_start)
        self._done.clear()
        self._done.extend(merged[-self.history :])
        self.version += 1

    def clear(self) -> None:
        self._done.clear()
        self._open.clear()
        self.version += 1

    def newest_first(self, flt: FeedFilter | None = None, limit: int | None = None) -> list[FeedRow]:
        out: list[FeedRow] = []
        for rec in self._iter_newest():
            if flt is None or flt.matches(rec):
                out.append(rec)
                if limit is not None and len(out) >= limit:
                    break
        return out

    def _iter_newest(self) -> Iterator[FeedRow]:
        yield from reversed(self._open.values())
        yield from reversed(self._done)

    def finished_since(self, epoch: float) -> list[FeedRow]:
        """Records started at or after `epoch`; finish order differs from start order, so allow slack."""
        out = []
        for rec in reversed(self._done):
            if rec.ts_start < epoch - 600:
                break
            if rec.ts_start >= epoch:
                out.append(rec)
        out.reverse()
        return out

    def get(self, request_id: str) -> FeedRow | None:
        if request_id in self._open:
            return self._open[request_id]
        return next((r for r in reversed(self._done) if r.id == request_id), None)
