"""Event type names, the protocol version and what every payload offers."""

from __future__ import annotations

from typing import Any, ClassVar, Final, Protocol

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
QUOTA_UPDATED: Final = "quota.updated"
QUOTA_ALERT: Final = "quota.alert"

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
        QUOTA_UPDATED,
        QUOTA_ALERT,
    }
)


class EventPayload(Protocol):
    """What every payload class offers; `ts` is the envelope's time, set when parsed."""

    TYPE: ClassVar[str]
    ts: float

    def to_dict(self) -> dict[str, Any]: ...
