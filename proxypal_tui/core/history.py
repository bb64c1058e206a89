"""The History screen's data: rows of `GET /v0/history` (the engine reads its ledger), and the views drawn from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PERIODS = ("day", "week", "month")
GROUPS = ("provider", "model", "client")


@dataclass
class GroupTotal:
    """One provider, model or client over the whole range shown."""

    name: str
    requests: int = 0
    errors: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    worst_p95_ms: float | None = None  # the slowest period's p95 (the ledger keeps no range-wide p95 here)

    @property
    def success_rate(self) -> float | None:
        return (self.requests - self.errors) / self.requests if self.requests else None


@dataclass
class HistoryView:
    """The last answer for one (by, group); `version` counts answers so screens redraw only when it changes."""

    by: str = "day"
    group: str = "provider"
    rows: list[dict[str, Any]] = field(default_factory=list)
    version: int = 0
    error: str = ""

    def load(self, by: str, group: str, rows: list[dict[str, Any]]) -> None:
        self.by, self.group, self.rows, self.error = by, group, rows, ""
        self.version += 1

    def failed(self, error: str) -> None:
        self.error = error
        self.version += 1

    def periods(self) -> list[str]:
        return sorted({str(r.get("period")) for r in self.rows})

    def series(self, metric: str) -> dict[str, list[float]]:
        """Per group, the metric per period (0 where the group had no requests then)."""
        periods = self.periods()
        index = {p: i for i, p in enumerate(periods)}
        out: dict[str, list[float]] = {}
        for r in self.rows:
            ys = out.setdefault(str(r.get(self.group) or "-"), [0.0] * len(periods))
            ys[index[str(r.get("period"))]] += float(r.get(metric) or 0)
        return out

    def totals(self) -> list[GroupTotal]:
        """Per group over the range, most expensive first."""
        by_name: dict[str, GroupTotal] = {}
        for r in self.rows:
            name = str(r.get(self.group) or "-")
            t = by_name.setdefault(name, GroupTotal(name))
            t.requests += int(r.get("requests") or 0)
            t.errors += int(r.get("errors") or 0)
            t.tokens += int(r.get("input_tokens") or 0) + int(r.get("output_tokens") or 0)
            t.cost_usd += float(r.get("cost_usd") or 0)
            p95 = r.get("p95_latency_ms")
            if p95 is not None and (t.worst_p95_ms is None or p95 > t.worst_p95_ms):
                t.worst_p95_ms = float(p95)
        return sorted(by_name.values(), key=lambda t: (-t.cost_usd, -t.requests, t.name))
