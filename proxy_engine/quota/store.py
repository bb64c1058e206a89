"""The `quota_windows` table in the ledger's SQLite file: the last reading of every window.

Blocking functions, run in a worker thread by `QuotaLedger` (and directly by the CLI when no
engine runs). One row per (provider, credential, window); a newer reading replaces the row.
`QuotaLedger` reaches them through a `QuotaTable`: `SqliteQuotaTable` here, or in team mode
`DatabaseQuotaTable` over PostgreSQL (`storage/`, migration 3), which every replica shares.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from proxy_engine.paths import make_private_dirs, private_sqlite_files
from proxy_engine.quota.window import QuotaWindow
from proxy_engine.storage.database import Database
from proxy_engine.storage.errors import StorageUnavailable

log = logging.getLogger("proxy_engine.quota")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS quota_windows (
    provider       TEXT NOT NULL,
    credential     TEXT NOT NULL,
    name           TEXT NOT NULL,
    used_percent   REAL NOT NULL,
    resets_at      REAL,
    observed_at    REAL NOT NULL,
    source         TEXT NOT NULL,
    lim            REAL,
    remaining      REAL,
    status         TEXT NOT NULL,
    window_s       REAL,
    representative INTEGER NOT NULL,
    blocks         INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (provider, credential, name)
)
"""
_COLUMNS = (
    "provider, credential, name, used_percent, resets_at, observed_at, source, lim, remaining, status, window_s, "
    "representative, blocks"
)
# A newer reading replaces the row; an older one (another worker's or replica's, late) does not.
_UPSERT = (
    f"INSERT INTO quota_windows ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT(provider, credential, name) DO UPDATE SET used_percent=excluded.used_percent, "
    "resets_at=excluded.resets_at, observed_at=excluded.observed_at, source=excluded.source, "
    "lim=excluded.lim, remaining=excluded.remaining, status=excluded.status, "
    "window_s=excluded.window_s, representative=excluded.representative, blocks=excluded.blocks "
    "WHERE excluded.observed_at >= quota_windows.observed_at"
)


def _connect(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, timeout=10.0)
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def _row(w: QuotaWindow) -> tuple:
    return (w.provider, w.credential, w.name, w.used_percent, w.resets_at, w.observed_at, w.source, w.limit,
            w.remaining, w.status, w.window_s, int(w.representative), int(w.blocks))  # fmt: skip


def _window(row: tuple) -> QuotaWindow:
    p, c, name, used, resets, observed, source, lim, remaining, status, window_s, rep, blocks = row
    return QuotaWindow(p, c, name, used, resets, observed, source, lim, remaining, status, window_s, bool(rep),
                       bool(blocks))  # fmt: skip


def open_table(db: Path) -> list[QuotaWindow]:
    """Create the table if needed (file 0600, in a 0700 folder) and read every row."""
    make_private_dirs(db.parent)
    conn = _connect(db)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        with conn:
            conn.execute(_SCHEMA)
        private_sqlite_files(db)
        return [_window(r) for r in conn.execute(f"SELECT {_COLUMNS} FROM quota_windows")]
    finally:
        conn.close()


def read_all(db: Path) -> list[QuotaWindow]:
    """Every stored window; [] when the file or the table does not exist (no engine has seen quota)."""
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10.0)
    try:
        return [_window(r) for r in conn.execute(f"SELECT {_COLUMNS} FROM quota_windows")]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def write(db: Path, windows: Iterable[QuotaWindow]) -> None:
    """Store these readings, keeping a stored row that is newer (another worker's)."""
    conn = _connect(db)
    try:
        with conn:
            conn.executemany(_UPSERT, [_row(w) for w in windows])
    finally:
        conn.close()


class QuotaTable(Protocol):
    async def load(self) -> list[QuotaWindow]:
        """Create the table if needed (SQLite) and read every row."""

    async def read(self) -> list[QuotaWindow]: ...

    async def write(self, windows: list[QuotaWindow]) -> None: ...


class SqliteQuotaTable:
    """The table in the ledger's SQLite file, through the blocking functions above, in a worker thread."""

    def __init__(self, db: Path) -> None:
        self.db = db

    async def load(self) -> list[QuotaWindow]:
        return await asyncio.to_thread(open_table, self.db)

    async def read(self) -> list[QuotaWindow]:
        return await asyncio.to_thread(read_all, self.db)

    async def write(self, windows: list[QuotaWindow]) -> None:
        await asyncio.to_thread(write, self.db, windows)


def _opt(v: float | None) -> float | None:
    return None if v is None else float(v)


class DatabaseQuotaTable:
    """The table through a storage `Database` (PostgreSQL in team mode; its migrations made the table)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def load(self) -> list[QuotaWindow]:
        try:
            return await self.read()
        except StorageUnavailable as e:  # not a reason to stop the start: the refresh loop reads them later
            log.error("stored quota readings cannot be read yet (%s); they are read once the database answers", e)
            return []

    async def read(self) -> list[QuotaWindow]:
        return [_window(r) for r in await self.db.fetch(f"SELECT {_COLUMNS} FROM quota_windows")]

    async def write(self, windows: list[QuotaWindow]) -> None:
        rows = [(w.provider, w.credential, w.name, float(w.used_percent), _opt(w.resets_at), float(w.observed_at),
                 w.source, _opt(w.limit), _opt(w.remaining), w.status, _opt(w.window_s), int(w.representative),
                 int(w.blocks)) for w in windows]  # fmt: skip
        await self.db.executemany(_UPSERT, rows)
