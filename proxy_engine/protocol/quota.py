"""Payloads about subscription and rate-limit quota: a credential's windows changed, a threshold was reached."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from proxy_engine.protocol.fields import _dict, _float, _list, _opt_float, _str
from proxy_engine.protocol.names import QUOTA_ALERT, QUOTA_UPDATED


@dataclass(slots=True, kw_only=True)
class QuotaUpdated:
    """Every window of one credential, sent only when one of them changed (the `/v0/quota` window shape)."""

    TYPE: ClassVar[str] = QUOTA_UPDATED
    provider: str
    credential: str
    windows: list[dict[str, Any]] = field(default_factory=list)
    ts: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "credential": self.credential, "windows": self.windows}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QuotaUpdated:
        return cls(
            provider=_str(d.get("provider")),
            credential=_str(d.get("credential")),
            windows=[_dict(w) for w in _list(d.get("windows")) if isinstance(w, dict)],
            ts=_float(d.get("ts")),
        )


@dataclass(slots=True, kw_only=True)
class QuotaAlert:
    """A window reached `threshold` percent used (one of `quota.alert_at`); `resets_at` is epoch seconds."""

    TYPE: ClassVar[str] = QUOTA_ALERT
    provider: str
    credential: str
    window: str
    used_percent: float
    threshold: float
    resets_at: float | None = None
    ts: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "credential": self.credential,
            "window": self.window,
            "used_percent": self.used_percent,
            "threshold": self.threshold,
            "resets_at": self.resets_at,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QuotaAlert:
        return cls(
            provider=_str(d.get("provider")),
            credential=_str(d.get("credential")),
            window=_str(d.get("window")),
            used_percent=_float(d.get("used_percent")),
            threshold=_float(d.get("threshold")),
            resets_at=_opt_float(d.get("resets_at")),
            ts=_float(d.get("ts")),
        )
