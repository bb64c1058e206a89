"""The audit log of management actions: append and list, nothing else (both databases refuse
UPDATE and DELETE on the table, see `migrations.py`)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from proxy_engine.storage.database import Database


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    ts: float
    actor: str  # who: "admin", a member key id, "cli"
    action: str  # e.g. "config.changed", "key.created", "key.revoked", "cooldown.cleared", "login.added"
    target: str | None
    detail: dict[str, Any] | None  # never a secret: callers pass ids and references only
    replica: str | None


class AuditLog:
    def __init__(self, db: Database, replica: str | None = None) -> None:
        self.db = db
        self.replica = replica

    async def append(
        self, actor: str, action: str, target: str | None = None, detail: dict[str, Any] | None = None
    ) -> None:
        await self.db.execute(
            "INSERT INTO audit_log (ts, actor, action, target, detail, replica) VALUES (?, ?, ?, ?, ?, ?)",
            time.time(), actor, action, target, None if detail is None else json.dumps(detail), self.replica,
        )  # fmt: skip

    async def list(self, since: float = 0.0, limit: int = 1000) -> list[AuditEntry]:
        rows = await self.db.fetch(
            "SELECT seq, ts, actor, action, target, detail, replica FROM audit_log WHERE ts >= ? "
            "ORDER BY seq DESC LIMIT ?",
            float(since), int(limit),
        )  # fmt: skip
        return [AuditEntry(int(s), float(ts), a, act, t, None if d is None else json.loads(d), r)
                for s, ts, a, act, t, d, r in rows]  # fmt: skip
