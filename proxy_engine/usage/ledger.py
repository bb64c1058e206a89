"""The usage ledger: one SQLite row per request, written in batches off the event loop.

Nothing recorded is lost: each record is journaled (`journal.py`) as it finishes, a batch stays
in memory until SQLite has committed it, a failed write is retried with backoff, and the state
of all this is reported by `health()` (in `/v0/status` and the `stats`/`hello` events).
The database is a `LedgerStore` (`storage/ledger_store.py`): this file's SQLite one by default,
PostgreSQL's in team mode; batching, the journal and retries here are the same for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

from proxy_engine.paths import private_sqlite_files
from proxy_engine.storage.errors import StorageUnavailable
from proxy_engine.storage.ledger_store import LedgerStore
from proxy_engine.usage.history import HistoryQuery, query_history
from proxy_engine.usage.journal import RecordJournal

log = logging.getLogger("proxy_engine.ledger")
COLUMNS = (
    "id", "ts_start", "client", "agent", "dialect_in", "dialect_out", "model_requested", "provider", "model",
    "stream", "status", "latency_ms", "ttfb_ms", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "cost_usd", "attempts", "error", "credential", "session", "paid_fallback", "member", "team",
)  # fmt: skip
# Columns added after the first release, created on open in ledgers written before them.
_ADDED = {"credential": "TEXT", "session": "TEXT", "paid_fallback": "INTEGER", "member": "TEXT", "team": "TEXT"}
# Indexes on added columns, created once the columns exist (the same SQL in SQLite and PostgreSQL). Most rows
# have no session and no member, so the indexes hold only the rows that do (an insert without one skips them);
# `col = ?` and `col IS NOT NULL` use them. They replace the full indexes of the same columns that older ledgers have.
_ADDED_INDEXES = """DROP INDEX IF EXISTS requests_session;
DROP INDEX IF EXISTS requests_member;
CREATE INDEX IF NOT EXISTS requests_session_set ON requests(session, ts_start) WHERE session IS NOT NULL;
CREATE INDEX IF NOT EXISTS requests_member_set ON requests(member, ts_start) WHERE member IS NOT NULL;"""
_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
  id TEXT PRIMARY KEY, ts_start REAL NOT NULL, client TEXT, agent TEXT, dialect_in TEXT, dialect_out TEXT,
  model_requested TEXT, provider TEXT, model TEXT, stream INTEGER, status INTEGER, latency_ms REAL, ttfb_ms REAL,
  input_tokens INTEGER, output_tokens INTEGER, cache_read_tokens INTEGER, cache_write_tokens INTEGER,
  cost_usd REAL, attempts INTEGER, error TEXT);
CREATE INDEX IF NOT EXISTS requests_ts ON requests(ts_start);
"""
_INSERT = f"INSERT OR IGNORE INTO requests ({','.join(COLUMNS)}) VALUES ({','.join('?' * len(COLUMNS))})"
_GROUPS = {
    "hour": "strftime('%Y-%m-%d %H:00', ts_start, 'unixepoch', 'localtime')",
    "day": "strftime('%Y-%m-%d', ts_start, 'unixepoch', 'localtime')",
    "provider": "coalesce(provider, '-')",
    "model": "coalesce(model, model_requested, '-')",
    "member": "coalesce(member, '-')",
    "team": "coalesce(team, '-')",
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
    conn.executescript(_ADDED_INDEXES)
    return conn


Row = tuple[Any, ...]
_COST = COLUMNS.index("cost_usd")
_CLIENT = COLUMNS.index("client")
_TS = COLUMNS.index("ts_start")
_ERROR = COLUMNS.index("error")
_MAX_BACKOFF_S = 5.0


def _insert(conn: sqlite3.Connection, rows: list[Row]) -> None:
    """Insert in the caller's transaction; a row SQLite refuses is logged and skipped, never the batch."""
    try:
        conn.executemany(_INSERT, rows)
    except sqlite3.OperationalError:
        raise  # locked or disk trouble: not the rows' fault, so the batch is kept and retried
    except (sqlite3.Error, ValueError, OverflowError) as e:
        log.warning("ledger batch refused (%s); writing its rows one by one", type(e).__name__)
        for row in rows:
            try:
                conn.execute(_INSERT, row)  # OR IGNORE: rows already in are not written twice
            except (sqlite3.IntegrityError, sqlite3.InterfaceError, ValueError, OverflowError):
                log.exception("ledger row %s cannot be stored; skipped", row[0])


def to_row(record: dict[str, Any]) -> Row:
    """The row of COLUMNS (a key a record from an older journal lacks is NULL); `error` as JSON text."""
    return _stored(tuple(map(record.get, COLUMNS)))


def _stored(values: Row) -> Row:
    """A record's values in COLUMNS order as SQL stores them: `error` as JSON text."""
    if err := values[_ERROR]:
        return (*values[:_ERROR], json.dumps(err), *values[_ERROR + 1 :])
    return values


def journal_row(line: dict[str, Any] | list[Any]) -> Row:
    """The row of a journal line: an array of values (a line written before a column was added lacks it:
    NULL), or an older engine's record object."""
    if isinstance(line, dict):
        return to_row(line)
    values = tuple(line[: len(COLUMNS)])
    return _stored(values + (None,) * (len(COLUMNS) - len(values)))


def from_row(row: Row) -> dict[str, Any]:
    """A ledger row (all of COLUMNS, in order) as the record dict it was written from."""
    rec = dict(zip(COLUMNS, row, strict=True))
    rec["stream"] = bool(rec["stream"])
    rec["paid_fallback"] = bool(rec["paid_fallback"])
    rec["error"] = json.loads(rec["error"]) if rec["error"] else None
    return rec


class SqliteLedgerStore:
    """The ledger file: blocking SQLite calls, each in a worker thread; queries on their own connection."""

    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        self._conn = await asyncio.to_thread(_connect, self.path)
        await asyncio.to_thread(private_sqlite_files, self.path)  # SQLite gives -wal/-shm the db's mode

    async def commit(self, batch: list[Row], segments: list[Path], from_disk: bool) -> None:
        await asyncio.to_thread(self._commit, batch, segments, from_disk)

    def _commit(self, batch: list[Row], segments: list[Path], from_disk: bool) -> None:
        """Worker thread. Rows are unique by id, so rows both in memory and on disk are written once."""
        if self._conn is None:
            raise sqlite3.OperationalError("the ledger is not open")
        with self._conn:
            _insert(self._conn, batch)
            if from_disk:
                for seg in segments:
                    _insert(self._conn, [journal_row(r) for r in RecordJournal.read(seg)])
        RecordJournal.discard(segments)

    async def close(self) -> None:
        if self._conn is not None:
            await asyncio.to_thread(self._conn.close)
            self._conn = None

    async def recent(self, limit: int) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._query_recent, limit)

    def _query_recent(self, limit: int) -> list[dict[str, Any]]:
        with _connect(self.path) as conn:
            rows = conn.execute(
                f"SELECT {','.join(COLUMNS)} FROM requests ORDER BY ts_start DESC LIMIT ?", (limit,)
            ).fetchall()
        return [from_row(row) for row in rows]

    async def usage(self, group: str, since: float) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._query_usage, _GROUPS[group], since)

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
        return await asyncio.to_thread(self._query_spend, since)

    def _query_spend(self, since: float) -> dict[str, float]:
        sql = "SELECT coalesce(client, ''), sum(cost_usd) FROM requests WHERE ts_start >= ? GROUP BY 1"
        with _connect(self.path) as conn:
            return {c: float(v or 0.0) for c, v in conn.execute(sql, (since,)).fetchall()}

    async def history(self, q: HistoryQuery) -> list[dict[str, Any]]:
        return await asyncio.to_thread(query_history, self.path, q)


class CostLedger:
    """Appends are O(1) on the loop; a background task commits batches in a worker thread.

    `_pending` holds (row, journaled) until SQLite commits it; `_sealed` are the journal segments
    whose rows those are. Past `max_backlog` rows, journaled rows leave memory (`_disk_only`) and
    are read back from their segments; rows that are in neither are dropped and counted.
    """

    def __init__(
        self,
        path: Path,
        journal_dir: Path,
        flush_interval: float = 0.25,
        max_backlog: int = 20_000,
        store: LedgerStore | None = None,
        max_journal_bytes: int | None = None,
    ) -> None:
        self.path = path
        self.store: LedgerStore = store or SqliteLedgerStore(path)
        self.max_backlog = max_backlog
        self.journal = RecordJournal(journal_dir)
        self.journal.max_bytes = max_journal_bytes
        self.dropped = 0
        self.last_error: str | None = None
        self._interval = flush_interval
        self._pending: list[tuple[Row, bool]] = []
        self._sealed: list[Path] = []
        self._disk_only = 0
        self._failures = 0  # consecutive failed commits
        self._open = False
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Open the store, then replay the journals of engines that died (before budgets are loaded)."""
        await self.store.open()
        self._open = True
        try:
            self._sealed = await asyncio.to_thread(self.journal.open)
        except OSError as e:  # serve anyway: records are then kept in memory only, and counted
            log.error("the record journal cannot be opened (%s); a crash would lose uncommitted rows", e)
        if self._sealed:
            rows = await asyncio.to_thread(self._read_segments, self._sealed)
            self._pending = [(r, True) for r in rows[: self.max_backlog]]
            self._disk_only = max(0, len(rows) - self.max_backlog)
            if await self.flush():
                log.info("replayed %d journaled records into the ledger", len(rows))
        self._task = asyncio.create_task(self._run(), name="ledger-writer")

    @property
    def _conn(self) -> sqlite3.Connection | None:
        """The SQLite store's connection (tests simulate a crash by closing it); None for PostgreSQL."""
        return self.store._conn if isinstance(self.store, SqliteLedgerStore) else None

    def append(self, record: dict[str, Any]) -> None:
        """Journal the record (one write syscall), then queue its row for the next batch."""
        values = tuple(map(record.get, COLUMNS))
        journaled = self.journal.append(values)
        self._pending.append((_stored(values), journaled))
        if len(self._pending) >= 500 and not self._failures:
            self._wake.set()

    @property
    def ok(self) -> bool:
        return not self._failures and self.journal.failed_in_a_row == 0

    def health(self) -> dict[str, Any]:
        """For /v0/status and the events: is the ledger keeping up, and has anything been lost."""
        return {
            "ok": self.ok,
            "backlog": len(self._pending) + self._disk_only,
            "last_error": self.last_error,
            "dropped": self.dropped,
            "journal_failed": self.journal.failed,
            "journal_error": self.journal.last_error,
            "backend": self.store.backend,
        }

    async def flush(self) -> bool:
        """Commit everything appended so far; on failure keep it for the next try. True when committed."""
        async with self._lock:
            if not self._open:
                return False
            if sealed := self.journal.seal():
                self._sealed.append(sealed)
            n, segments, from_disk = len(self._pending), list(self._sealed), self._disk_only > 0
            self.journal.probe()
            if not n and not segments:
                return True
            batch = [row for row, _ in self._pending[:n]]
            try:
                await self.store.commit(batch, segments, from_disk)
            except (sqlite3.Error, OSError, StorageUnavailable) as e:
                self._failed(e, n)
                return False
            del self._pending[:n]
            del self._sealed[: len(segments)]
            self._disk_only = 0
            self.journal.committed()
            if self._failures:
                log.warning("ledger writes recovered; %d rows committed", n)
            self._failures = 0
            return True

    def _read_segments(self, segments: list[Path]) -> list[Row]:
        return [journal_row(r) for seg in segments for r in RecordJournal.read(seg)]

    def _failed(self, e: Exception, n: int) -> None:
        self._failures += 1
        self.last_error = f"{type(e).__name__}: {e}"
        if self._failures == 1:
            log.error("ledger write failed (%s); %d rows kept and retried with backoff", e, n)
        # Only rows of this batch are in sealed segments; newer ones may still be in the live one.
        excess = min(n, len(self._pending) - self.max_backlog)
        if excess <= 0:
            return
        kept_on_disk = sum(1 for _, journaled in self._pending[:excess] if journaled)
        lost = excess - kept_on_disk
        del self._pending[:excess]
        self._disk_only += kept_on_disk
        self.dropped += lost
        if lost:
            log.error("ledger backlog over %d rows: %d rows DROPPED, never journaled either (%d lost so far); "
                      "%d moved to the journal only", self.max_backlog, lost, self.dropped, kept_on_disk)  # fmt: skip
        else:
            log.warning("ledger backlog over %d rows: %d rows moved to the journal only, written once the ledger "
                        "recovers", self.max_backlog, kept_on_disk)  # fmt: skip

    async def _run(self) -> None:
        """Never ends before close: a failed flush is logged and the next one tries again."""
        while True:
            if self._failures:
                await asyncio.sleep(min(_MAX_BACKOFF_S, self._interval * 2 ** min(self._failures, 10)))
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("ledger flush failed unexpectedly; its rows are kept and the writer goes on")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        done = await self.flush()
        if not done:
            lost = sum(1 for _, journaled in self._pending if not journaled)
            waiting = len(self._pending) + self._disk_only
            log.error("ledger: %d rows not committed at shutdown; the journaled ones are replayed at the next start, "
                      "%d were never journaled and are lost", waiting, lost)  # fmt: skip
        await asyncio.to_thread(self.journal.close, done and not self._pending)
        if self._open:
            self._open = False
            await self.store.close()

    def pending_spend(self, since: float) -> dict[str, float]:
        """Spend in rows not committed yet, so budgets count them while the ledger is behind."""
        out: dict[str, float] = {}
        for row, _ in self._pending:
            if row[_COST] and row[_TS] >= since:
                out[row[_CLIENT] or ""] = out.get(row[_CLIENT] or "", 0.0) + row[_COST]
        return out

    # ---- queries (management API): committed rows first, then the store answers ----
    async def recent(self, limit: int) -> list[dict[str, Any]]:
        await self.flush()
        return await self.store.recent(limit)

    async def usage(self, group: str, since: float | None) -> list[dict[str, Any]]:
        if group not in _GROUPS:
            raise ValueError(f"group must be one of {', '.join(_GROUPS)}")
        await self.flush()
        return await self.store.usage(group, since or 0.0)

    async def history(self, q: HistoryQuery) -> list[dict[str, Any]]:
        await self.flush()
        return await self.store.history(q)

    async def spend_by_client(self, since: float) -> dict[str, float]:
        """Priced spend per client since an epoch (budgets are rebuilt from this at startup)."""
        await self.flush()
        spend = await self.store.spend_by_client(since)
        for client, usd in self.pending_spend(since).items():
            spend[client] = spend.get(client, 0.0) + usd
        return spend
