"""A KPI tile: one measure, today's value above the value since the engine started."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Label


class KpiTile(Widget):
    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="kpi")
        self.border_title = title

    def compose(self) -> ComposeResult:
        yield Label("—", classes="kpi-today")
        yield Label("—", classes="kpi-run")

    def show(self, today: str, since_start: str) -> None:
        self.query_one(".kpi-today", Label).update(today)
        self.query_one(".kpi-run", Label).update(since_start)
