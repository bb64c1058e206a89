"""What the dashboard shows, computed from `stats` events, the usage ledger and the feed.

Pure functions over plain data so they can be checked without a terminal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from proxy_engine.protocol import Stats
from proxypal_tui.core.feed import FeedRow


@dataclass(frozen=True)
class Kpis:
    """One row of tiles: requests, tokens, cost, average and p95 latency, error rate."""

    requests: int | None = None
    tokens: int | None = None
    cost_usd: float | None = None
    avg_latency_ms: float | None = None
    p95_latency_ms: float | None = None
    error_rate: float | None = None


def error_rate(requests: int, errors: int) -> float | None:
    """The one definition both rows of tiles use: replies with status >= 400 over all replies, None ("—")
    when there were none (the engine's and the ledger's `errors` both count status >= 400)."""
    return errors / requests if requests else None


def kpis_from_stats(stats: Stats | None) -> Kpis:
    if stats is None:
        return Kpis()
    return Kpis(
        requests=stats.requests,
        tokens=stats.input_tokens + stats.output_tokens,
        cost_usd=stats.cost_usd,
        avg_latency_ms=stats.avg_latency_ms,
        p95_latency_ms=stats.p95_latency_ms,
        error_rate=error_rate(stats.requests, stats.errors),
    )


def kpis_from_usage_row(row: dict[str, Any] | None, p95_ms: float | None = None) -> Kpis:
    """Today's tiles from a `/v0/usage?group=day` row (the ledger has no p95: the feed supplies it)."""
    if not row:
        return Kpis(requests=0, tokens=0, cost_usd=0.0, error_rate=None, p95_latency_ms=p95_ms)
    requests = int(row.get("requests") or 0)
    errors = int(row.get("errors") or 0)
    return Kpis(
        requests=requests,
        tokens=int(row.get("input_tokens") or 0) + int(row.get("output_tokens") or 0),
        cost_usd=row.get("cost_usd"),
        avg_latency_ms=row.get("avg_latency_ms"),
        p95_latency_ms=p95_ms,
        error_rate=error_rate(requests, errors),
    )


def p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Series:
    """Per-minute series for the sparklines and charts, oldest first, one value per minute."""

    minutes: list[float] = field(default_factory=list)
    requests: list[float] = field(default_factory=list)
    tokens: list[float] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)


def per_minute_series(
    stats: Stats | None, now: float, span: int = 60, ledger: dict[int, tuple[float, float, float]] | None = None
) -> Series:
    """Fill the gaps in `stats.per_minute` with zeros so the x axis is regular.

    `ledger` (minute -> requests, tokens, cost) covers minutes before the engine started: per minute the
    larger of the two counts wins (the ledger holds a restarted engine's earlier rows, the stats the
    rows it has not committed yet).
    """
    rows = {int(r[0]) // 60 * 60: r for r in (stats.per_minute if stats else []) if len(r) >= 4}
    end = int(now) // 60 * 60
    minutes = [float(end - 60 * i) for i in range(span - 1, -1, -1)]
    empty = (0, 0, 0, 0.0)
    picked = [rows.get(int(m), empty) for m in minutes]
    if ledger:
        picked = [
            (m, *(max(float(a or 0), float(b)) for a, b in zip(r[1:4], ledger.get(int(m), (0, 0, 0.0)), strict=True)))
            for m, r in zip(minutes, picked, strict=True)
        ]
    return Series(
        minutes=minutes,
        requests=[float(r[1]) for r in picked],
        tokens=[float(r[2]) for r in picked],
        cost=[float(r[3] or 0.0) for r in picked],
    )


def latency_per_minute(records: list[FeedRow], now: float, span: int = 60) -> tuple[list[float], list[float]]:
    """Average and p95 latency per minute over the last `span` minutes (0 where idle)."""
    end = int(now) // 60 * 60
    start = end - 60 * (span - 1)
    buckets: list[list[float]] = [[] for _ in range(span)]
    for rec in records:
        if rec.latency_ms is None:
            continue
        idx = (int(rec.ts_start) // 60 * 60 - start) // 60
        if 0 <= idx < span:
            buckets[idx].append(float(rec.latency_ms))
    avg = [sum(b) / len(b) if b else 0.0 for b in buckets]
    high = [p95(b) or 0.0 for b in buckets]
    return avg, high


def cost_per_hour(rows: list[dict[str, Any]], now: float, hours: int = 24) -> tuple[list[float], list[float]]:
    """`/v0/usage?group=hour` rows -> (hour epochs, cost) for the last `hours`, gaps filled."""
    by_key: dict[int, float] = {}
    for row in rows:
        hour = _hour_epoch(row.get("key"))
        if hour is not None:
            by_key[hour] = by_key.get(hour, 0.0) + float(row.get("cost_usd") or 0.0)
    end = int(now) // 3600 * 3600
    hours_list = [float(end - 3600 * i) for i in range(hours - 1, -1, -1)]
    return hours_list, [by_key.get(int(h), 0.0) for h in hours_list]


def _hour_epoch(key: Any) -> int | None:
    """Hour keys may be epochs or 'YYYY-MM-DD HH' / 'YYYY-MM-DDTHH:00' local strings."""
    if isinstance(key, int | float):
        return int(key) // 3600 * 3600
    if not isinstance(key, str):
        return None
    text = key.replace("T", " ")[:13]
    try:
        return int(time.mktime(time.strptime(text, "%Y-%m-%d %H")))
    except ValueError:
        return int(float(key)) // 3600 * 3600 if key.replace(".", "", 1).isdigit() else None


@dataclass(frozen=True)
class Share:
    name: str
    count: int
    ratio: float


def distribution(counts: dict[str, int] | None, top: int = 5) -> list[Share]:
    """Largest first; the rest folded into 'other'."""
    items = sorted((counts or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    total = sum(c for _, c in items) or 1
    shown = items[:top]
    rest = sum(c for _, c in items[top:])
    out = [Share(name, c, c / total) for name, c in shown]
    if rest:
        out.append(Share("other", rest, rest / total))
    return out


@dataclass(frozen=True)
class BudgetUse:
    label: str
    spent: float
    limit: float

    @property
    def ratio(self) -> float:
        return self.spent / self.limit if self.limit else 0.0


def budget_uses(budgets: dict[str, Any] | None, today_cost: float, month_cost: float) -> list[BudgetUse]:
    out = []
    if budgets and budgets.get("daily_usd"):
        out.append(BudgetUse("Daily", today_cost, float(budgets["daily_usd"])))
    if budgets and budgets.get("monthly_usd"):
        out.append(BudgetUse("Monthly", month_cost, float(budgets["monthly_usd"])))
    return out


def month_cost(day_rows: list[dict[str, Any]], now: float) -> float:
    prefix = time.strftime("%Y-%m", time.localtime(now))
    return sum(float(r.get("cost_usd") or 0.0) for r in day_rows if str(r.get("key", "")).startswith(prefix))
