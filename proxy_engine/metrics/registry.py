"""Counters and histograms of finished requests, by provider, model and member.

The request path only appends the finished record to a deque (`note`); the records are counted
when /metrics is scraped or once a second, whichever comes first. Label values are bounded: each
label keeps the first `MAX_VALUES` values it sees, later ones are counted as "other", so a client
that sends a thousand model names cannot make a thousand series.

The counts are plain dicts (`tally.py`); prometheus_client is loaded only when `registry` is first
read (a scrape), so an engine nobody scrapes never imports it (issue #16).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from proxy_engine.metrics.tally import CounterTally, HistogramTally

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

log = logging.getLogger("proxy_engine.metrics")
MAX_VALUES = 100
_PENDING_MAX = 100_000
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_TOKEN_FIELDS = tuple((kind, f"{kind}_tokens") for kind in ("input", "output", "cache_read", "cache_write"))
_STATUS_CLASS = {n: f"{n}xx" for n in range(1, 6)}
_LABELS_CACHED = 4096  # raw (provider, model, member) triples remembered; beyond, the labels answer each time


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


class RequestMetrics:
    def __init__(self) -> None:
        who = ("provider", "model", "member")
        self.requests = CounterTally("proxypal_requests", "Finished model requests", (*who, "status"))
        self.errors = CounterTally("proxypal_request_errors", "Model requests answered with an error (status >= 400)",
                                   (*who, "code"))  # fmt: skip
        self.tokens = CounterTally("proxypal_tokens", "Tokens used", (*who, "kind"))
        self.cost = CounterTally("proxypal_cost_usd", "Cost in US dollars (priced requests)", who)
        self.latency = HistogramTally("proxypal_request_duration_seconds", "Time from request to its last byte",
                                      ("provider", "model"), _LATENCY_BUCKETS)  # fmt: skip
        self.ttfb = HistogramTally("proxypal_time_to_first_byte_seconds",
                                   "Time from request to the reply's first byte", ("provider", "model"),
                                   _LATENCY_BUCKETS)  # fmt: skip
        self._registry: CollectorRegistry | None = None
        self._provider, self._model, self._member, self._code = (BoundedLabel() for _ in range(4))
        self._labels: dict[tuple[Any, Any, Any], tuple[str, str, str]] = {}
        self._pending: deque[dict[str, Any]] = deque()
        self.dropped = 0

    @property
    def registry(self) -> CollectorRegistry:
        """The Prometheus view of the counts, built on first use."""
        if self._registry is None:
            from proxy_engine.metrics.exposition import tally_registry

            self._registry = tally_registry((self.requests, self.errors, self.tokens, self.cost),
                                            (self.latency, self.ttfb))  # fmt: skip
        return self._registry

    def note(self, record: dict[str, Any]) -> None:
        """The request path's whole cost: one append."""
        if len(self._pending) >= _PENDING_MAX:
            self.dropped += 1
            return
        self._pending.append(record)

    def drain(self) -> None:
        pending = self._pending
        while pending:
            self._count(pending.popleft())

    def _count(self, d: dict[str, Any]) -> None:
        raw = (d.get("provider"), d.get("model") or d.get("model_requested"), d.get("member") or d.get("client"))
        who = self._who(raw)
        status = int(d.get("status") or 0)
        self.requests.inc((*who, _STATUS_CLASS.get(status // 100) or f"{status // 100}xx"))
        if status >= 400:
            err = d.get("error") or {}
            self.errors.inc((*who, self._code(err.get("code") or status)))
        for kind, name in _TOKEN_FIELDS:
            if n := d.get(name):
                self.tokens.inc((*who, kind), n)
        if cost := d.get("cost_usd"):
            self.cost.inc(who, cost)
        where = who[:2]
        if (latency := d.get("latency_ms")) is not None:
            self.latency.observe(where, latency / 1000)
        if (ttfb := d.get("ttfb_ms")) is not None:
            self.ttfb.observe(where, ttfb / 1000)

    def _who(self, raw: tuple[Any, Any, Any]) -> tuple[str, str, str]:
        """The (provider, model, member) labels of raw values, remembered: the next request usually has the same.

        Exact: a value a label has taken stays taken, and once a label is full it stays full, so what the
        labels answered for `raw` once they answer again (a record's values are text or None).
        """
        try:
            who = self._labels.get(raw)
            cache = len(self._labels) < _LABELS_CACHED
        except TypeError:  # an unhashable value in a malformed record: the labels take its text, uncached
            who, cache = None, False
        if who is None:
            who = (self._provider(raw[0]), self._model(raw[1]), self._member(raw[2]))
            if cache:
                self._labels[raw] = who
        return who

    async def drain_forever(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                self.drain()
            except (TypeError, ValueError, AttributeError):  # a malformed record: skip it, keep counting
                log.exception("a finished request could not be counted in /metrics")
