"""What the screens read: the live stores, the engine's status and the config view (headless).

One `Session` per app, handed to each screen when it is created. The app writes to it (from
its message handlers); screens and commands only read it on their redraw timer, so none of
them needs the app class, and the whole model can be built and checked without Textual.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from proxypal_tui.core.agent_sessions import SessionHistory
from proxypal_tui.core.config_view import ConfigView
from proxypal_tui.core.engine_state import EngineState, EngineStatus
from proxypal_tui.core.history import HistoryView
from proxypal_tui.core.members import MemberRoster
from proxypal_tui.core.process import ProcessUsage
from proxypal_tui.core.state import LiveState
from proxypal_tui.options import AppOptions


@dataclass(frozen=True)
class ConfigOutcome:
    """The last save's result, as the Config screen shows it; `version` tells a new one apart."""

    version: int
    ok: bool
    errors: list[dict[str, Any]]
    summary: str


class Session:
    def __init__(self, options: AppOptions, tui_dropped: Callable[[], int] = lambda: 0) -> None:
        self.options = options
        self.config_path = options.config_path
        self.config = ConfigView(options.config_path)
        self.live = LiveState()
        self.history = HistoryView()
        self.members = MemberRoster()  # the Members screen: /v0/usage?group=member
        self.session_history = SessionHistory()  # History's per-session view (agent sessions)
        self.engine_status = EngineStatus(EngineState.LOCATING, config_path=str(options.config_path))
        self.engine_usage: ProcessUsage | None = None
        self.feed_paused = False
        self.config_outcome: ConfigOutcome | None = None
        self._tui_dropped = tui_dropped
        self._ready_seen_at = 0.0

    def now(self) -> float:
        return self.options.clock()

    def set_engine_status(self, status: EngineStatus) -> bool:
        """Take a new status; True when the engine has just become ready."""
        became_ready = status.state is EngineState.READY and self.engine_status.state is not EngineState.READY
        self.engine_status = status
        if became_ready:
            self._ready_seen_at = self.now()
        return became_ready

    @property
    def dropped_events(self) -> int:
        """Events lost on the way: by the engine for this subscriber, and by the TUI's own queue."""
        return self.live.dropped_by_engine + self._tui_dropped()

    def engine_uptime(self) -> float | None:
        """Seconds the engine has been up, as of the app's clock; None unless it is ready."""
        status = self.engine_status
        if status.state is not EngineState.READY or status.uptime_s is None:
            return None
        return status.uptime_s + max(0.0, self.now() - self._ready_seen_at)

    def endpoint_listen(self) -> str:
        return self.engine_status.listen or self.config.listen

    def show_onboarding(self) -> bool:
        return not self.config.provider_kinds and len(self.live.feed) == 0

    def key_based_providers(self) -> list[str]:
        """Configured providers that take an API key (not the login-only kinds)."""
        return self.config.key_providers

    def record_config_outcome(self, ok: bool, errors: list[dict[str, Any]], summary: str) -> ConfigOutcome:
        version = (self.config_outcome.version + 1) if self.config_outcome else 1
        self.config_outcome = ConfigOutcome(version, ok, errors, summary)
        return self.config_outcome
