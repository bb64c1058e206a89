"""`/v0/sessions` and one session's requests, from whichever database holds the ledger.

`usage/sessions.py` reads the SQLite file; in team mode the PostgreSQL ledger store answers the
same questions. The choice is made here, once, so `management.py` does not branch on a backend.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from proxy_engine.usage.ledger import CostLedger
from proxy_engine.usage.sessions import query_session_requests, query_sessions

if TYPE_CHECKING:
    from proxy_engine.storage.postgres_ledger import PostgresLedgerStore


def _postgres(ledger: CostLedger) -> PostgresLedgerStore | None:
    """The ledger's PostgreSQL store in team mode (imported only then), else None: the SQLite file."""
    if ledger.store is None:
        return None
    from proxy_engine.storage.postgres_ledger import PostgresLedgerStore

    return ledger.store if isinstance(ledger.store, PostgresLedgerStore) else None


async def recent_sessions(ledger: CostLedger, since: float, limit: int) -> list[dict[str, Any]]:
    await ledger.flush()
    if (store := _postgres(ledger)) is not None:
        return await store.sessions(since, limit)
    return await asyncio.to_thread(query_sessions, ledger.path, since, limit)


async def session_requests(ledger: CostLedger, session: str, limit: int) -> list[dict[str, Any]]:
    await ledger.flush()
    if (store := _postgres(ledger)) is not None:
        return await store.session_requests(session, limit)
    return await asyncio.to_thread(query_session_requests, ledger.path, session, limit)
