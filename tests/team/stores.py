"""Open the storage layer on either backend for a test, and read PostgreSQL back directly."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from proxy_engine.config import TeamConfig
from proxy_engine.storage.backend import Storage
from proxy_engine.usage.ledger import CostLedger


@contextlib.asynccontextmanager
async def opened(backend: str, tmp_path: Path, postgres_url: str | None) -> AsyncIterator[tuple[Storage, CostLedger]]:
    """A `Storage` and a `CostLedger` over it, as an engine opens them (migrations included)."""
    team = TeamConfig(postgres=postgres_url) if backend == "postgres" else None
    ledger_file = tmp_path / "data" / "usage.db"
    storage = Storage.from_config(ledger_file, team, replica_id="test-replica")
    await storage.open()
    ledger = CostLedger(ledger_file, tmp_path / "data" / "journal", store=storage.ledger_store())
    await ledger.open()
    try:
        yield storage, ledger
    finally:
        await ledger.close()
        await storage.close()


async def pg_fetch(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()
