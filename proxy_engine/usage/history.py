"""Usage history straight from the ledger: per minute, day, week or month, optionally split by provider, model
or client.

It reads SQLite (not memory), so a restart loses nothing, and the whole range the ledger holds can be asked
for. One SQL query per call, run in a thread by the caller; p95 is computed in SQL with window functions.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

PERIODS = {
    # A minute's period is the epoch second it starts at (the TUI rebuilds its per-minute charts from it).
    "minute": "CAST(ts_start / 60 AS INTEGER) * 60",
    "day": "strftime('%Y-%m-%d', ts_start, 'unixepoch', 'localtime')",
    "week": "strftime('%Y-W%W', ts_start, 'unixepoch', 'localtime')",
    "month": "strftime('%Y-%m', ts_start, 'unixepoch', 'localtime')",
}
GROUPS = {
    "": "''",
    "provider": "coalesce(provider, '-')",
    "model": "coalesce(model, model_requested, '-')",
    "client": "coalesce(client, '-')",
}
# An error is a reply with status >= 400, as in /v0/usage and the live stats: one definition everywhere.
_SQL = """
WITH rows AS (
  SELECT {period} AS period, {group} AS grp, status, latency_ms, input_tokens, output_tokens, cost_usd,
         row_number() OVER (PARTITION BY {period}, {group} ORDER BY latency_ms) AS rank,
         count(latency_ms) OVER (PARTITION BY {period}, {group}) AS timed
  FROM requests WHERE ts_start >= ? AND ts_start < ?
)
SELECT period, grp, count(*), sum(status >= 400), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
       coalesce(sum(cost_usd), 0.0),
       max(CASE WHEN latency_ms IS NOT NULL AND rank = CAST(0.95 * timed + 0.999999 AS INTEGER) THEN latency_ms END)
FROM rows GROUP BY period, grp ORDER BY period, grp
"""


@dataclass(frozen=True)
class HistoryQuery:
    by: str = "day"
    group: str = ""
    start: float = 0.0
    end: float = float("inf")

    @classmethod
    def from_params(cls, params: dict[str, str]) -> HistoryQuery:
        """Validate `by`, `group`, `from` and `to` (epoch seconds or YYYY-MM-DD, local time); ValueError says what."""
        by, group = params.get("by", "day"), params.get("group", "")
        if by not in PERIODS:
            raise ValueError(f"by must be one of {', '.join(PERIODS)}")
        if group not in GROUPS:
            raise ValueError(f"group must be one of {', '.join(g for g in GROUPS if g)} (or left out)")
        start = _instant(params["from"], "from") if params.get("from") else 0.0
        end = _instant(params["to"], "to") if params.get("to") else float("inf")
        if end <= start:
            raise ValueError("to must be after from")
        return cls(by, group, start, end)


def _instant(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.strptime(text, "%Y-%m-%d").timestamp()
    except ValueError:
        raise ValueError(f"{name} must be epoch seconds or a date like 2026-12-01, not {text!r}") from None


def query_history(ledger_file: Path, q: HistoryQuery) -> list[dict[str, Any]]:
    """One row per period (and group): requests, errors, success rate, tokens, cost, p95 latency."""
    if not ledger_file.exists():
        return []
    sql = _SQL.format(period=PERIODS[q.by], group=GROUPS[q.group])
    end = min(q.end, 1e12)  # SQLite has no infinity parameter
    conn = sqlite3.connect(f"file:{ledger_file}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute(sql, (q.start, end)).fetchall()
    finally:
        conn.close()
    return history_rows(rows, q)


def history_rows(rows: list[tuple[Any, ...]], q: HistoryQuery) -> list[dict[str, Any]]:
    """The query's rows as the API answers them (shared by the SQLite and PostgreSQL ledgers)."""
    out = []
    for period, grp, n, errors, tin, tout, cost, p95 in rows:
        errors = errors or 0
        row = {"period": period, "requests": n, "errors": errors, "success_rate": (n - errors) / n,
               "input_tokens": tin, "output_tokens": tout, "cost_usd": round(cost, 8),
               "p95_latency_ms": p95}  # fmt: skip
        if q.group:
            row[q.group] = grp
        out.append(row)
    return out
