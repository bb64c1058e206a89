"""The agent-session queries of `sessions.py` on the configured storage, so `/v0/sessions` and
`/v0/requests?session=` read PostgreSQL in team mode (every replica's rows) and the ledger file otherwise.

Portable SQL (`storage/database.py`): the models of each session come from a second grouped query
rather than SQLite's `group_concat`, in the order the session first used them.
"""

from __future__ import annotations

from typing import Any

from proxy_engine.storage.database import Database
from proxy_engine.usage.ledger import COLUMNS, from_row

_SUMMARY = """
SELECT session, count(*), sum(CASE WHEN status >= 400 THEN 1 ELSE 0 END),
       CAST(coalesce(sum(input_tokens), 0) AS BIGINT), CAST(coalesce(sum(output_tokens), 0) AS BIGINT),
       CAST(coalesce(sum(cache_read_tokens), 0) AS BIGINT), sum(cost_usd), min(ts_start), max(ts_start),
       (SELECT agent FROM requests r2 WHERE r2.session = r.session ORDER BY ts_start DESC LIMIT 1),
       (SELECT client FROM requests r2 WHERE r2.session = r.session ORDER BY ts_start DESC LIMIT 1)
FROM requests r WHERE session IS NOT NULL AND ts_start >= ?
GROUP BY session ORDER BY max(ts_start) DESC LIMIT ?
"""
_NAMES = ("session", "requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens", "cost_usd",
          "first_seen", "last_seen", "agent", "client")  # fmt: skip


async def sessions_from(db: Database, since: float = 0.0, limit: int = 200) -> list[dict[str, Any]]:
    """The latest sessions first: requests, errors, tokens, cost, models, agent, first and last seen."""
    rows = await db.fetch(_SUMMARY, float(since), int(limit))
    out = [dict(zip(_NAMES, row, strict=True)) for row in rows]
    if not out:
        return []
    marks = ",".join("?" * len(out))
    models: dict[str, list[str]] = {}
    sql = (f"SELECT session, coalesce(model, model_requested) AS m, min(ts_start) FROM requests WHERE session IN "
           f"({marks}) AND ts_start >= ? GROUP BY session, m ORDER BY min(ts_start)")  # fmt: skip
    for session, model, _first in await db.fetch(sql, *(d["session"] for d in out), float(since)):
        if model:
            models.setdefault(session, []).append(model)
    for d in out:
        d["errors"] = int(d["errors"] or 0)
        d["models"] = models.get(d["session"], [])
    return out


async def session_requests_from(db: Database, session: str, limit: int = 500) -> list[dict[str, Any]]:
    """One session's requests, newest first, as the records `/v0/requests` gives."""
    sql = f"SELECT {','.join(COLUMNS)} FROM requests WHERE session = ? ORDER BY ts_start DESC LIMIT ?"
    return [from_row(row) for row in await db.fetch(sql, session, int(limit))]
