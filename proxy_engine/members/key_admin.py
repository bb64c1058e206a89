"""Create, list, revoke and rotate member keys, each change written to the audit log.

The CLI (`proxypal-engine keys`, on the configured storage) and `/v0/keys` (on the running engine)
both come here, so a key made either way is the same row and the same audit entry. The key itself
is returned once to the caller and kept nowhere: only its SHA-256 and a short prefix are stored.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from proxy_engine.members.keys import new_member_key, parse_expiry
from proxy_engine.storage.backend import Storage
from proxy_engine.storage.member_keys import MemberKey, hash_key

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\- ]{0,63}$")
_LIMIT_INT = 10**9


@dataclass(frozen=True)
class KeySpec:
    """What a new key may do; None: no limit of that kind."""

    name: str
    team: str | None = None
    monthly_budget_usd: float | None = None
    models: tuple[str, ...] | None = None
    rpm: int | None = None
    tpm: int | None = None
    expires_at: float | None = None

    @classmethod
    def from_json(cls, body: Any) -> KeySpec:  # noqa: ANN401  (a JSON body)
        """Validated; a ValueError says which field is wrong (the API answers it as a 400)."""
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        unknown = set(body) - {"name", "team", "monthly_budget_usd", "models", "rpm", "tpm", "expires"}
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        models = body.get("models")
        if isinstance(models, str):
            models = [m for m in models.split(",") if m.strip()]
        if models is not None and (not isinstance(models, list) or not all(isinstance(m, str) for m in models)):
            raise ValueError("models must be a list of model names")
        expires = body.get("expires")
        if expires is not None and not isinstance(expires, str | int | float):
            raise ValueError("expires must be a date (YYYY-MM-DD) or an epoch time")
        return cls.checked(
            name=body.get("name"),
            team=body.get("team"),
            monthly_budget_usd=body.get("monthly_budget_usd"),
            models=models,
            rpm=body.get("rpm"),
            tpm=body.get("tpm"),
            expires_at=parse_expiry(expires) if isinstance(expires, str) else expires,
        )

    @classmethod
    def checked(
        cls,
        *,
        name: object,
        team: object = None,
        monthly_budget_usd: object = None,
        models: list[str] | None = None,
        rpm: object = None,
        tpm: object = None,
        expires_at: object = None,
    ) -> KeySpec:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError("name: 1-64 letters, digits, space or _.@- (starting with a letter or digit)")
        if team is not None and (not isinstance(team, str) or not _NAME.match(team)):
            raise ValueError("team: 1-64 letters, digits, space or _.@- (starting with a letter or digit)")
        budget = _number("monthly_budget_usd", monthly_budget_usd)
        if expires_at is not None and (isinstance(expires_at, bool) or not isinstance(expires_at, int | float)):
            raise ValueError("expires must be a date")
        names = None if models is None else tuple(dict.fromkeys(m.strip() for m in models if m.strip()))
        if names is not None and (not names or any(len(m) > 256 for m in names)):
            raise ValueError("models: at least one name, each at most 256 characters")
        return cls(name, team, budget, names, _count("rpm", rpm), _count("tpm", tpm),
                   None if expires_at is None else float(expires_at))  # fmt: skip


def _number(field: str, v: object) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < 1e12:
        raise ValueError(f"{field} must be a number of dollars, 0 or more")
    return float(v)


def _count(field: str, v: object) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= _LIMIT_INT:
        raise ValueError(f"{field} must be a whole number from 1 to {_LIMIT_INT}")
    return v


def key_view(k: MemberKey) -> dict[str, Any]:
    """A key as lists and the API show it: everything but its hash."""
    return {
        "id": k.id, "name": k.name, "team": k.team, "prefix": k.key_prefix, "role": k.role,
        "monthly_budget_usd": k.monthly_budget_usd, "models": None if k.models is None else list(k.models),
        "rpm": k.rpm, "tpm": k.tpm, "expires_at": k.expires_at, "created_at": k.created_at,
        "revoked_at": k.revoked_at, "active": k.usable(time.time()),
    }  # fmt: skip


class KeyAdmin:
    """The key commands over one `Storage`; `actor` names who asked (audit: admin, cli:USER)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.store = storage.member_keys

    async def create(self, actor: str, spec: KeySpec) -> tuple[MemberKey, str]:
        key = new_member_key()
        made = await self.store.create(
            spec.name, key, team=spec.team, monthly_budget_usd=spec.monthly_budget_usd,
            models=None if spec.models is None else list(spec.models), rpm=spec.rpm, tpm=spec.tpm,
            expires_at=spec.expires_at,
        )  # fmt: skip
        detail = {k: v for k, v in key_view(made).items() if k not in ("id", "role", "created_at", "revoked_at")}
        await self.storage.audit.append(actor, "key.created", made.id, detail)
        return made, key

    async def list(self, include_revoked: bool = False) -> list[MemberKey]:
        return await self.store.list(include_revoked=include_revoked)

    async def find(self, ref: str) -> MemberKey | None:
        """A key by its id, else the one live key of that name."""
        keys = await self.store.list(include_revoked=True)
        by_id = [k for k in keys if k.id == ref]
        if by_id:
            return by_id[0]
        named = [k for k in keys if k.name == ref and k.revoked_at is None]
        return named[0] if len(named) == 1 else None

    async def revoke(self, actor: str, ref: str) -> MemberKey | None:
        """None when no live key has that id or name."""
        k = await self.find(ref)
        if k is None or k.revoked_at is not None or not await self.store.revoke(k.id):
            return None
        await self.storage.audit.append(actor, "key.revoked", k.id, {"name": k.name, "prefix": k.key_prefix})
        return k

    async def rotate(self, actor: str, ref: str) -> tuple[MemberKey, str] | None:
        """A new key for the same member (same id, limits and usage); the old key stops working at once."""
        k = await self.find(ref)
        if k is None or k.revoked_at is not None:
            return None
        key = new_member_key()
        sql = "UPDATE member_keys SET key_hash = ?, key_prefix = ? WHERE id = ? AND revoked_at IS NULL RETURNING id"
        if not await self.storage.db.fetch(sql, hash_key(key), key[:8], k.id):
            return None
        await self.storage.audit.append(actor, "key.rotated", k.id, {"name": k.name, "old_prefix": k.key_prefix,
                                                                     "prefix": key[:8]})  # fmt: skip
        rotated = await self.store.find_by_hash(hash_key(key))
        assert rotated is not None  # just written
        return rotated, key
