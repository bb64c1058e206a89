"""Cooldowns per (provider, credential, model), kept in SQLite so they survive restarts.

The hot path (`CredentialPool.pick`) reads an in-memory mirror; every change is written to
the `credential_cooldowns` table of the engine's ledger database (WAL) in a worker thread,
never on the event loop. The user can list and clear cooldowns (TUI key, management API, CLI).
In team mode the table is PostgreSQL's (`DatabaseCooldownTable`), shared by every replica.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from proxy_engine.paths import make_private_dirs, private_sqlite_files
from proxy_engine.protocol import CredentialCooldown
from proxy_engine.storage.database import Database
from proxy_engine.storage.errors import StorageUnavailable

log = logging.getLogger("proxy_engine.credentials")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS credential_cooldowns (
    provider   TEXT NOT NULL,
    credential TEXT NOT NULL,
    model      TEXT NOT NULL,
    until      REAL NOT NULL,
    reason     TEXT NOT NULL,
    status     INTEGER NOT NULL,
    failures   INTEGER NOT NULL,
    updated    REAL NOT NULL,
    PRIMARY KEY (provider, credential, model)
)
"""

Key = tuple[str, str, str]  # (provider, credential, model)


@dataclass(frozen=True)
class Cooldown:
    provider: str
    credential: str
    model: str
    until: float  # epoch seconds
    reason: str  # "auth" | "rate_limit" | "server_error" | "timeout"
    status: int  # HTTP status that caused it (0 for a timeout)
    failures: int  # consecutive failures of this kind (drives the 429 backoff)

    def to_event(self) -> CredentialCooldown:
        """The `credential.cooldown` event."""
        return CredentialCooldown(provider=self.provider, credential=self.credential, model=self.model,
                                  until=self.until, reason=self.reason, status=self.status)  # fmt: skip

    def to_protocol(self) -> dict:
        return self.to_event().to_dict()


_COLUMNS = "provider, credential, model, until, reason, status, failures"
_UPSERT = (
    "INSERT INTO credential_cooldowns (provider, credential, model, until, reason, status, failures, updated) "
    "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (provider, credential, model) DO UPDATE SET until=excluded.until, "
    "reason=excluded.reason, status=excluded.status, failures=excluded.failures, updated=excluded.updated"
)


class CooldownTable(Protocol):
    """Where cooldowns persist: read whole, written by key."""

    async def load(self) -> list[Cooldown]:
        """Create the table if needed (SQLite) and return every stored cooldown."""

    async def read(self) -> list[Cooldown]: ...

    async def write(self, upserts: list[Cooldown], deletes: list[Key]) -> None: ...


class DatabaseCooldownTable:
    """The table through a storage `Database` (PostgreSQL in team mode; its migrations made the table)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def load(self) -> list[Cooldown]:
        """At start-up a server that does not answer yet is no reason to stop: the refresh loop reads it later."""
        try:
            return await self.read()
        except StorageUnavailable as e:
            log.error("stored cooldowns cannot be read yet (%s); they are read once the database answers", e)
            return []

    async def read(self) -> list[Cooldown]:
        rows = await self.db.fetch(f"SELECT {_COLUMNS} FROM credential_cooldowns")
        return [Cooldown(str(p), str(c), str(m), float(u), str(r), int(s), int(f)) for p, c, m, u, r, s, f in rows]

    async def write(self, upserts: list[Cooldown], deletes: list[Key]) -> None:
        now = time.time()
        if upserts:
            rows = [(c.provider, c.credential, c.model, float(c.until), c.reason, int(c.status), int(c.failures), now)
                    for c in upserts]  # fmt: skip
            await self.db.executemany(_UPSERT, rows)
        if deletes:
            await self.db.executemany(
                "DELETE FROM credential_cooldowns WHERE provider=? AND credential=? AND model=?", list(deletes)
            )


class SqliteCooldownTable:
    """The table in the ledger's SQLite file; each call a short connection in a worker thread."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)

    async def load(self) -> list[Cooldown]:
        return await asyncio.to_thread(self._open_sync)

    async def read(self) -> list[Cooldown]:
        return await asyncio.to_thread(self._read_sync)

    async def write(self, upserts: list[Cooldown], deletes: list[Key]) -> None:
        await asyncio.to_thread(self._write_sync, upserts, deletes)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=10.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def _read_sync(self) -> list[Cooldown]:
        conn = self._connect()
        try:
            rows = conn.execute(
                "SELECT provider, credential, model, until, reason, status, failures FROM credential_cooldowns"
            ).fetchall()
        finally:
            conn.close()
        return [Cooldown(*row) for row in rows]

    def _open_sync(self) -> list[Cooldown]:
        make_private_dirs(self.db_path.parent)
        conn = self._connect()
        try:
            with conn:
                conn.execute(_SCHEMA)
            private_sqlite_files(self.db_path)  # SQLite gives -wal/-shm the db's mode
            rows = conn.execute(
                "SELECT provider, credential, model, until, reason, status, failures FROM credential_cooldowns"
            ).fetchall()
        finally:
            conn.close()
        return [Cooldown(*row) for row in rows]

    def _write_sync(self, upserts: list[Cooldown], deletes: list[Key]) -> None:
        conn = self._connect()
        try:
            with conn:
                for c in upserts:
                    conn.execute(
                        "INSERT INTO credential_cooldowns VALUES (?,?,?,?,?,?,?,?) "
                        "ON CONFLICT(provider, credential, model) DO UPDATE SET until=excluded.until, "
                        "reason=excluded.reason, status=excluded.status, failures=excluded.failures, "
                        "updated=excluded.updated",
                        (
                            c.provider,
                            c.credential,
                            c.model,
                            c.until,
                            c.reason,
                            c.status,
                            c.failures,
                            time.time(),
                        ),
                    )
                for key in deletes:
                    conn.execute("DELETE FROM credential_cooldowns WHERE provider=? AND credential=? AND model=?", key)
        finally:
            conn.close()


class CooldownStore:
    """In-memory view of active cooldowns, persisted to a table (SQLite, or PostgreSQL in team mode)."""

    def __init__(self, db_path: Path, table: CooldownTable | None = None) -> None:
        self.db_path = Path(db_path)
        self.table: CooldownTable = table or SqliteCooldownTable(self.db_path)
        self._active: dict[Key, Cooldown] = {}
        self._changed: set[Key] | None = None  # keys changed here while a refresh reads the table
        # Changes the database could not take (team mode, PostgreSQL away): None is a delete. Written by refresh.
        self._unsaved: dict[Key, Cooldown | None] = {}
        self.on_change: Callable[[Cooldown | None, Key], None] | None = None  # team mode: tell the others
        # Writes run off the loop; the lock keeps them in the order they were made.
        self._write_lock = asyncio.Lock()

    async def _write(self, upserts: list[Cooldown], deletes: list[Key]) -> None:
        async with self._write_lock:
            try:
                await self.table.write(upserts, deletes)
            except StorageUnavailable as e:
                if not self._unsaved:
                    log.warning("cooldowns are kept in memory until the database answers again (%s)", e)
                self._unsaved.update({(c.provider, c.credential, c.model): c for c in upserts})
                self._unsaved.update(dict.fromkeys(deletes))

    async def _save_unsaved(self) -> None:
        """Under the write lock: what failed to be written earlier, now (raises while the database is away)."""
        if not self._unsaved:
            return
        upserts = [c for c in self._unsaved.values() if c is not None]
        await self.table.write(upserts, [k for k, c in self._unsaved.items() if c is None])
        log.info("%d cooldown changes kept in memory are stored again", len(self._unsaved))
        self._unsaved.clear()

    @classmethod
    async def open(cls, db_path: Path, table: CooldownTable | None = None) -> CooldownStore:
        """Create the table if needed and load every stored cooldown (expired ones included:
        their failure counts still drive the next backoff until a success clears them)."""
        store = cls(db_path, table)
        for c in await store.table.load():
            store._active[(c.provider, c.credential, c.model)] = c
        return store

    async def refresh(self) -> None:
        """Take the table as it is now: cooldowns other processes (workers) set or cleared.

        Waits for this process's own writes first; a key changed here during the read keeps its local state."""
        async with self._write_lock:
            self._changed = set()
            try:
                await self._save_unsaved()
                rows = await self.table.read()
                fresh = {(c.provider, c.credential, c.model): c for c in rows}
                for key in self._changed:
                    if key in self._active:
                        fresh[key] = self._active[key]
                    else:
                        fresh.pop(key, None)
                self._active = fresh
            finally:
                self._changed = None

    def _touched(self, key: Key) -> None:
        if self._changed is not None:
            self._changed.add(key)

    def get(self, provider: str, credential: str, model: str) -> Cooldown | None:
        return self._active.get((provider, credential, model))

    def cooling_until(self, provider: str, credential: str, model: str, now: float) -> float | None:
        """Epoch when this (credential, model) becomes usable, or None if usable now."""
        c = self._active.get((provider, credential, model))
        if c is not None and c.until > now:
            return c.until
        return None

    def apply_remote(self, cooldown: Cooldown | None, key: Key) -> None:
        """Another replica set (or, with None, ended) this cooldown and stored it: mirror it only."""
        if cooldown is None:
            self._active.pop(key, None)
        else:
            self._active[key] = cooldown
        self._touched(key)

    async def put(self, cooldown: Cooldown) -> None:
        key = (cooldown.provider, cooldown.credential, cooldown.model)
        self._active[key] = cooldown
        self._touched(key)
        if self.on_change is not None:
            self.on_change(cooldown, key)
        await self._write([cooldown], [])

    async def remove(self, provider: str, credential: str, model: str) -> bool:
        """Drop one entry (a success). Cheap no-op when there is none, so success costs no I/O."""
        key = (provider, credential, model)
        if self._active.pop(key, None) is None:
            return False
        self._touched(key)
        if self.on_change is not None:
            self.on_change(None, key)
        await self._write([], [key])
        return True

    def list(self, *, now: float | None = None, include_expired: bool = False) -> list[Cooldown]:
        now = time.time() if now is None else now
        return sorted(
            (c for c in self._active.values() if include_expired or c.until > now),
            key=lambda c: (c.provider, c.credential, c.model),
        )

    async def clear(self, provider: str | None = None, credential: str | None = None, model: str | None = None) -> int:
        """Clear matching cooldowns (None = any); returns how many were removed."""
        keys = [
            k
            for k in self._active
            if (provider is None or k[0] == provider)
            and (credential is None or k[1] == credential)
            and (model is None or k[2] == model)
        ]
        for k in keys:
            del self._active[k]
            self._touched(k)
            if self.on_change is not None:
                self.on_change(None, k)
        if keys:
            await self._write([], keys)
        return len(keys)
