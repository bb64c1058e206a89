"""Versioned schema for both backends, applied once at start-up in version order.

Each `Migration` has the statements for SQLite and for PostgreSQL; `schema_version` records what
was applied. Two engines starting at once never both apply one: SQLite takes `BEGIN IMMEDIATE`
(one writer at a time), PostgreSQL a session advisory lock (`pg_advisory_lock`) held around the
whole run; the second engine then finds the versions already recorded. A migration is never
edited once released: a change is a new, higher version. Ledger columns added later are not
migrations but `usage/ledger.py` `_ADDED`, added in place on open by both backends.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    import asyncpg

log = logging.getLogger("proxy_engine.storage")

# The advisory lock key: the bytes of "proxypal" as a (positive) bigint, the same for every replica.
MIGRATION_LOCK = int.from_bytes(b"proxypal", "big")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]


_REQUESTS_SQLITE = """CREATE TABLE IF NOT EXISTS requests (
  id TEXT PRIMARY KEY, ts_start REAL NOT NULL, client TEXT, agent TEXT, dialect_in TEXT, dialect_out TEXT,
  model_requested TEXT, provider TEXT, model TEXT, stream INTEGER, status INTEGER, latency_ms REAL, ttfb_ms REAL,
  input_tokens INTEGER, output_tokens INTEGER, cache_read_tokens INTEGER, cache_write_tokens INTEGER,
  cost_usd REAL, attempts INTEGER, error TEXT)"""
_REQUESTS_POSTGRES = """CREATE TABLE IF NOT EXISTS requests (
  id TEXT PRIMARY KEY, ts_start DOUBLE PRECISION NOT NULL, client TEXT, agent TEXT, dialect_in TEXT,
  dialect_out TEXT, model_requested TEXT, provider TEXT, model TEXT, stream BIGINT, status BIGINT,
  latency_ms DOUBLE PRECISION, ttfb_ms DOUBLE PRECISION, input_tokens BIGINT, output_tokens BIGINT,
  cache_read_tokens BIGINT, cache_write_tokens BIGINT, cost_usd DOUBLE PRECISION, attempts BIGINT, error TEXT,
  credential TEXT, paid_fallback BIGINT)"""
_COOLDOWNS = """CREATE TABLE IF NOT EXISTS credential_cooldowns (
  provider TEXT NOT NULL, credential TEXT NOT NULL, model TEXT NOT NULL, until {real} NOT NULL,
  reason TEXT NOT NULL, status INTEGER NOT NULL, failures INTEGER NOT NULL, updated {real} NOT NULL,
  PRIMARY KEY (provider, credential, model))"""
_MEMBER_KEYS = """CREATE TABLE IF NOT EXISTS member_keys (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, team TEXT, key_hash TEXT NOT NULL UNIQUE, key_prefix TEXT NOT NULL,
  role TEXT NOT NULL DEFAULT 'member', monthly_budget_usd {real}, models TEXT, rpm INTEGER, tpm INTEGER,
  expires_at {real}, created_at {real} NOT NULL, revoked_at {real})"""
_AUDIT = """CREATE TABLE IF NOT EXISTS audit_log (
  seq {serial}, ts {real} NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT, detail TEXT,
  replica TEXT)"""
_QUOTA = """CREATE TABLE IF NOT EXISTS quota_windows (
  provider TEXT NOT NULL, credential TEXT NOT NULL, name TEXT NOT NULL, used_percent {real} NOT NULL,
  resets_at {real}, observed_at {real} NOT NULL, source TEXT NOT NULL, lim {real}, remaining {real},
  status TEXT NOT NULL, window_s {real}, representative INTEGER NOT NULL, blocks INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (provider, credential, name))"""
_SQLITE_REAL, _PG_REAL = "REAL", "DOUBLE PRECISION"

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "ledger and cooldowns",
        sqlite=(
            _REQUESTS_SQLITE,
            "CREATE INDEX IF NOT EXISTS requests_ts ON requests(ts_start)",
            _COOLDOWNS.format(real=_SQLITE_REAL),
        ),
        postgres=(
            _REQUESTS_POSTGRES,
            "CREATE INDEX IF NOT EXISTS requests_ts ON requests(ts_start)",
            _COOLDOWNS.format(real=_PG_REAL),
        ),
    ),
    Migration(
        2,
        "member keys and the audit log",
        sqlite=(
            _MEMBER_KEYS.format(real=_SQLITE_REAL),
            _AUDIT.format(serial="INTEGER PRIMARY KEY AUTOINCREMENT", real=_SQLITE_REAL),
            "CREATE INDEX IF NOT EXISTS audit_log_ts ON audit_log(ts)",
            # Append-only: the database itself refuses to change or remove an entry.
            "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
            "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
        ),
        postgres=(
            _MEMBER_KEYS.format(real=_PG_REAL),
            _AUDIT.format(serial="BIGSERIAL PRIMARY KEY", real=_PG_REAL),
            "CREATE INDEX IF NOT EXISTS audit_log_ts ON audit_log(ts)",
            "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$BEGIN RAISE EXCEPTION 'the audit log is append-only'; END$$",
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
        ),
    ),
    # The quota ledger's readings (`quota/store.py`; SQLite also creates the same table on open, as before).
    Migration(3, "quota windows", sqlite=(_QUOTA.format(real=_SQLITE_REAL),), postgres=(_QUOTA.format(real=_PG_REAL),)),
)
LATEST = MIGRATIONS[-1].version
_VERSION_TABLE = ("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                  "applied_at {real} NOT NULL)")  # fmt: skip


def _newer(found: set[int]) -> None:
    if found and max(found) > LATEST:
        log.warning("the database schema is version %d, newer than this engine's %d: a newer engine migrated it",
                    max(found), LATEST)  # fmt: skip


def migrate_sqlite(conn: sqlite3.Connection) -> list[int]:
    """Apply what is missing under BEGIN IMMEDIATE (blocking; run in a thread). Returns the versions applied."""
    saved, conn.isolation_level = conn.isolation_level, None  # explicit transaction control
    applied: list[int] = []
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(_VERSION_TABLE.format(real=_SQLITE_REAL))
            done = {v for (v,) in conn.execute("SELECT version FROM schema_version")}
            _newer(done)
            for m in MIGRATIONS:
                if m.version in done:
                    continue
                for statement in m.sqlite:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version VALUES (?, ?, ?)", (m.version, m.name, time.time()))
                applied.append(m.version)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.isolation_level = saved
    return applied


async def migrate_postgres(
    conn: asyncpg.Connection, after: Sequence[Callable[[asyncpg.Connection], Awaitable[None]]] = ()
) -> list[int]:
    """Apply what is missing in one transaction, under the advisory lock every replica takes first.

    `after` (columns and indexes added in place) runs under the same lock: PostgreSQL's
    `CREATE INDEX IF NOT EXISTS` is not safe against another replica running it at the same moment."""
    applied: list[int] = []
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        async with conn.transaction():
            await conn.execute(_VERSION_TABLE.format(real=_PG_REAL))
            done = {r[0] for r in await conn.fetch("SELECT version FROM schema_version")}
            _newer(done)
            for m in MIGRATIONS:
                if m.version in done:
                    continue
                for statement in m.postgres:
                    await conn.execute(statement)
                await conn.execute("INSERT INTO schema_version VALUES ($1, $2, $3)", m.version, m.name, time.time())
                applied.append(m.version)
        for step in after:
            await step(conn)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    return applied
