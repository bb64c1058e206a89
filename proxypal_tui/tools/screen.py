"""The Tools screen on its own (`proxypal-tui tools`, and its tests use a bare App): the tools panel and a key bar.

Inside the app, `proxypal_tui.screens.tools.ToolsPage` composes the same panel with the app's chrome.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual.app import ComposeResult, SystemCommand
from textual.screen import Screen

from proxypal_tui.tools.panel import TOOLS_BINDINGS, TOOLS_CSS_PATH, ToolsPanel
from proxypal_tui.widgets.key_bar import KeyBar


class ToolsScreen(Screen[None]):
    CSS_PATH = TOOLS_CSS_PATH
    TITLE = "Tools"
    BINDINGS = TOOLS_BINDINGS

    def __init__(
        self, home: Path | None = None, config_path: Path | None = None, *, search_path: str | None = None
    ) -> None:
        super().__init__()
        self.panel = ToolsPanel(home, config_path, search_path=search_path)

    def compose(self) -> ComposeResult:
        yield self.panel
        yield KeyBar(classes="key-bar")  # not Textual's Footer: that one leaks widgets on screen switches

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
