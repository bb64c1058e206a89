"""Member keys, stored hashed: the table and its simple calls (the `keys` commands build on these).

Only the SHA-256 of a key is stored (`hash_key`), plus a short prefix to tell keys apart in a list;
a key is random and long, so a plain hash is enough and a lookup is one indexed equality. Lookups
compare the hash in the database; callers that compare hashes themselves use `hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass

from proxy_engine.storage.database import Database

_FIELDS = ("id, name, team, key_hash, key_prefix, role, monthly_budget_usd, models, rpm, tpm, expires_at, "
           "created_at, revoked_at")  # fmt: skip


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True)
class MemberKey:
    id: str
    name: str
    team: str | None
    key_hash: str
    key_prefix: str  # the key's first characters, shown in lists; never enough to use it
    role: str  # "member" | "admin"
    monthly_budget_usd: float | None
    models: tuple[str, ...] | None  # None: every model
    rpm: int | None
    tpm: int | None
    expires_at: float | None
    created_at: float
    revoked_at: float | None

    def usable(self, now: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def _key(row: tuple) -> MemberKey:
    (id_, name, team, key_hash, prefix, role, budget, models, rpm, tpm, expires, created, revoked) = row
    return MemberKey(
        id=id_, name=name, team=team, key_hash=key_hash, key_prefix=prefix, role=role,
        monthly_budget_usd=None if budget is None else float(budget),
        models=None if models is None else tuple(json.loads(models)),
        rpm=None if rpm is None else int(rpm), tpm=None if tpm is None else int(tpm),
        expires_at=None if expires is None else float(expires), created_at=float(created),
        revoked_at=None if revoked is None else float(revoked),
    )  # fmt: skip


class MemberKeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        name: str,
        key: str,
        *,
        team: str | None = None,
        role: str = "member",
        monthly_budget_usd: float | None = None,
        models: list[str] | None = None,
        rpm: int | None = None,
        tpm: int | None = None,
        expires_at: float | None = None,
    ) -> MemberKey:
        """Store a new key's hash (the caller shows the key once and keeps it nowhere)."""
        row = (f"mk_{secrets.token_hex(6)}", name, team, hash_key(key), key[:8], role,
               None if monthly_budget_usd is None else float(monthly_budget_usd),
               None if models is None else json.dumps(list(models)), rpm, tpm,
               None if expires_at is None else float(expires_at), time.time(), None)  # fmt: skip
        await self.db.execute(f"INSERT INTO member_keys ({_FIELDS}) VALUES ({','.join('?' * len(row))})", *row)
        return _key(row)

    async def find_by_hash(self, key_hash: str) -> MemberKey | None:
        rows = await self.db.fetch(f"SELECT {_FIELDS} FROM member_keys WHERE key_hash = ?", key_hash)
        return _key(rows[0]) if rows else None

    async def list(self, include_revoked: bool = False) -> list[MemberKey]:
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        return [_key(r) for r in await self.db.fetch(f"SELECT {_FIELDS} FROM member_keys{where} ORDER BY created_at")]

    async def revoke(self, key_id: str) -> bool:
        """Mark a key revoked (kept for the audit trail); False when no live key has that id."""
        sql = "UPDATE member_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING id"
        rows = await self.db.fetch(sql, time.time(), key_id)
        return bool(rows)
