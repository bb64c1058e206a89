"""Agent sessions from the ledger: one summary row per session, and one session's requests.

Read from SQLite (not memory), so a restart loses no session. Each function is one query, run in a
thread by the caller (`management.py`); the partial `requests_session_set` index keeps both cheap.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from proxy_engine.usage.ledger import COLUMNS, from_row

# The agent and client are those of the session's latest request; models are the distinct ones it used.
_SUMMARY_SQL = """
SELECT session, count(*), sum(status >= 400), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
       coalesce(sum(cache_read_tokens), 0), sum(cost_usd), min(ts_start), max(ts_start),
       (SELECT agent FROM requests r2 WHERE r2.session = r.session ORDER BY ts_start DESC LIMIT 1),
       (SELECT client FROM requests r2 WHERE r2.session = r.session ORDER BY ts_start DESC LIMIT 1),
       group_concat(DISTINCT coalesce(model, model_requested))
FROM requests r WHERE session IS NOT NULL AND ts_start >= ?
GROUP BY session ORDER BY max(ts_start) DESC LIMIT ?
"""
_NAMES = ("session", "requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens", "cost_usd",
          "first_seen", "last_seen", "agent", "client", "models")  # fmt: skip


def _open(ledger_file: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{ledger_file}?mode=ro", uri=True, timeout=10)


def query_sessions(ledger_file: Path, since: float = 0.0, limit: int = 200) -> list[dict[str, Any]]:
    """The latest sessions first: requests, errors, tokens, cost, models, agent, first and last seen."""
    if not ledger_file.exists():
        return []
    conn = _open(ledger_file)
    try:
        rows = conn.execute(_SUMMARY_SQL, (since, limit)).fetchall()
    finally:
        conn.close()
    return session_rows(rows)


def session_rows(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The summary query's rows as the API answers them (shared with the PostgreSQL ledger)."""
    out = []
    for row in rows:
        d = dict(zip(_NAMES, row, strict=True))
        d["models"] = sorted(m for m in (d["models"] or "").split(",") if m)  # one order on both backends
        d["errors"] = d["errors"] or 0
        out.append(d)
    return out


def query_session_requests(ledger_file: Path, session: str, limit: int = 500) -> list[dict[str, Any]]:
    """One session's requests, newest first, as the records `/v0/requests` gives."""
    if not ledger_file.exists():
        return []
    sql = f"SELECT {','.join(COLUMNS)} FROM requests WHERE session = ? ORDER BY ts_start DESC LIMIT ?"
    conn = _open(ledger_file)
    try:
        rows = conn.execute(sql, (session, limit)).fetchall()
    finally:
        conn.close()
    return [from_row(row) for row in rows]
