"""Payloads about logins and credentials: auth changes, cooldowns, budget alerts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from proxy_engine.protocol.fields import _float, _int, _str
from proxy_engine.protocol.names import AUTH_CHANGED, BUDGET_ALERT, CREDENTIAL_COOLDOWN


@dataclass(slots=True, kw_only=True)
class AuthChanged:
    """state: valid, expiring, expired, refreshing, error or missing."""

    TYPE: ClassVar[str] = AUTH_CHANGED
    provider: str
    credential: str
    state: str
    message: str = ""
    ts: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "credential": self.credential, "state": self.state, "message": self.message}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AuthChanged:
        return cls(
            provider=_str(d.get("provider")),
            credential=_str(d.get("credential")),
            state=_str(d.get("state")),
            message=_str(d.get("message")),
            ts=_float(d.get("ts")),
        )


@dataclass(slots=True, kw_only=True)
class CredentialCooldown:
    """`status` is the HTTP status that caused it (0 for a timeout); `until` is epoch seconds."""

    TYPE: ClassVar[str] = CREDENTIAL_COOLDOWN
    provider: str
    credential: str
    model: str
    until: float
    reason: str = ""
    status: int = 0
    ts: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "credential": self.credential,
            "model": self.model,
            "until": self.until,
            "reason": self.reason,
            "status": self.status,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CredentialCooldown:
        return cls(
            provider=_str(d.get("provider")),
            credential=_str(d.get("credential")),
            model=_str(d.get("model")),
            until=_float(d.get("until")),
            reason=_str(d.get("reason")),
            status=_int(d.get("status")),
            ts=_float(d.get("ts")),
        )


@dataclass(slots=True, kw_only=True)
class BudgetAlert:
    """`threshold` is the fraction of `limit` that `spent` reached (0.5, 0.8, 1.0)."""

    TYPE: ClassVar[str] = BUDGET_ALERT
    scope: str
    spent: float
    limit: float
    threshold: float
    ts: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "spent": self.spent, "limit": self.limit, "threshold": self.threshold}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BudgetAlert:
        return cls(
            scope=_str(d.get("scope"), "budget"),
            spent=_float(d.get("spent")),
            limit=_float(d.get("limit")),
            threshold=_float(d.get("threshold")),
            ts=_float(d.get("ts")),
        )
