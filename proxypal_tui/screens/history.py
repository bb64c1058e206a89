"""History: requests and cost per day, week or month, per provider, model or client, read from the ledger.

The figures come from `GET /v0/history` (the engine's SQLite ledger), never from the TUI's memory, so a
restart of either process loses nothing and the whole range the ledger holds is shown.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Label
from textual_plotext import PlotextPlot

from proxypal_tui.core import formatting as fmt
from proxypal_tui.core.engine_state import EngineState
from proxypal_tui.core.history import GROUPS, PERIODS
from proxypal_tui.core.session import Session
from proxypal_tui.screens.base import ProxyPalScreen


def _short(period: str) -> str:
    """'2025-10-07' -> '10-07'; weeks ('2025-W40') and months ('2025-10') stay whole."""
    return period[5:] if len(period) == 10 else period


class HistoryChart(PlotextPlot):
    """Bars per period, one series per group; its own `plt`, theme "auto" (textual-plotext's default)."""

    def __init__(self, title: str, *, id: str) -> None:
        super().__init__(id=id)
        self._title = title

    def show(self, periods: list[str], series: dict[str, list[float]]) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self._title)
        if periods and series:
            names = list(series)[:5]  # more would not be told apart in a terminal
            positions = list(range(1, len(periods) + 1))
            plt.multiple_bar(positions, [series[n] for n in names], labels=names)
            # First, middle and last, short (10-07, not 2025-10-07): chosen here so they never overlap.
            ticks = sorted({positions[0], positions[len(positions) // 2], positions[-1]})
            plt.xticks(ticks, [_short(periods[i - 1]) for i in ticks])
        self.refresh()


class HistoryScreen(ProxyPalScreen):
    TITLE_TEXT = "History"
    BINDINGS = [
        Binding("b", "cycle_period", "Period", id="history.period", tooltip="Per day, week or month."),
        Binding("g", "cycle_group", "Split", id="history.group", tooltip="Split by provider, model or client."),
        Binding("ctrl+r", "reload", "Reload", id="history.reload", tooltip="Read the ledger again."),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.by, self.group = "day", "provider"
        self._drawn = -1
        self._asked_while: EngineState | None = None

    def compose_body(self) -> ComposeResult:
        yield Label("", id="history-range")
        with Horizontal(id="history-charts"):
            yield HistoryChart("Requests", id="history-requests")
            yield HistoryChart("Cost (USD)", id="history-cost")
        table: DataTable[str] = DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        for name in ("Name", "Reqs", "OK", "Tokens", "Cost", "p95 (worst)"):
            table.add_column(name, key=name)
        yield table

    def on_screen_resume(self) -> None:
        self.action_reload()
        super().on_screen_resume()

    def action_reload(self) -> None:
        self._asked_while = self.session.engine_status.state
        self.actions.load_history(self.by, self.group)

    def action_cycle_period(self) -> None:
        self.by = PERIODS[(PERIODS.index(self.by) + 1) % len(PERIODS)]
        self.action_reload()

    def action_cycle_group(self) -> None:
        self.group = GROUPS[(GROUPS.index(self.group) + 1) % len(GROUPS)]
        self.action_reload()

    def redraw(self) -> None:
        state = self.session.engine_status.state
        if state is EngineState.READY and self._asked_while is not EngineState.READY:
            self.action_reload()  # the engine came up while this screen was shown
        view = self.session.history
        if view.version == self._drawn:
            return
        self._drawn = view.version
        periods = view.periods()
        span = f"{periods[0]} … {periods[-1]}" if periods else "no requests recorded yet"
        note = f"   ({view.error})" if view.error else ""
        self.query_one("#history-range", Label).update(f"Per {view.by}, by {view.group}: {span}{note}")
        self.query_one("#history-requests", HistoryChart).show(periods, view.series("requests"))
        self.query_one("#history-cost", HistoryChart).show(periods, view.series("cost_usd"))
        table = self.query_one("#history-table", DataTable)
        table.clear()
        for t in view.totals():
            table.add_row(
                t.name, fmt.count(t.requests), fmt.percent(t.success_rate), fmt.count(t.tokens),
                fmt.money(t.cost_usd), fmt.millis(t.worst_p95_ms), key=t.name,
            )  # fmt: skip

    def palette_commands(self) -> Iterable[SystemCommand]:
        for by in PERIODS:
            yield SystemCommand(f"History per {by}", "From the ledger", lambda b=by: self._show_period(b))
        for group in GROUPS:
            yield SystemCommand(f"History by {group}", "From the ledger", lambda g=group: self._show_group(g))

    def _show_period(self, by: str) -> None:
        self.by = by
        self.action_reload()

    def _show_group(self, group: str) -> None:
        self.group = group
        self.action_reload()
