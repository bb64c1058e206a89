"""The event protocol between the engine and its subscribers (the TUI, `tail`).

One JSON object per line on a Unix socket. Every event has `v`, `type` and `ts`; the rest
is the event's payload, one dataclass per type below. The engine builds payloads here and
the TUI parses them here, so each event's shape is written once. `to_dict` is plain field
copying (no validation): `request.finished` is built on the request path. `from_dict` is
lenient, as a reader of a newer or older engine must be: unknown fields are ignored and
missing ones take their defaults. This module is shared with the TUI, so it imports only
the standard library.
"""

from __future__ import annotations

import json
import time
from typing import Any, Final

from proxy_engine.protocol.credentials import AuthChanged, BudgetAlert, CredentialCooldown
from proxy_engine.protocol.engine import (
    ConfigProblem,
    ConfigReloaded,
    Dropped,
    Hello,
    HelloSnapshot,
    LedgerHealth,
    Log,
    Stats,
    TeamHealth,
)
from proxy_engine.protocol.names import (
    AUTH_CHANGED,
    BUDGET_ALERT,
    CONFIG_RELOADED,
    CREDENTIAL_COOLDOWN,
    DROPPED,
    EVENT_TYPES,
    HELLO,
    LOG,
    PROTOCOL_VERSION,
    QUOTA_ALERT,
    QUOTA_UPDATED,
    REQUEST_FINISHED,
    REQUEST_STARTED,
    STATS,
    EventPayload,
)
from proxy_engine.protocol.quota import QuotaAlert, QuotaUpdated
from proxy_engine.protocol.requests import RequestError, RequestFinished, RequestStarted

Event = (
    Hello | RequestStarted | RequestFinished | Stats | ConfigReloaded | AuthChanged | CredentialCooldown
    | BudgetAlert | Log | Dropped | QuotaUpdated | QuotaAlert
)  # fmt: skip

PAYLOADS: Final[dict[str, Any]] = {
    cls.TYPE: cls
    for cls in (Hello, RequestStarted, RequestFinished, Stats, ConfigReloaded, AuthChanged, CredentialCooldown,
                BudgetAlert, Log, Dropped, QuotaUpdated, QuotaAlert)
}  # fmt: skip

# ---- the wire ---------------------------------------------------------------------------------------

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


def encode_event(type_: str, fields: dict[str, Any], ts: float | None = None) -> bytes:
    """One newline-terminated JSON line."""
    obj = {"v": PROTOCOL_VERSION, "type": type_, "ts": time.time() if ts is None else ts}
    obj.update(fields)
    return _dumps(obj).encode() + b"\n"


def encode_payload(payload: EventPayload, ts: float | None = None) -> bytes:
    return encode_event(payload.TYPE, payload.to_dict(), ts)


def decode_event(line: bytes | str) -> dict[str, Any]:
    """One line as a dict with at least a `type`; ValueError for anything else."""
    obj = json.loads(line)
    if not isinstance(obj, dict) or "type" not in obj:
        raise ValueError("not an event")
    return obj


def parse_event(obj: dict[str, Any]) -> Event | None:
    """The typed payload of a decoded event; None for a type this version does not know."""
    cls = PAYLOADS.get(str(obj.get("type")))
    return cls.from_dict(obj) if cls is not None else None


__all__ = [
    "AUTH_CHANGED",
    "BUDGET_ALERT",
    "CONFIG_RELOADED",
    "CREDENTIAL_COOLDOWN",
    "DROPPED",
    "EVENT_TYPES",
    "HELLO",
    "LOG",
    "PAYLOADS",
    "PROTOCOL_VERSION",
    "QUOTA_ALERT",
    "QUOTA_UPDATED",
    "REQUEST_FINISHED",
    "REQUEST_STARTED",
    "STATS",
    "AuthChanged",
    "BudgetAlert",
    "ConfigProblem",
    "ConfigReloaded",
    "CredentialCooldown",
    "Dropped",
    "Event",
    "EventPayload",
    "Hello",
    "HelloSnapshot",
    "LedgerHealth",
    "Log",
    "QuotaAlert",
    "QuotaUpdated",
    "RequestError",
    "RequestFinished",
    "RequestStarted",
    "Stats",
    "TeamHealth",
    "decode_event",
    "encode_event",
    "encode_payload",
    "parse_event",
]
