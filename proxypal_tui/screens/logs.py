"""Logs: the engine's log events and its stderr, filtered by level; appends only what is new."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.widgets import Label, Log

from proxypal_tui.core import formatting as fmt
from proxypal_tui.core.logbook import LEVELS, LogLine
from proxypal_tui.core.session import Session
from proxypal_tui.screens.base import ProxyPalScreen

MAX_LINES = 2000


def log_text(line: LogLine) -> str:
    logger = f" {line.logger}" if line.logger else ""
    return f"{fmt.clock_time(line.ts)} {line.level.upper():<7}{logger}: {line.message}"


class LogsScreen(ProxyPalScreen):
    TITLE_TEXT = "Logs"
    BINDINGS = [
        Binding("f", "cycle_level", "Level", id="logs.level", tooltip="Show only this level and above."),
        Binding("e", "level('error')", "Errors", id="logs.errors", tooltip="Show errors only."),
        Binding("a", "level('debug')", "All", id="logs.all", tooltip="Show every level."),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.min_level = "info"
        self._serial = 0

    def compose_body(self) -> ComposeResult:
        yield Label("", id="log-level")
        yield Log(id="log", max_lines=MAX_LINES, auto_scroll=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(Log).focus()

    def action_cycle_level(self) -> None:
        self.action_level(LEVELS[(LEVELS.index(self.min_level) + 1) % len(LEVELS)])

    def action_level(self, level: str) -> None:
        self.min_level = level
        self._serial = 0
        self.query_one(Log).clear()
        self.redraw()

    def redraw(self) -> None:
        self.query_one("#log-level", Label).update(f"level ≥ {self.min_level}   (f: change · e: errors · a: all)")
        logs = self.session.live.logs
        new = logs.since(self._serial, self.min_level)
        self._serial = logs.serial
        if new:
            self.query_one(Log).write_lines(log_text(ln) for _, ln in new[-MAX_LINES:])

    def palette_commands(self) -> Iterable[SystemCommand]:
        for level in LEVELS:
            yield SystemCommand(
                f"Logs: {level} and above", "Filter the engine log", lambda lv=level: self.action_level(lv)
            )
