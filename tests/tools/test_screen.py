"""The Tools screen driven with Pilot: status table, diff preview, apply, undo, copyable setup."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.app import App
from textual.binding import Binding
from textual.pilot import Pilot
from textual.widgets import DataTable, Static, TextArea

from proxypal_tui.tools.screen import ToolsScreen

from .conftest import GOLDEN, copy_tree


class ToolsApp(App[None]):
    def __init__(self, home: Path, config: Path) -> None:
        super().__init__()
        self.home, self.config = home, config

    def on_mount(self) -> None:
        # No tool binaries on the search path: the statuses come from the files under home only.
        no_bins = str(self.home / ".no-such-bin")
        self.push_screen(ToolsScreen(home=self.home, config_path=self.config, search_path=no_bins))


async def settle(app: App[None], pilot: Pilot[None], ready: Callable[[], bool]) -> None:
    for _ in range(100):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if ready():
            return
    raise AssertionError("the screen never reached the expected state")


def status_of(screen: ToolsScreen, name: str) -> str:
    table = screen.query_one("#tools-table", DataTable)
    return str(table.get_cell(name, table.ordered_columns[1].key))


def diff_text(screen: ToolsScreen) -> str:
    return str(screen.query_one("#tools-diff", Static).render())


@pytest.fixture
def claude_home(pp_home: Path, home: Path) -> Path:
    """A ProxyPal on port 19333 and a HOME whose Claude Code points at another gateway."""
    pp_home.mkdir()
    (pp_home / "config.yaml").write_text("port: 19333\n")
    copy_tree(GOLDEN / "claude-code" / "existing" / "before", home, 0o644)
    return home


async def test_apply_and_undo_from_the_screen(pp_home: Path, claude_home: Path) -> None:
    home, config = claude_home, pp_home / "config.yaml"
    settings = home / ".claude" / "settings.json"
    original = settings.read_text()

    app = ToolsApp(home, config)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ToolsScreen)
        await settle(app, pilot, lambda: "ANTHROPIC_BASE_URL" in diff_text(screen))
        table = screen.query_one("#tools-table", DataTable)
        assert table.row_count == 10
        assert status_of(screen, "claude-code") == "pointed elsewhere"
        assert status_of(screen, "gemini-cli") == "not installed"
        assert "Proxy: http://127.0.0.1:19333" in str(screen.query_one("#tools-proxy", Static).render())
        assert '+        "ANTHROPIC_BASE_URL": "http://127.0.0.1:19333",' in diff_text(screen)
        assert settings.read_text() == original, "the preview is a dry run"

        await pilot.press("a")
        await settle(app, pilot, lambda: status_of(screen, "claude-code") == "pointed at this proxy")
        assert json.loads(settings.read_text())["env"]["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:19333"

        await pilot.press("u")
        await settle(app, pilot, lambda: status_of(screen, "claude-code") == "pointed elsewhere")
        assert settings.read_text() == original


async def test_manual_tool_shows_copyable_instructions(pp_home: Path, home: Path) -> None:
    app = ToolsApp(home, pp_home / "config.yaml")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ToolsScreen)
        await settle(app, pilot, lambda: screen.query_one("#tools-table", DataTable).row_count == 10)
        table = screen.query_one("#tools-table", DataTable)
        table.move_cursor(row=table.get_row_index("cline"))
        area = screen.query_one("#tools-instructions", TextArea)
        await settle(app, pilot, lambda: area.display and "OpenAI Compatible" in area.text)
        assert "Base URL: http://127.0.0.1:8317/v1" in area.text
        await pilot.press("y")
        assert app.clipboard == area.text


def test_bindings_have_ids_and_tooltips_and_leave_screen_keys_alone() -> None:
    app_screen_keys = set("drptclq")  # the app switches screens with these
    for binding in ToolsScreen.BINDINGS:
        assert isinstance(binding, Binding)
        assert binding.id and binding.id.startswith("tools.") and binding.tooltip
        assert binding.key not in app_screen_keys


async def test_palette_commands_follow_the_tool_states(pp_home: Path, claude_home: Path) -> None:
    app = ToolsApp(claude_home, pp_home / "config.yaml")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ToolsScreen)
        await settle(app, pilot, lambda: screen.query_one("#tools-table", DataTable).row_count == 10)
        titles = [c.title for c in screen.palette_commands()]
        assert "Point Claude Code at ProxyPal" in titles and "Show setup for Cursor" in titles
        assert "Undo Claude Code" not in titles
        next(c for c in screen.palette_commands() if c.title == "Point Claude Code at ProxyPal").callback()
        await settle(app, pilot, lambda: status_of(screen, "claude-code") == "pointed at this proxy")
        assert "Undo Claude Code" in [c.title for c in screen.palette_commands()]


async def test_the_preview_follows_a_config_change(pp_home: Path, claude_home: Path) -> None:
    """The diff shown is what apply writes: a new port in the config gives a new preview without a key press."""
    home, config = claude_home, pp_home / "config.yaml"
    app = ToolsApp(home, config)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await settle(app, pilot, lambda: "127.0.0.1:19333" in diff_text(screen))
        config.write_text("port: 19444\n")
        proxy_line = screen.query_one("#tools-proxy", Static)
        for _ in range(400):  # the panel polls the file about once a second; the label redraws after the diff
            await pilot.pause(0.05)
            if "127.0.0.1:19444" in diff_text(screen) and "19444" in str(proxy_line.render()):
                break
        assert "127.0.0.1:19444" in diff_text(screen) and "127.0.0.1:19333" not in diff_text(screen)
        assert "Proxy: http://127.0.0.1:19444" in str(screen.query_one("#tools-proxy", Static).render())
        await pilot.press("a")
        await settle(app, pilot, lambda: status_of(screen, "claude-code") == "pointed at this proxy")
        settings = json.loads((home / ".claude" / "settings.json").read_text())
        assert settings["env"]["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:19444"
