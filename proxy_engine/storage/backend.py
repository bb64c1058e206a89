"""The storage backend an engine uses, chosen once at start-up from `team.postgres`.

Without `team:` (or without `team.postgres`) everything stays in the ledger's SQLite file exactly as
before: the ledger and cooldown stores are their SQLite defaults, and the migrations only add the
tables of newer concerns. With it, every durable store talks to one PostgreSQL pool. The URL is a
secret (it may carry a password): it is resolved in a thread, added to the log redactor, and never
logged, stored or echoed.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from proxy_engine.credentials.cooldowns import CooldownTable, DatabaseCooldownTable
from proxy_engine.quota.store import DatabaseQuotaTable, QuotaTable
from proxy_engine.storage.audit import AuditLog
from proxy_engine.storage.database import BackendKind, Database
from proxy_engine.storage.ledger_store import LedgerStore
from proxy_engine.storage.member_keys import MemberKeyStore
from proxy_engine.storage.sqlite_database import SqliteDatabase

if TYPE_CHECKING:
    from proxy_engine.config import TeamConfig

log = logging.getLogger("proxy_engine.storage")


def resolve_server_url(ref: str) -> str | None:
    """The URL itself, or what its `keyring:`/`env:` reference holds; added to the log redactor.

    Blocking (a keyring may be asked): call it in a thread. `team.redis` is resolved the same way."""
    from urllib.parse import urlsplit

    from proxy_engine.config import SECRET_REF
    from proxy_engine.logs import REDACTOR
    from proxy_engine.runtime import resolve_ref

    value = resolve_ref(ref) if SECRET_REF.match(ref) else ref
    if value:
        REDACTOR.add(value)
        with contextlib.suppress(ValueError):  # not a URL: asyncpg says so, without echoing it (scrubbed)
            REDACTOR.add(urlsplit(value).password)
    return value


class Storage:
    """One per engine process: the `Database` and the stores over it."""

    def __init__(self, db: Database, replica_id: str | None = None) -> None:
        self.db = db
        self.replica_id = replica_id
        self.member_keys = MemberKeyStore(db)
        self.audit = AuditLog(db, replica_id)
        self._ledger: LedgerStore | None = None
        if db.kind == "postgres":  # PostgreSQL's modules load only in team mode
            from proxy_engine.storage.postgres_ledger import PostgresLedgerStore

            self._ledger = PostgresLedgerStore(db)  # type: ignore[arg-type]

    @classmethod
    def from_config(cls, ledger_file: Path, team: TeamConfig | None, replica_id: str | None = None) -> Storage:
        if team is None or not team.postgres:
            return cls(SqliteDatabase(ledger_file), replica_id)
        from proxy_engine.storage.postgres_database import PostgresDatabase

        ref = team.postgres
        return cls(PostgresDatabase(lambda: resolve_server_url(ref)), team.replica_id or replica_id)

    @property
    def kind(self) -> BackendKind:
        return self.db.kind

    def ledger_store(self) -> LedgerStore | None:
        """PostgreSQL's ledger store in team mode; None: the ledger keeps its own SQLite file."""
        return self._ledger

    def quota_table(self) -> QuotaTable | None:
        """PostgreSQL's quota readings in team mode; None: the `quota_windows` table of the SQLite file."""
        return DatabaseQuotaTable(self.db) if self.kind == "postgres" else None

    def cooldown_table(self) -> CooldownTable | None:
        """PostgreSQL's cooldown table in team mode; None: cooldowns stay in the SQLite file."""
        return DatabaseCooldownTable(self.db) if self.kind == "postgres" else None

    async def open(self) -> None:
        await self.db.open()
        log.info("storage: %s", "PostgreSQL (team mode)" if self.kind == "postgres" else "SQLite")

    async def close(self) -> None:
        await self.db.close()


def configured_storage(config_file: Path, ledger_file: Path) -> Storage:
    """For commands outside the engine (`auth cooldowns`): the storage the config names, SQLite if none
    (or if the config cannot be read: the command then acts on the local file, as before team mode)."""
    from proxy_engine.config import ConfigError, load_config

    try:
        team = load_config(config_file).config.team
    except ConfigError:
        team = None
    return Storage.from_config(ledger_file, team)
