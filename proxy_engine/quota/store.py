"""The `quota_windows` table in the ledger's SQLite file: the last reading of every window.

Blocking functions, run in a worker thread by `QuotaLedger` (and directly by the CLI when no
engine runs). One row per (provider, credential, window); a newer reading replaces the row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from proxy_engine.paths import make_private_dirs, private_sqlite_files
from proxy_engine.quota.window import QuotaWindow

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
            conn.executemany(
                f"INSERT INTO quota_windows ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(provider, credential, name) DO UPDATE SET used_percent=excluded.used_percent, "
                "resets_at=excluded.resets_at, observed_at=excluded.observed_at, source=excluded.source, "
                "lim=excluded.lim, remaining=excluded.remaining, status=excluded.status, "
                "window_s=excluded.window_s, representative=excluded.representative, blocks=excluded.blocks "
                "WHERE excluded.observed_at >= quota_windows.observed_at",
                [_row(w) for w in windows],
            )
    finally:
        conn.close()
