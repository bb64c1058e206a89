"""What the usage ledger (`usage/ledger.py` `CostLedger`) needs from a database.

`CostLedger` owns batching, the journal, retries and health; a `LedgerStore` only writes a batch
and answers the `/v0` and budget queries. SQLite's (`usage/ledger.py` `SqliteLedgerStore`) is
today's file; PostgreSQL's is `postgres_ledger.py`. A store raises `StorageUnavailable` (or, for
SQLite, `sqlite3.Error`/`OSError`) when it cannot write: the batch is kept and retried.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from proxy_engine.usage.history import HistoryQuery

Row = tuple[Any, ...]


class LedgerStore(Protocol):
    backend: str  # "sqlite" | "postgres", reported in the ledger's health

    async def open(self) -> None: ...

    async def commit(self, batch: list[Row], segments: list[Path], from_disk: bool) -> None:
        """Insert `batch` (ids are unique: a row already stored is skipped) and, with `from_disk`, the rows of
        the journal `segments`; then delete the segments. All or nothing, except rows the database refuses."""

    async def recent(self, limit: int) -> list[dict[str, Any]]: ...

    async def usage(self, group: str, since: float) -> list[dict[str, Any]]: ...

    async def spend_by_client(self, since: float) -> dict[str, float]: ...

    async def history(self, q: HistoryQuery) -> list[dict[str, Any]]: ...

    async def close(self) -> None: ...
