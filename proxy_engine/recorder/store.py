"""Captures on disk: one gzip-compressed JSON file per request (0600), indexed by request id in SQLite.

Blocking I/O: called from the writer thread, or through `asyncio.to_thread` by the management API,
or directly by the CLI. One connection behind a lock serves all of them.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from proxy_engine.paths import make_private_dirs
from proxy_engine.recorder.match import first_match
from proxy_engine.request_ids import is_request_id

FORMAT = "proxypal-capture/1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS captures (
    id TEXT PRIMARY KEY, ts REAL NOT NULL, size INTEGER NOT NULL, status INTEGER, error_code TEXT,
    dialect_in TEXT, dialect_out TEXT, model_requested TEXT, provider TEXT, model TEXT, reason TEXT
);
CREATE INDEX IF NOT EXISTS captures_ts ON captures(ts);
"""
_COLUMNS = ("status", "error_code", "dialect_in", "dialect_out", "model_requested", "provider", "model", "reason")


def valid_id(request_id: str) -> bool:
    """Only a request id (`request_ids.py`) ever reaches a file name."""
    return is_request_id(request_id)


def capture_dir(state_dir: Path) -> Path:
    return state_dir / "captures"


class CaptureStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            make_private_dirs(self.root)
            db = self.root / "index.db"
            fd = os.open(db, os.O_CREAT | os.O_RDWR, 0o600)  # the index file exists 0600 before SQLite opens it
            os.close(fd)
            conn = sqlite3.connect(db, check_same_thread=False, timeout=10, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # no fsync per capture; a power cut costs a few rows
            conn.executescript(_SCHEMA)
            for extra in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(str(db) + extra, 0o600)
            self._db = conn
        return self._db

    def _file(self, request_id: str) -> Path:
        return self.root / f"{request_id}.json.gz"

    def put(self, doc: dict[str, Any]) -> int:
        """Write one capture and index it; returns its size on disk. Raises OSError/sqlite3.Error on failure."""
        data = gzip.compress(json.dumps(doc, ensure_ascii=False).encode(), compresslevel=5)
        with self._lock:
            conn = self._conn()
            path = self._file(doc["id"])
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise
            meta = doc["meta"]
            conn.execute(
                f"INSERT OR REPLACE INTO captures (id, ts, size, {', '.join(_COLUMNS)}) VALUES (?, ?, ?, {', '.join('?' * len(_COLUMNS))})",  # noqa: E501
                (doc["id"], doc["ts"], len(data), *(meta.get(c) for c in _COLUMNS)),
            )
        return len(data)

    def get(self, request_id: str) -> dict[str, Any] | None:
        if not valid_id(request_id):
            return None
        try:
            with gzip.open(self._file(request_id), "rb") as f:
                return json.loads(f.read())
        except FileNotFoundError:
            return None

    def delete(self, request_id: str) -> bool:
        if not valid_id(request_id):
            return False
        with self._lock:
            self._conn().execute("DELETE FROM captures WHERE id = ?", (request_id,))
            return self._unlink(request_id)

    def _unlink(self, request_id: str) -> bool:
        try:
            self._file(request_id).unlink()
        except FileNotFoundError:
            return False
        return True

    def delete_all(self) -> int:
        """Every capture, indexed or not (a file whose index row was lost is still someone's data)."""
        with self._lock:
            self._conn().execute("DELETE FROM captures")
            n = 0
            for path in self.root.glob("*.json.gz"):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    n += 1
            return n

    def prune(self, max_bytes: int, max_age_s: float, now: float | None = None) -> int:
        """Drop captures older than `max_age_s`, then the oldest until the rest fit in `max_bytes`."""
        cutoff = (now or time.time()) - max_age_s
        with self._lock:
            conn = self._conn()
            doomed = [r[0] for r in conn.execute("SELECT id FROM captures WHERE ts < ?", (cutoff,))]
            total = conn.execute("SELECT COALESCE(SUM(size), 0) FROM captures WHERE ts >= ?", (cutoff,)).fetchone()[0]
            if total > max_bytes:
                rows = conn.execute("SELECT id, size FROM captures WHERE ts >= ? ORDER BY ts", (cutoff,))
                for rid, size in rows.fetchall():
                    if total <= max_bytes:
                        break
                    doomed.append(rid)
                    total -= size
            for rid in doomed:
                conn.execute("DELETE FROM captures WHERE id = ?", (rid,))
                self._unlink(rid)
            return len(doomed)

    def listing(self, limit: int = 200) -> list[dict[str, Any]]:
        with self._lock:
            cur = self._conn().execute(
                f"SELECT id, ts, size, {', '.join(_COLUMNS)} FROM captures ORDER BY ts DESC LIMIT ?", (limit,)
            )
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def totals(self) -> tuple[int, int]:
        """(captures, bytes on disk) as indexed."""
        with self._lock:
            n, size = self._conn().execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM captures").fetchone()
        return n, size

    def search(self, text: str, limit: int = 50) -> Iterator[tuple[str, dict[str, Any]]]:
        """The newest captures whose stages contain `text` (case-insensitive), newest first: (id, where)."""
        for row in self.listing(limit=1000):
            doc = self.get(row["id"])
            found = first_match(doc["stages"], text) if doc is not None else None
            if found is not None:
                yield row["id"], found
                limit -= 1
                if limit <= 0:
                    return

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
