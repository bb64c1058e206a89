"""The PostgreSQL backend (asyncpg): one pool per engine, migrations under an advisory lock.

The server may be down when the engine starts or go away later: `open` never fails for that, the
pool connects lazily (`min_size=0`), and every call raises `StorageUnavailable` until it is back,
so callers (the ledger writer) keep their rows and retry. Migrations run on the first call that
reaches the server. The URL may carry a password: it is never logged, and error text is scrubbed.
Timestamps are grouped in the engine's local time zone, as SQLite's `'localtime'` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from proxy_engine.storage.database import Params
from proxy_engine.storage.errors import StorageUnavailable
from proxy_engine.storage.migrations import migrate_postgres

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger("proxy_engine.storage")
AfterMigrate = Callable[["asyncpg.Connection"], Awaitable[None]]
_CONNECT_TIMEOUT_S = 5.0
_COMMAND_TIMEOUT_S = 30.0


@functools.cache
def row_refused() -> tuple[type[Exception], ...]:
    import asyncpg

    # Server-side data errors (class 22), constraint violations, and asyncpg's client-side DataError (a ValueError).
    return (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError, ValueError)


@functools.cache
def statement_failed() -> type[Exception]:
    """Any error the server sent back (asyncpg is imported only in team mode)."""
    import asyncpg

    return asyncpg.PostgresError


@functools.cache
def server_down() -> tuple[type[Exception], ...]:
    """The errors that mean the server cannot be used now (not the statement's fault)."""
    import asyncpg
    from asyncpg import exceptions as x

    return (OSError, TimeoutError, asyncpg.InterfaceError, x.PostgresConnectionError, x.CannotConnectNowError,
            x.OperatorInterventionError, x.InsufficientResourcesError)  # fmt: skip


def local_zone() -> str:
    """The engine's IANA time zone name (TZ, else /etc/localtime's target), else UTC."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if re.fullmatch(r"[A-Za-z_]+(/[A-Za-z0-9_+\-]+)*", tz):
        return tz
    with contextlib.suppress(OSError):
        target = str(Path("/etc/localtime").resolve())
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    return "UTC"


def _numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, ...` (our SQL has no `?` in literals)."""
    n = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _: f"${next(n)}", sql)


class PostgresDatabase:
    """`connection()` hands out a pooled connection; any failure to reach the server is `StorageUnavailable`."""

    kind: Literal["postgres"] = "postgres"

    def __init__(self, dsn: Callable[[], str | None], max_connections: int = 10) -> None:
        """`dsn` is called once, in a thread, at `open` (it may read a keyring)."""
        self._resolve = dsn
        self._secret_parts: list[str] = []
        self._max = max_connections
        self._pool: asyncpg.Pool | None = None
        self._ready = False
        self._ready_lock = asyncio.Lock()
        self._after_migrate: list[AfterMigrate] = []
        self.host = "?"

    def after_migrate(self, step: AfterMigrate) -> None:
        """Run `step` once the migrations ran (the ledger adds its `_ADDED` columns there)."""
        self._after_migrate.append(step)

    def scrub(self, text: str) -> str:
        for part in self._secret_parts:
            text = text.replace(part, "***")
        return text

    async def open(self) -> None:
        """Raises only when the URL cannot be read; a server that does not answer is retried later."""
        import asyncpg  # only team mode needs it

        dsn = await asyncio.to_thread(self._resolve)
        if not dsn:
            raise StorageUnavailable("team.postgres: the PostgreSQL URL cannot be read (is the secret set?)")
        parts = urlsplit(dsn)
        self._secret_parts = sorted((p for p in (dsn, parts.password) if p), key=len, reverse=True)
        self.host = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
        self._pool = asyncpg.create_pool(
            dsn, min_size=0, max_size=self._max, timeout=_CONNECT_TIMEOUT_S,
            command_timeout=_COMMAND_TIMEOUT_S, server_settings={"timezone": local_zone(),
                                                                 "application_name": "proxypal"},
        )  # fmt: skip
        await self._pool  # min_size=0: no connection is made yet
        try:
            await self.ensure_ready()
        except StorageUnavailable as e:
            log.error("%s; ledger rows queue on disk until it is reachable", e)

    async def ensure_ready(self) -> None:
        """Migrate once per engine, on the first call that reaches the server."""
        if self._ready:
            return
        async with self._ready_lock:
            if self._ready:
                return
            async with self._connection(migrating=True) as conn:
                applied = await migrate_postgres(conn, self._after_migrate)
            if applied:
                log.info("PostgreSQL at %s migrated to schema version %d", self.host, applied[-1])
            self._ready = True

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        await self.ensure_ready()
        async with self._connection(migrating=False) as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _connection(self, migrating: bool) -> AsyncIterator[asyncpg.Connection]:
        if self._pool is None:
            raise StorageUnavailable("PostgreSQL storage is not open")
        down = server_down()
        what = "migrating" if migrating else "reaching"
        try:
            conn = await self._pool.acquire()
        except (*down, ValueError) as e:  # ValueError: a URL asyncpg cannot use
            raise self._unavailable(what, e) from None
        try:
            yield conn
        except row_refused():
            raise  # the data's fault, not the server's: the caller decides
        except down as e:
            raise self._unavailable(what, e) from None
        finally:
            try:
                await self._pool.release(conn)
            except down as e:  # a connection the server dropped is discarded by the pool
                log.debug("PostgreSQL connection released broken (%s)", type(e).__name__)

    def _unavailable(self, what: str, e: BaseException) -> StorageUnavailable:
        return StorageUnavailable(self.scrub(f"PostgreSQL at {self.host}: {what} failed ({type(e).__name__}: {e})"))

    async def execute(self, sql: str, *args: Any) -> None:  # noqa: ANN401
        async with self.connection() as conn:
            await conn.execute(_numbered(sql), *args)

    async def executemany(self, sql: str, rows: list[Params]) -> None:
        async with self.connection() as conn, conn.transaction():
            await conn.executemany(_numbered(sql), rows)

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:  # noqa: ANN401
        async with self.connection() as conn:
            return [tuple(r) for r in await conn.fetch(_numbered(sql), *args)]

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), 5)
            except (TimeoutError, OSError) as e:
                log.warning("PostgreSQL pool did not close cleanly (%s); terminating it", type(e).__name__)
                pool.terminate()
