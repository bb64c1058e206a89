"""The usage ledger: one SQLite row per request, written in batches off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

from proxy_engine.paths import private_sqlite_files

log = logging.getLogger("proxy_engine.ledger")

COLUMNS = (
    "id", "ts_start", "client", "agent", "dialect_in", "dialect_out", "model_requested", "provider", "model",
    "stream", "status", "latency_ms", "ttfb_ms", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "cost_usd", "attempts", "error", "credential",
)  # fmt: skip
# Columns added after the first release, created on open in ledgers written before them.
_ADDED = {"credential": "TEXT"}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
  id TEXT PRIMARY KEY, ts_start REAL NOT NULL, client TEXT, agent TEXT, dialect_in TEXT, dialect_out TEXT,
  model_requested TEXT, provider TEXT, model TEXT, stream INTEGER, status INTEGER, latency_ms REAL, ttfb_ms REAL,
  input_tokens INTEGER, output_tokens INTEGER, cache_read_tokens INTEGER, cache_write_tokens INTEGER,
  cost_usd REAL, attempts INTEGER, error TEXT);
CREATE INDEX IF NOT EXISTS requests_ts ON requests(ts_start);
"""
_INSERT = f"INSERT OR REPLACE INTO requests ({','.join(COLUMNS)}) VALUES ({','.join('?' * len(COLUMNS))})"
_GROUPS = {
    "hour": "strftime('%Y-%m-%d %H:00', ts_start, 'unixepoch', 'localtime')",
    "day": "strftime('%Y-%m-%d', ts_start, 'unixepoch', 'localtime')",
    "provider": "coalesce(provider, '-')",
    "model": "coalesce(model, model_requested, '-')",
}


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, timeout=10)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(_SCHEMA)
    have = {row[1] for row in conn.execute("PRAGMA table_info(requests)")}
    for name, kind in _ADDED.items():
        if name not in have:
            conn.execute(f"ALTER TABLE requests ADD COLUMN {name} {kind}")
    return conn


class CostLedger:
    """Appends are O(1) on the loop; a background task flushes batches in a worker thread."""

    def __init__(self, path: Path, flush_interval: float = 0.25):
        self.path = path
        self._interval = flush_interval
        self._pending: list[tuple[Any, ...]] = []
        self._conn: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        self._conn = await asyncio.to_thread(_connect, self.path)
        await asyncio.to_thread(private_sqlite_files, self.path)  # SQLite gives -wal/-shm the db's mode
        self._task = asyncio.create_task(self._run(), name="ledger-writer")

    def append(self, record: dict[str, Any]) -> None:
        err = record.get("error")
        row = tuple(json.dumps(err) if k == "error" and err else record.get(k) for k in COLUMNS)
        self._pending.append(row)
        if len(self._pending) >= 500:
            self._wake.set()

    async def flush(self) -> None:
        async with self._lock:
            batch, self._pending = self._pending, []
            if batch and self._conn is not None:
                await asyncio.to_thread(self._write, batch)

    def _write(self, batch: list[tuple[Any, ...]]) -> None:
        """One transaction for the batch; if a row cannot be stored, the others still are."""
        assert self._conn is not None
        try:
            with self._conn:
                self._conn.executemany(_INSERT, batch)
        except sqlite3.OperationalError:
            raise  # locked or disk trouble: not the rows' fault
        except (sqlite3.Error, ValueError, OverflowError) as e:
            log.warning("ledger batch refused (%s); writing its rows one by one", type(e).__name__)
            for row in batch:
                try:
                    with self._conn:
                        self._conn.execute(_INSERT, row)
                except (sqlite3.IntegrityError, sqlite3.InterfaceError, ValueError, OverflowError):
                    log.exception("ledger row %s cannot be stored; skipped", row[0])

    async def _run(self) -> None:
        """Never ends before close: a failed flush is logged and the next one tries again."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("ledger write failed; its rows are lost, the writer goes on")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.flush()
        if self._conn is not None:
            await asyncio.to_thread(self._conn.close)
            self._conn = None

    # ---- queries (management API), each on its own connection in a thread ----
    async def recent(self, limit: int) -> list[dict[str, Any]]:
        await self.flush()
        return await asyncio.to_thread(self._query_recent, limit)

    def _query_recent(self, limit: int) -> list[dict[str, Any]]:
        with _connect(self.path) as conn:
            rows = conn.execute(
                f"SELECT {','.join(COLUMNS)} FROM requests ORDER BY ts_start DESC LIMIT ?", (limit,)
            ).fetchall()
        out = []
        for row in rows:
            rec = dict(zip(COLUMNS, row, strict=True))
            rec["stream"] = bool(rec["stream"])
            rec["error"] = json.loads(rec["error"]) if rec["error"] else None
            out.append(rec)
        return out

    async def usage(self, group: str, since: float | None) -> list[dict[str, Any]]:
        if group not in _GROUPS:
            raise ValueError(f"group must be one of {', '.join(_GROUPS)}")
        await self.flush()
        return await asyncio.to_thread(self._query_usage, _GROUPS[group], since or 0.0)

    def _query_usage(self, key_sql: str, since: float) -> list[dict[str, Any]]:
        sql = f"""SELECT {key_sql} AS k, count(*), sum(status >= 400), sum(input_tokens), sum(output_tokens),
                  sum(cache_read_tokens), sum(cache_write_tokens), sum(cost_usd), count(cost_usd), avg(latency_ms)
                  FROM requests WHERE ts_start >= ? GROUP BY k ORDER BY k"""
        names = ("key", "requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens",
                 "cache_write_tokens", "cost_usd", "priced_requests", "avg_latency_ms")  # fmt: skip
        with _connect(self.path) as conn:
            rows = conn.execute(sql, (since,)).fetchall()
        return [{n: (v if v is not None else 0) for n, v in zip(names, r, strict=True)} for r in rows]

    async def spend_by_client(self, since: float) -> dict[str, float]:
        """Priced spend per client since an epoch (budgets are rebuilt from this at startup)."""
        await self.flush()
        return await asyncio.to_thread(self._query_spend, since)

    def _query_spend(self, since: float) -> dict[str, float]:
        sql = "SELECT coalesce(client, ''), sum(cost_usd) FROM requests WHERE ts_start >= ? GROUP BY 1"
        with _connect(self.path) as conn:
            return {c: float(v or 0.0) for c, v in conn.execute(sql, (since,)).fetchall()}
