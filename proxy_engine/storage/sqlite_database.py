"""The SQLite backend: the ledger's own file (WAL), one short connection per call in a worker thread."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any, Literal

from proxy_engine.paths import make_private_dirs, private_sqlite_files
from proxy_engine.storage.database import Params
from proxy_engine.storage.migrations import migrate_sqlite

log = logging.getLogger("proxy_engine.storage")


def connect(path: Path) -> sqlite3.Connection:
    """Worker thread. Switching a new file to WAL takes a lock that SQLite's busy timeout does not wait
    for, so engines opening one fresh file at once retry that step for a while instead of failing."""
    conn = sqlite3.connect(path, check_same_thread=False, timeout=10)
    deadline = time.monotonic() + 10
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                conn.close()
                raise
            time.sleep(0.02)
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class SqliteDatabase:
    """Calls never run on the event loop; the file stays 0600 (its -wal/-shm too)."""

    kind: Literal["sqlite"] = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path

    async def open(self) -> None:
        applied = await asyncio.to_thread(self._open_sync)
        if applied:
            log.info("ledger database %s migrated to schema version %d", self.path.name, applied[-1])

    def _open_sync(self) -> list[int]:
        make_private_dirs(self.path.parent)
        conn = connect(self.path)
        try:
            applied = migrate_sqlite(conn)
        finally:
            conn.close()
        private_sqlite_files(self.path)
        return applied

    def _run(self, sql: str, args: Params, many: list[Params] | None) -> list[tuple[Any, ...]]:
        conn = connect(self.path)
        try:
            with conn:
                if many is not None:
                    conn.executemany(sql, many)
                    return []
                return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    async def execute(self, sql: str, *args: Any) -> None:  # noqa: ANN401
        await asyncio.to_thread(self._run, sql, args, None)

    async def executemany(self, sql: str, rows: list[Params]) -> None:
        await asyncio.to_thread(self._run, sql, (), rows)

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:  # noqa: ANN401
        return await asyncio.to_thread(self._run, sql, args, None)

    async def close(self) -> None:
        return None
