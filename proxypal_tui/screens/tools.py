"""The Tools screen inside the app: the same screen the tools package ships, with the app's chrome.

`proxypal_tui.tools.screen.ToolsScreen` also runs on its own (its tests use a bare App); here it gets
the header, the engine notice and the status bar that every ProxyPal screen has.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual.app import ComposeResult, SystemCommand

from proxypal_tui.screens.base import ProxyPalScreen
from proxypal_tui.tools.screen import ToolsScreen


class ToolsPage(ProxyPalScreen, ToolsScreen):
    TITLE = None  # the header says ProxyPal, like every page; the sub-title names the page
    TITLE_TEXT = "Tools"

    def __init__(self, config_path: Path, home: Path | None = None, search_path: str | None = None) -> None:
        ToolsScreen.__init__(self, home=home, config_path=config_path, search_path=search_path)

    def compose_body(self) -> ComposeResult:
        yield from self.compose_tools()

    def palette_commands(self) -> Iterable[SystemCommand]:
        return ToolsScreen.palette_commands(self)
