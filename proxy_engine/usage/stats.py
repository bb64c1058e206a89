"""Rolling aggregates for the `stats` event and the `hello` snapshot; bounded memory."""

from __future__ import annotations

import time
from collections import Counter, deque
from typing import Any

from proxy_engine.protocol import Stats


class RollingStats:
    def __init__(self) -> None:
        self.since = time.time()
        self.requests = self.errors = self.in_flight = 0
        self.input_tokens = self.output_tokens = 0
        self.cost_usd = 0.0
        self._latency_sum = 0.0
        self._latencies: deque[float] = deque(maxlen=2000)
        self._minutes: deque[list[float]] = deque(maxlen=60)
        self.by_provider: Counter[str] = Counter()
        self.by_model: Counter[str] = Counter()
        self.recent: deque[dict[str, Any]] = deque(maxlen=200)
        self.dirty = False

    def add(self, rec: dict[str, Any]) -> None:
        self.requests += 1
        if rec["status"] >= 400:
            self.errors += 1
        tokens = (rec["input_tokens"] or 0) + (rec["output_tokens"] or 0)
        self.input_tokens += rec["input_tokens"] or 0
        self.output_tokens += rec["output_tokens"] or 0
        cost = rec["cost_usd"] or 0.0
        self.cost_usd += cost
        self._latency_sum += rec["latency_ms"]
        self._latencies.append(rec["latency_ms"])
        if rec["provider"]:
            self.by_provider[rec["provider"]] += 1
        self.by_model[rec["model"] or rec["model_requested"] or "-"] += 1
        minute = int(rec["ts_start"] // 60 * 60)
        if not self._minutes or self._minutes[-1][0] != minute:
            self._minutes.append([minute, 0, 0, 0.0])
        bucket = self._minutes[-1]
        bucket[1] += 1
        bucket[2] += tokens
        bucket[3] += cost
        self.recent.append(rec)
        self.dirty = True

    def payload(self) -> Stats:
        """The `stats` event."""
        lat = sorted(self._latencies)
        p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))] if lat else 0.0
        return Stats(
            since=self.since,
            requests=self.requests,
            errors=self.errors,
            in_flight=self.in_flight,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cost_usd=round(self.cost_usd, 6),
            avg_latency_ms=round(self._latency_sum / self.requests, 1) if self.requests else 0.0,
            p95_latency_ms=round(p95, 1),
            error_rate=round(self.errors / self.requests, 4) if self.requests else 0.0,
            by_provider=dict(self.by_provider),
            by_model=dict(self.by_model.most_common(20)),
            per_minute=[list(b) for b in self._minutes],
        )

    def snapshot(self) -> dict[str, Any]:
        return self.payload().to_dict()
