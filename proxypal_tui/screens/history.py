"""History: requests and cost per day, week or month, per provider, model or client, read from the ledger;
and (`s`) the agent sessions the ledger holds, each with its requests.

The figures come from `GET /v0/history`, `/v0/sessions` and `/v0/requests?session=` (the engine's SQLite
ledger), never from the TUI's memory, so a restart of either process loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual import on
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
from proxypal_tui.widgets.feed_view import RequestFeedView
from proxypal_tui.widgets.session_table import SessionTable, short_id


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
        Binding(
            "s",
            "toggle_sessions",
            "Sessions",
            id="history.sessions",
            tooltip="Agent sessions from the ledger; enter shows one session's requests.",
        ),
        Binding(
            "escape",
            "back",
            "Back",
            show=False,
            id="history.back",
            tooltip="From a session's requests back to the sessions.",
        ),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.by, self.group = "day", "provider"
        self._drawn = -1
        self._asked_while: EngineState | None = None
        self.showing_sessions = False
        self._drawn_sessions = -1

    def compose_body(self) -> ComposeResult:
        yield Label("", id="history-range")
        with Horizontal(id="history-charts"):
            yield HistoryChart("Requests", id="history-requests")
            yield HistoryChart("Cost (USD)", id="history-cost")
        table: DataTable[str] = DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        for name in ("Name", "Reqs", "OK", "Tokens", "Cost", "p95 (worst)"):
            table.add_column(name, key=name)
        yield table
        sessions = SessionTable(id="history-sessions")
        requests = RequestFeedView(id="history-session-requests")
        sessions.display = requests.display = False
        yield sessions
        yield requests

    def on_screen_resume(self) -> None:
        if self.session.session_history.chosen is not None:  # sent here for one session (Requests screen)
            self._show_sessions(True)
        self.action_reload()
        super().on_screen_resume()

    def action_reload(self) -> None:
        self._asked_while = self.session.engine_status.state
        if not self.showing_sessions:
            self.actions.load_history(self.by, self.group)
            return
        chosen = self.session.session_history.chosen
        if chosen is None:
            self.actions.load_sessions()
        else:
            self.actions.load_session_requests(chosen)

    def action_toggle_sessions(self) -> None:
        self._show_sessions(not self.showing_sessions)
        self.action_reload()

    def action_back(self) -> None:
        if self.showing_sessions and self.session.session_history.chosen is not None:
            self.session.session_history.choose(None)
            self.action_reload()

    def _show_sessions(self, on: bool) -> None:
        self.showing_sessions = on
        if not on and self.session.session_history.chosen is not None:
            self.session.session_history.choose(None)  # back to the periods: the next visit starts from the list
        self.query_one("#history-charts").display = not on
        self.query_one("#history-table").display = not on
        if not on:  # shown again by the next sessions redraw, whichever of the two it needs
            self.query_one(SessionTable).display = False
            self.query_one("#history-session-requests").display = False
        self._drawn = self._drawn_sessions = -1

    @on(SessionTable.RowSelected, "#history-sessions")
    def _session_chosen(self, event: SessionTable.RowSelected) -> None:
        if event.row_key.value:
            self.session.session_history.choose(event.row_key.value)
            self.action_reload()

    def action_cycle_period(self) -> None:
        self._show_sessions(False)
        self.by = PERIODS[(PERIODS.index(self.by) + 1) % len(PERIODS)]
        self.action_reload()

    def action_cycle_group(self) -> None:
        self._show_sessions(False)
        self.group = GROUPS[(GROUPS.index(self.group) + 1) % len(GROUPS)]
        self.action_reload()

    def redraw(self) -> None:
        state = self.session.engine_status.state
        if state is EngineState.READY and self._asked_while is not EngineState.READY:
            self.action_reload()  # the engine came up while this screen was shown
        if self.showing_sessions:
            self._redraw_sessions()
            return
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

    def _redraw_sessions(self) -> None:
        view = self.session.session_history
        if view.version == self._drawn_sessions:
            return
        self._drawn_sessions = view.version
        listing, requests = self.query_one(SessionTable), self.query_one("#history-session-requests", RequestFeedView)
        listing.display, requests.display = view.chosen is None, view.chosen is not None
        note = f"   ({view.error})" if view.error else ""
        if view.chosen is None:
            listing.show(view.sessions)
            label = f"Agent sessions in the ledger: {len(view.sessions)}, latest first (enter: its requests)"
        else:
            requests.set_rows(view.requests)
            label = f"Session {short_id(view.chosen, 40)}: {len(view.requests)} requests, newest first (escape: back)"
        self.query_one("#history-range", Label).update(label + note)
        (listing if view.chosen is None else requests).focus()

    def palette_commands(self) -> Iterable[SystemCommand]:
        for by in PERIODS:
            yield SystemCommand(f"History per {by}", "From the ledger", lambda b=by: self._show_period(b))
        for group in GROUPS:
            yield SystemCommand(f"History by {group}", "From the ledger", lambda g=group: self._show_group(g))
        yield SystemCommand("History by agent session", "Sessions from the ledger", self._sessions_command)

    def _show_period(self, by: str) -> None:
        self.by = by
        self._show_sessions(False)
        self.action_reload()

    def _show_group(self, group: str) -> None:
        self.group = group
        self._show_sessions(False)
        self.action_reload()

    def _sessions_command(self) -> None:
        self._show_sessions(True)
        self.action_reload()
