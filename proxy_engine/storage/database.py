"""The `Database` interface: a few async calls with portable SQL, so a simple store is written once.

SQL uses `?` placeholders (PostgreSQL's backend numbers them), `ON CONFLICT ... DO UPDATE/NOTHING`,
and types both backends share (TEXT, INTEGER/BIGINT, REAL/DOUBLE PRECISION through `REAL`).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

Params = tuple[Any, ...]
BackendKind = Literal["sqlite", "postgres"]


class Database(Protocol):
    kind: BackendKind

    async def open(self) -> None:
        """Connect (where that applies) and run the migrations; an unreachable server is not an error here."""

    async def execute(self, sql: str, *args: Any) -> None: ...  # noqa: ANN401  (any SQL parameter)

    async def executemany(self, sql: str, rows: list[Params]) -> None: ...

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]: ...  # noqa: ANN401

    async def close(self) -> None: ...
