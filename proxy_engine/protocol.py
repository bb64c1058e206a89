"""The event protocol between the engine and its subscribers (the TUI, `tail`).

One JSON object per line on a Unix socket. Every event has `v`, `type` and `ts`.
This module is shared with the TUI, so it only holds names and encoding helpers.
"""

from __future__ import annotations

import json
import time
from typing import Any, Final

PROTOCOL_VERSION: Final = 1

HELLO: Final = "hello"
REQUEST_STARTED: Final = "request.started"
REQUEST_FINISHED: Final = "request.finished"
STATS: Final = "stats"
CONFIG_RELOADED: Final = "config.reloaded"
AUTH_CHANGED: Final = "auth.changed"
CREDENTIAL_COOLDOWN: Final = "credential.cooldown"
BUDGET_ALERT: Final = "budget.alert"
LOG: Final = "log"
DROPPED: Final = "dropped"

EVENT_TYPES: Final = frozenset(
    {
        HELLO,
        REQUEST_STARTED,
        REQUEST_FINISHED,
        STATS,
        CONFIG_RELOADED,
        AUTH_CHANGED,
        CREDENTIAL_COOLDOWN,
        BUDGET_ALERT,
        LOG,
        DROPPED,
    }
)

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


def encode_event(type_: str, fields: dict[str, Any], ts: float | None = None) -> bytes:
    """One newline-terminated JSON line."""
    obj = {"v": PROTOCOL_VERSION, "type": type_, "ts": time.time() if ts is None else ts}
    obj.update(fields)
    return _dumps(obj).encode() + b"\n"


def decode_event(line: bytes | str) -> dict[str, Any]:
    obj = json.loads(line)
    if not isinstance(obj, dict) or "type" not in obj:
        raise ValueError("not an event")
    return obj
