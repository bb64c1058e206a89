"""The Tools page inside the app: the tools panel with the header, engine notice and status bar every page has.

`proxypal_tui.tools.screen.ToolsScreen` shows the same panel on its own (its tests use a bare App).
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import ComposeResult, SystemCommand

from proxypal_tui.core.session import Session
from proxypal_tui.screens.base import ProxyPalScreen
from proxypal_tui.tools.panel import TOOLS_BINDINGS, TOOLS_CSS_PATH, ToolsPanel


class ToolsPage(ProxyPalScreen):
    CSS_PATH = TOOLS_CSS_PATH
    TITLE = None  # the header says ProxyPal, like every page; the sub-title names the page
    TITLE_TEXT = "Tools"
    BINDINGS = TOOLS_BINDINGS

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        options = session.options
        self.panel = ToolsPanel(options.tools_home, options.config_path, search_path=options.tools_search_path)

    def compose_body(self) -> ComposeResult:
        yield self.panel

    def palette_commands(self) -> Iterable[SystemCommand]:
        return self.panel.palette_commands()

    def action_apply(self) -> None:
        self.panel.action_apply()

    def action_undo(self) -> None:
        self.panel.action_undo()

    def action_refresh(self) -> None:
        self.panel.action_refresh()

    def action_copy(self) -> None:
        self.panel.action_copy()
