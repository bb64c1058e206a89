"""Typed messages from workers and readers to the app.

None of them bubble. Those where only the newest matters (`EngineStatusChanged` is
not one of them: every state is shown, if briefly) are replaceable, so a newer one
supersedes one still queued, as in toolong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

from proxypal_tui.core.engine_state import EngineStatus
from proxypal_tui.core.ledger_series import LedgerSeries
from proxypal_tui.core.login import LoginEvent


class EngineStatusChanged(Message, bubble=False):
    def __init__(self, status: EngineStatus) -> None:
        super().__init__()
        self.status = status


class EngineEvents(Message, bubble=False):
    """A batch of protocol events, in order. The next batch waits until this one is handled."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        super().__init__()
        self.events = events


@dataclass
class UsageSnapshot:
    day_rows: list[dict[str, Any]] = field(default_factory=list)
    hour_rows: list[dict[str, Any]] = field(default_factory=list)
    ledger: LedgerSeries | None = None  # per-minute and today's split, from /v0/history


class RecentRequestsLoaded(Message, bubble=False):
    """The ledger's latest requests (GET /v0/requests), to rebuild the feed after a restart or on attach."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        super().__init__()
        self.records = records


class HistoryLoaded(Message, bubble=False):
    """Rows of GET /v0/history for (by, group); error is set instead when the engine could not answer."""

    def __init__(self, by: str, group: str, rows: list[dict[str, Any]], error: str = "") -> None:
        super().__init__()
        self.by, self.group, self.rows, self.error = by, group, rows, error


class SessionsLoaded(Message, bubble=False):
    """Rows of GET /v0/sessions (the ledger's agent sessions); error is set instead when it failed."""

    def __init__(self, rows: list[dict[str, Any]], error: str = "") -> None:
        super().__init__()
        self.rows, self.error = rows, error


class SessionRequestsLoaded(Message, bubble=False):
    """One session's requests (GET /v0/requests?session=ID); error is set instead when it failed."""

    def __init__(self, session: str, rows: list[dict[str, Any]], error: str = "") -> None:
        super().__init__()
        self.session, self.rows, self.error = session, rows, error


class UsageLoaded(Message, bubble=False):
    def __init__(self, usage: UsageSnapshot) -> None:
        super().__init__()
        self.usage = usage

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, UsageLoaded)


class QuotaLoaded(Message, bubble=False):
    """The engine's `/v0/quota` answer: every credential's quota windows."""

    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__()
        self.answer = answer

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, QuotaLoaded)


class AuthStatusLoaded(Message, bubble=False):
    """The engine's `/v0/auth/status` answer: the secret store and every provider's credentials."""

    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__()
        self.answer = answer

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, AuthStatusLoaded)


class CooldownsCleared(Message, bubble=False):
    def __init__(self, cleared: int, scope: str) -> None:
        super().__init__()
        self.cleared = cleared
        self.scope = scope


class ApiFailed(Message, bubble=False):
    """A management call failed; `what` names the call for the user."""

    def __init__(self, what: str, error: str) -> None:
        super().__init__()
        self.what = what
        self.error = error


class ConfigReloadResult(Message, bubble=False):
    """The engine's answer to a config change: from the event, or from POST /v0/config/reload."""

    def __init__(self, ok: bool, errors: list[dict[str, Any]], source: str) -> None:
        super().__init__()
        self.ok = ok
        self.errors = errors
        self.source = source


class LoginProgress(Message, bubble=False):
    """A line from a running `proxypal-engine login/logout --json` (for the dialog that runs it)."""

    def __init__(self, event: LoginEvent) -> None:
        super().__init__()
        self.event = event


class LoginFinished(Message, bubble=False):
    """A login, key or logout went through (posted to the app: reload states, maybe edit the config)."""

    def __init__(self, event: LoginEvent, reference: tuple[str, str] | None = None) -> None:
        super().__init__()
        self.event = event
        self.reference = reference  # (provider, "keyring:NAME") to put in the config, if asked


class ThemesReloaded(Message, bubble=False):
    def __init__(self, names: list[str], errors: list[str]) -> None:
        super().__init__()
        self.names = names
        self.errors = errors
