"""Counters and histograms of finished requests, by provider, model and member.

The request path only appends the finished record to a deque (`note`); the records are counted
when /metrics is scraped or once a second, whichever comes first. Label values are bounded: each
label keeps the first `MAX_VALUES` values it sees, later ones are counted as "other", so a client
that sends a thousand model names cannot make a thousand series.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, NamedTuple

from prometheus_client import CollectorRegistry, Counter, Histogram

log = logging.getLogger("proxy_engine.metrics")
MAX_VALUES = 100
_PENDING_MAX = 100_000
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_TOKEN_KINDS = ("input", "output", "cache_read", "cache_write")
_TOKEN_FIELDS = tuple(f"{kind}_tokens" for kind in _TOKEN_KINDS)


class BoundedLabel:
    """The first `limit` distinct values of one label, then "other"."""

    def __init__(self, limit: int = MAX_VALUES) -> None:
        self.limit = limit
        self.seen: set[str] = set()

    def __call__(self, value: object) -> str:
        text = str(value) if value not in (None, "") else "-"
        if text in self.seen:
            return text
        if len(self.seen) < self.limit:
            self.seen.add(text)
            return text
        return "other"


class _Series(NamedTuple):
    """One (provider, model, member)'s metric children; label values are bounded, so these are too."""

    tokens: tuple[Any, ...]
    cost: Any
    latency: Any
    ttfb: Any


class RequestMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        who = ("provider", "model", "member")
        self.requests = Counter("proxypal_requests", "Finished model requests", (*who, "status"), registry=r)
        self.errors = Counter("proxypal_request_errors", "Model requests answered with an error (status >= 400)",
                              (*who, "code"), registry=r)  # fmt: skip
        self.tokens = Counter("proxypal_tokens", "Tokens used", (*who, "kind"), registry=r)
        self.cost = Counter("proxypal_cost_usd", "Cost in US dollars (priced requests)", who, registry=r)
        self.latency = Histogram("proxypal_request_duration_seconds", "Time from request to its last byte",
                                 ("provider", "model"), buckets=_LATENCY_BUCKETS, registry=r)  # fmt: skip
        self.ttfb = Histogram("proxypal_time_to_first_byte_seconds", "Time from request to the reply's first byte",
                              ("provider", "model"), buckets=_LATENCY_BUCKETS, registry=r)  # fmt: skip
        self._provider, self._model, self._member, self._code = (BoundedLabel() for _ in range(4))
        self._pending: deque[dict[str, Any]] = deque()
        self.dropped = 0
        # Each label set's children, looked up once: `labels()` costs more than the count itself.
        self._series: dict[tuple[str, str, str], _Series] = {}
        self._status_series: dict[tuple[str, str, str, int], Any] = {}

    def note(self, record: dict[str, Any]) -> None:
        """The request path's whole cost: one append."""
        if len(self._pending) >= _PENDING_MAX:
            self.dropped += 1
            return
        self._pending.append(record)

    def drain(self) -> None:
        """Count what finished since the last drain. Counter amounts are summed per series first and added
        once each (a prometheus `inc` takes a lock and checks, about 4 us); histograms observe each value."""
        pending = self._pending
        sums: dict[Any, float] = {}
        try:
            while pending:
                self._count(pending.popleft(), sums)
        finally:
            for counter, amount in sums.items():
                counter.inc(amount)

    def _count(self, d: dict[str, Any], sums: dict[Any, float]) -> None:
        provider, model = self._provider(d.get("provider")), self._model(d.get("model") or d.get("model_requested"))
        member = self._member(d.get("member") or d.get("client"))
        status = int(d.get("status") or 0)
        key = (provider, model, member)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = self._new_series(key)
        status_key = (provider, model, member, status // 100)
        requests = self._status_series.get(status_key)
        if requests is None:
            requests = self._status_series[status_key] = self.requests.labels(*key, f"{status // 100}xx")
        sums[requests] = sums.get(requests, 0) + 1
        if status >= 400:
            err = d.get("error") or {}
            errors = self.errors.labels(*key, self._code(err.get("code") or status))
            sums[errors] = sums.get(errors, 0) + 1
        for name, counter in zip(_TOKEN_FIELDS, series.tokens, strict=True):
            if n := d.get(name):
                sums[counter] = sums.get(counter, 0) + n
        if cost := d.get("cost_usd"):
            sums[series.cost] = sums.get(series.cost, 0.0) + cost
        if (latency := d.get("latency_ms")) is not None:
            series.latency.observe(latency / 1000)
        if (ttfb := d.get("ttfb_ms")) is not None:
            series.ttfb.observe(ttfb / 1000)

    def _new_series(self, key: tuple[str, str, str]) -> _Series:
        provider, model, _ = key
        return _Series(
            tuple(self.tokens.labels(*key, kind) for kind in _TOKEN_KINDS),
            self.cost.labels(*key),
            self.latency.labels(provider, model),
            self.ttfb.labels(provider, model),
        )

    async def drain_forever(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                self.drain()
            except (TypeError, ValueError, AttributeError):  # a malformed record: skip it, keep counting
                log.exception("a finished request could not be counted in /metrics")
