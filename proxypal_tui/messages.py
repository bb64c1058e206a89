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


class EngineStatusChanged(Message, bubble=False):
    def __init__(self, status: EngineStatus) -> None:
        super().__init__()
        self.status = status


class EngineEvents(Message, bubble=False):
    """A batch of protocol events, in order. The next batch waits until this one is handled."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        super().__init__()
        self.events = events


class EngineOutput(Message, bubble=False):
    """A line the engine child wrote to stdout/stderr."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


@dataclass
class UsageSnapshot:
    day_rows: list[dict[str, Any]] = field(default_factory=list)
    hour_rows: list[dict[str, Any]] = field(default_factory=list)


class UsageLoaded(Message, bubble=False):
    def __init__(self, usage: UsageSnapshot) -> None:
        super().__init__()
        self.usage = usage

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, UsageLoaded)


class AuthStatusLoaded(Message, bubble=False):
    def __init__(self, providers: list[dict[str, Any]]) -> None:
        super().__init__()
        self.providers = providers

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, AuthStatusLoaded)


class ApiFailed(Message, bubble=False):
    """A management call failed; `what` names the call for the user."""

    def __init__(self, what: str, error: str) -> None:
        super().__init__()
        self.what = what
        self.error = error


class ConfigSaved(Message, bubble=False):
    """The config file was written; the engine's verdict arrives as `config.reloaded`."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path


class ConfigReloadResult(Message, bubble=False):
    """The engine's answer to a config change: from the event, or from POST /v0/config/reload."""

    def __init__(self, ok: bool, errors: list[dict[str, Any]], source: str) -> None:
        super().__init__()
        self.ok = ok
        self.errors = errors
        self.source = source


class ApiKeyStored(Message, bubble=False):
    def __init__(self, provider: str, ref: str) -> None:
        super().__init__()
        self.provider = provider
        self.ref = ref


class ApiKeyFailed(Message, bubble=False):
    def __init__(self, provider: str, error: str) -> None:
        super().__init__()
        self.provider = provider
        self.error = error


class ThemesReloaded(Message, bubble=False):
    def __init__(self, names: list[str], errors: list[str]) -> None:
        super().__init__()
        self.names = names
        self.errors = errors
