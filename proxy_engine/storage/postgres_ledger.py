"""The usage ledger in PostgreSQL: the same columns and answers as the SQLite file.

Columns come from `usage/ledger.py` (`COLUMNS`, and `_ADDED` for later ones, added in place here
too), so a column added there lands in both backends. Values are coerced to the column's type
(PostgreSQL is strict where SQLite is not; NUL, which PostgreSQL text refuses, becomes U+FFFD).
Grouping by hour, day, week and month uses the session's time zone, set to the engine's local
one (`postgres_database.local_zone`), so periods match the SQLite ledger's `'localtime'`.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proxy_engine.storage.errors import StorageUnavailable
from proxy_engine.storage.ledger_store import Row
from proxy_engine.storage.postgres_database import PostgresDatabase, row_refused, statement_failed
from proxy_engine.usage.history import GROUPS as HISTORY_GROUPS
from proxy_engine.usage.history import HistoryQuery, history_rows
from proxy_engine.usage.journal import RecordJournal
from proxy_engine.usage.ledger import _ADDED, _ADDED_INDEXES, COLUMNS, from_row, journal_row
from proxy_engine.usage.sessions import session_rows

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger("proxy_engine.ledger")
_PG_TYPES = {"TEXT": "TEXT", "INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION"}
_REAL = {"ts_start", "latency_ms", "ttfb_ms", "cost_usd"}
_TEXT = {"id", "client", "agent", "dialect_in", "dialect_out", "model_requested", "provider", "model", "error",
         "credential", "member", "team"}  # fmt: skip
_INSERT = (f"INSERT INTO requests ({','.join(COLUMNS)}) VALUES ({','.join(f'${i + 1}' for i in range(len(COLUMNS)))})"
           " ON CONFLICT (id) DO NOTHING")  # fmt: skip
_TS = "to_timestamp(ts_start)"
_GROUPS = {
    "hour": f"to_char({_TS}, 'YYYY-MM-DD HH24:00')",
    "day": f"to_char({_TS}, 'YYYY-MM-DD')",
    "provider": "coalesce(provider, '-')",
    "model": "coalesce(model, model_requested, '-')",
    "member": "coalesce(member, '-')",
    "team": "coalesce(team, '-')",
}
# SQLite's strftime('%Y-W%W'): weeks start on Monday, days before the year's first Monday are week 00.
_PERIODS = {
    "day": f"to_char({_TS}, 'YYYY-MM-DD')",
    "week": f"to_char({_TS}, 'YYYY') || '-W' || lpad(((extract(doy from {_TS})::int + 7 "
            f"- extract(isodow from {_TS})::int) / 7)::text, 2, '0')",
    "month": f"to_char({_TS}, 'YYYY-MM')",
}  # fmt: skip
# The SQLite query of `usage/history.py`, in PostgreSQL: NULL latencies sort first there, as in SQLite.
_HISTORY = """
WITH r AS (
  SELECT {period} AS period, {group} AS grp, status, latency_ms, input_tokens, output_tokens, cost_usd,
         row_number() OVER (PARTITION BY {period}, {group} ORDER BY latency_ms NULLS FIRST) AS rk,
         count(latency_ms) OVER (PARTITION BY {period}, {group}) AS timed
  FROM requests WHERE ts_start >= $1 AND ts_start < $2
)
SELECT period, grp, count(*), sum((status >= 400)::int), coalesce(sum(input_tokens), 0)::bigint,
       coalesce(sum(output_tokens), 0)::bigint, coalesce(sum(cost_usd), 0.0),
       max(CASE WHEN latency_ms IS NOT NULL AND rk = floor(0.95 * timed + 0.999999)::bigint THEN latency_ms END)
FROM r GROUP BY period, grp ORDER BY period, grp
"""


# `usage/sessions.py`'s summary in PostgreSQL (the same columns; models sorted, joined by commas).
_SESSIONS = """
SELECT session, count(*), sum((status >= 400)::int), coalesce(sum(input_tokens), 0)::bigint,
       coalesce(sum(output_tokens), 0)::bigint, coalesce(sum(cache_read_tokens), 0)::bigint, sum(cost_usd),
       min(ts_start), max(ts_start),
       (SELECT agent FROM requests r2 WHERE r2.session = r.session ORDER BY ts_start DESC LIMIT 1),
       (SELECT client FROM requests r2 WHERE r2.session = r.session ORDER BY ts_start DESC LIMIT 1),
       string_agg(DISTINCT coalesce(model, model_requested), ',')
FROM requests r WHERE session IS NOT NULL AND ts_start >= $1
GROUP BY session ORDER BY max(ts_start) DESC LIMIT $2
"""


def _coerce(name: str, v: Any) -> Any:  # noqa: ANN401  (a ledger value)
    if v is None:
        return None
    if name in _TEXT:
        return str(v).replace("\x00", "\ufffd")
    if name in _REAL:
        return float(v)
    if name in _ADDED:
        kind = _ADDED[name]
        return float(v) if kind == "REAL" else int(v) if kind == "INTEGER" else str(v).replace("\x00", "\ufffd")
    return int(v)


def pg_row(row: Row) -> Row:
    return tuple(_coerce(name, v) for name, v in zip(COLUMNS, row, strict=True))


class PostgresLedgerStore:
    backend = "postgres"

    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db
        db.after_migrate(self._add_columns)

    @staticmethod
    async def _add_columns(conn: asyncpg.Connection) -> None:
        for name, kind in _ADDED.items():
            await conn.execute(f"ALTER TABLE requests ADD COLUMN IF NOT EXISTS {name} {_PG_TYPES.get(kind, kind)}")
        for index in filter(None, (s.strip() for s in _ADDED_INDEXES.split(";"))):
            await conn.execute(index)  # `CREATE INDEX IF NOT EXISTS ...`: the same SQL in both databases

    async def open(self) -> None:
        return None  # the database opens (and migrates) through `Storage`

    async def commit(self, batch: list[Row], segments: list[Path], from_disk: bool) -> None:
        rows = [pg_row(r) for r in batch]
        if from_disk:
            rows += [pg_row(r) for r in await asyncio.to_thread(_segment_rows, segments)]
        if rows:
            try:
                await self._insert(rows)
            except StorageUnavailable:
                raise
            except statement_failed() as e:  # e.g. a permission: the rows wait (with backoff) for a fix
                raise StorageUnavailable(self.db.scrub(f"PostgreSQL refused the ledger batch: {type(e).__name__}: "
                                                       f"{e}")) from None  # fmt: skip
        await asyncio.to_thread(RecordJournal.discard, segments)

    async def _insert(self, rows: list[Row]) -> None:
        if rows:
            async with self.db.connection() as conn:
                try:
                    async with conn.transaction():
                        await conn.executemany(_INSERT, rows)
                except row_refused() as e:
                    log.warning("ledger batch refused (%s); writing its rows one by one", type(e).__name__)
                    for row in rows:
                        try:
                            await conn.execute(_INSERT, *row)  # ON CONFLICT: rows already in are not written twice
                        except row_refused():
                            log.exception("ledger row %s cannot be stored; skipped", row[0])

    async def recent(self, limit: int) -> list[dict[str, Any]]:
        rows = await self.db.fetch(f"SELECT {','.join(COLUMNS)} FROM requests ORDER BY ts_start DESC LIMIT ?", limit)
        return [from_row(row) for row in rows]

    async def usage(self, group: str, since: float) -> list[dict[str, Any]]:
        sql = f"""SELECT {_GROUPS[group]} AS k, count(*), sum((status >= 400)::int), sum(input_tokens)::bigint,
                  sum(output_tokens)::bigint, sum(cache_read_tokens)::bigint, sum(cache_write_tokens)::bigint,
                  sum(cost_usd), count(cost_usd), avg(latency_ms)
                  FROM requests WHERE ts_start >= ? GROUP BY k ORDER BY k"""
        names = ("key", "requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens",
                 "cache_write_tokens", "cost_usd", "priced_requests", "avg_latency_ms")  # fmt: skip
        rows = await self.db.fetch(sql, float(since))
        return [{n: (v if v is not None else 0) for n, v in zip(names, r, strict=True)} for r in rows]

    async def spend_by_client(self, since: float) -> dict[str, float]:
        sql = "SELECT coalesce(client, ''), sum(cost_usd) FROM requests WHERE ts_start >= ? GROUP BY 1"
        return {c: float(v or 0.0) for c, v in await self.db.fetch(sql, float(since))}

    async def history(self, q: HistoryQuery) -> list[dict[str, Any]]:
        sql = _HISTORY.format(period=_PERIODS[q.by], group=HISTORY_GROUPS[q.group])
        async with self.db.connection() as conn:
            rows = await conn.fetch(sql, float(q.start), float(min(q.end, 1e12)))
        return history_rows([tuple(r) for r in rows], q)

    async def sessions(self, since: float, limit: int) -> list[dict[str, Any]]:
        return session_rows(await self.db.fetch(_SESSIONS, float(since), int(limit)))

    async def session_requests(self, session: str, limit: int) -> list[dict[str, Any]]:
        sql = f"SELECT {','.join(COLUMNS)} FROM requests WHERE session = ? ORDER BY ts_start DESC LIMIT ?"
        return [from_row(row) for row in await self.db.fetch(sql, session, int(limit))]

    async def close(self) -> None:
        return None  # the pool is closed by `Storage`


def _segment_rows(segments: list[Path]) -> list[Row]:
    return [journal_row(r) for seg in segments for r in RecordJournal.read(seg)]
