"""What every ProxyPal screen shares: header, engine notice, status bar, footer, redraw hook."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from textual.app import ComposeResult, SystemCommand
from textual.screen import Screen
from textual.widgets import Header

from proxypal_tui.app_actions import AppActions
from proxypal_tui.core.session import Session
from proxypal_tui.widgets.key_bar import KeyBar
from proxypal_tui.widgets.notices import EngineNotice
from proxypal_tui.widgets.status_bar import EngineStatusBar


class ProxyPalScreen(Screen[None]):
    """Subclasses compose their body in `compose_body` and draw in `redraw` from the session."""

    TITLE_TEXT = ""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session

    @property
    def actions(self) -> AppActions:
        """The app's work this screen can start (logins, saves, cooldown clears)."""
        return cast(AppActions, self.app)

    def compose(self) -> ComposeResult:
        yield Header(icon="≋")
        yield EngineNotice(classes="engine-notice")
        yield from self.compose_body()
        yield EngineStatusBar(classes="status-bar")
        yield KeyBar(classes="key-bar")

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.sub_title = self.TITLE_TEXT

    def on_screen_resume(self) -> None:
        self.redraw_all()

    def redraw_all(self) -> None:
        """Chrome and content, from the stores as they are now."""
        s = self.session
        self.query_one(EngineNotice).show(s.engine_status)
        self.query_one(EngineStatusBar).show(
            s.engine_status,
            s.engine_usage,
            s.dropped_events,
            s.engine_uptime(),
            s.feed_paused,
            ledger=s.live.stats.ledger if s.live.stats is not None else None,
        )
        self.redraw()

    def redraw(self) -> None:
        """Draw the content from the live stores; called on the app's timer, not per event."""

    def palette_commands(self) -> Iterable[SystemCommand]:
        """Commands this screen adds to the command palette while it is shown."""
        return ()
