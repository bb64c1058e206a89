"""Snapshot of the Tools screen at 80x24 (Textual is pinned for snapshot tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from .conftest import GOLDEN, copy_tree
from .test_screen import ToolsApp, diff_text, settle


def test_tools_screen_80x24(snap_compare: Any, pp_home: Path, home: Path) -> None:
    """Must show: the proxy URL on top; the ten tools with Claude Code "pointed elsewhere", Codex "installed"
    and the rest "not installed"; below, the note that keys are not enforced and the start of the coloured
    diff that would point Claude Code at 127.0.0.1:19333; the footer with Apply, Undo, Refresh, Copy setup."""
    pp_home.mkdir()
    (pp_home / "config.yaml").write_text("port: 19333\n")
    copy_tree(GOLDEN / "claude-code" / "existing" / "before", home, 0o644)
    (home / ".codex").mkdir()
    app = ToolsApp(home, pp_home / "config.yaml")

    async def ready(pilot: Pilot[None]) -> None:
        await settle(app, pilot, lambda: "ANTHROPIC_BASE_URL" in diff_text(app.screen))

    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)
