"""What every ProxyPal screen shares: header, engine notice, status bar, footer, redraw hook."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult, SystemCommand
from textual.screen import Screen
from textual.widgets import Header

from proxypal_tui.widgets.key_bar import KeyBar
from proxypal_tui.widgets.notices import EngineNotice
from proxypal_tui.widgets.status_bar import EngineStatusBar

if TYPE_CHECKING:
    from proxypal_tui.app import ProxyPalApp


class ProxyPalScreen(Screen[None]):
    """Subclasses compose their body in `compose_body` and draw in `redraw`."""

    TITLE_TEXT = ""

    @property
    def pp(self) -> ProxyPalApp:
        """The app, typed."""
        return cast("ProxyPalApp", self.app)

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
        app = self.pp
        self.query_one(EngineNotice).show(app.engine_status)
        self.query_one(EngineStatusBar).show(
            app.engine_status,
            app.engine_usage,
            app.dropped_events,
            app.engine_uptime(),
            app.feed_paused,
            ledger=(app.live.stats or {}).get("ledger"),
        )
        self.redraw()

    def redraw(self) -> None:
        """Draw the content from the live stores; called on the app's timer, not per event."""

    def palette_commands(self) -> Iterable[SystemCommand]:
        """Commands this screen adds to the command palette while it is shown."""
        return ()
