"""Requests: the live feed, filter, pause/resume, and a detail pane for the highlighted request."""

from __future__ import annotations

from collections.abc import Iterable

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Label, Static

from proxypal_tui.core import formatting as fmt
from proxypal_tui.core.agent_sessions import group_by_session
from proxypal_tui.core.feed import FeedFilter, FeedRow
from proxypal_tui.core.session import Session
from proxypal_tui.screens.base import ProxyPalScreen
from proxypal_tui.screens.capture import CaptureScreen
from proxypal_tui.widgets.feed_view import RequestFeedView
from proxypal_tui.widgets.session_table import SessionTable, session_text


def detail_text(rec: FeedRow | None, error_style: Style | str = "bold") -> Text:
    if rec is None:
        return Text("No request selected. ↑/↓ move through the feed.", style="italic")
    status = "in flight" if rec.status is None else str(rec.status)
    cost = fmt.money(rec.cost_usd) if rec.cost_usd is not None else "unknown"
    lines = [
        Text.assemble(
            ("Request ", "bold"),
            rec.id,
            "  ",
            ("status ", "bold"),
            status,
            "  ",
            ("client ", "bold"),
            rec.client or "—",
            *((("  ", ("replica ", "bold"), rec.replica)) if rec.replica else ()),
        ),
        Text(
            f"model {rec.model_requested or '—'} → {rec.provider or '?'}/{rec.model or '?'}   "
            f"dialect {rec.dialect_in or '?'} → {rec.dialect_out or '?'}   " + ("stream" if rec.stream else "no stream")
        ),
        Text(
            f"started {fmt.clock_time(rec.ts_start)}   latency {fmt.millis(rec.latency_ms)}   "
            f"ttfb {fmt.millis(rec.ttfb_ms)}   attempts {rec.attempts}"
        ),
        Text(
            f"tokens in {rec.input_tokens} (cache read {rec.cache_read_tokens}, "
            f"write {rec.cache_write_tokens})"
            f"   out {rec.output_tokens}   cost {cost}"
        ),
    ]
    if rec.paid_fallback:
        lines.append(Text(f"paid fallback: {rec.provider or '?'} is paid; this request started on a subscription "
                          "or free provider", style="bold"))  # fmt: skip
    if rec.error:
        lines.append(
            Text(
                f"error {rec.error.get('code', '')}: {rec.error.get('message', '')}",
                style=error_style,
            )
        )
    return Text("\n").join(lines)


class RequestsScreen(ProxyPalScreen):
    TITLE_TEXT = "Requests"
    BINDINGS = [
        Binding(
            "space",
            "toggle_pause",
            "Pause",
            id="requests.pause",
            tooltip="Freeze the feed; press again to resume.",
        ),
        Binding(
            "slash",
            "search_captures",
            "Search",
            id="requests.search_captures",
            tooltip="Find text in every stored capture (flight recorder); enter opens one at the match.",
        ),
        Binding(
            "f",
            "focus_filter",
            "Filter",
            id="requests.filter",
            tooltip="Filter: provider:NAME model:NAME status:5xx|ok|error client:NAME, or any text.",
        ),
        Binding(
            "x",
            "clear_filter",
            "Clear filter",
            show=False,
            id="requests.clear_filter",
            tooltip="Show every request again.",
        ),
        Binding(
            "enter",
            "open_capture",
            "Capture",
            show=False,
            id="requests.capture",
            tooltip="The highlighted request's four stages (flight recorder), replay and export.",
        ),
        Binding(
            "s",
            "toggle_sessions",
            "Sessions",
            id="requests.sessions",
            tooltip="One row per agent session; enter shows its requests in History.",
        ),
        Binding(
            "escape",
            "focus_feed",
            "Feed",
            show=False,
            id="requests.focus_feed",
            tooltip="Leave the filter and move through the feed.",
        ),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.filter = FeedFilter()
        self._drawn_version = -1
        self._selected: str | None = None
        self.grouped = False  # one row per agent session instead of one per request

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="filter-row"):
            yield Input(placeholder="/ filter: provider:… model:… status:5xx text", id="filter")
            yield Label("", id="feed-state")
        yield RequestFeedView(id="feed")
        sessions = SessionTable(id="sessions")
        sessions.display = False
        yield sessions
        yield Static(detail_text(None), id="detail")

    def on_mount(self) -> None:
        super().on_mount()
        self.feed_view.focus()

    @property
    def feed_view(self) -> RequestFeedView:
        return self.query_one("#feed", RequestFeedView)

    @property
    def paused(self) -> bool:
        return self.session.feed_paused

    def action_toggle_pause(self) -> None:
        self.session.feed_paused = not self.session.feed_paused
        self._drawn_version = -1
        self.redraw_all()

    def action_open_capture(self) -> None:
        if self._selected:
            self.app.push_screen(CaptureScreen(self.session, self._selected, self.actions.management_client()))

    def action_search_captures(self) -> None:
        self.actions.search_captures()

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_focus_feed(self) -> None:
        (self.session_table if self.grouped else self.feed_view).focus()

    @property
    def session_table(self) -> SessionTable:
        return self.query_one("#sessions", SessionTable)

    def action_toggle_sessions(self) -> None:
        self.grouped = not self.grouped
        self.feed_view.display = not self.grouped
        self.session_table.display = self.grouped
        self._drawn_version = -1
        self.action_focus_feed()
        self.redraw()

    @on(DataTable.RowHighlighted, "#sessions")
    def _session_highlighted(self) -> None:
        self._show_detail()

    @on(DataTable.RowSelected, "#sessions")
    def _session_chosen(self, event: DataTable.RowSelected) -> None:
        """Enter on a session: its requests from the ledger, on the History screen."""
        if event.row_key.value:
            self.session.session_history.choose(event.row_key.value)
            self.actions.action_show("history")

    def action_clear_filter(self) -> None:
        self.query_one("#filter", Input).value = ""
        self.apply_filter("")

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.apply_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.action_focus_feed()

    def apply_filter(self, query: str) -> None:
        self.filter = FeedFilter.parse(query)
        self._drawn_version = -1
        self.redraw()

    @on(RequestFeedView.Highlighted, "#feed")
    def _highlighted(self, event: RequestFeedView.Highlighted) -> None:
        self._selected = event.request_id
        self._show_detail()

    def _show_detail(self) -> None:
        detail = self.query_one("#detail", Static)
        if self.grouped:
            table = self.session_table
            detail.update(session_text(table.summaries.get(table.highlighted_session or "")))
            return
        rec = self.session.live.feed.get(self._selected) if self._selected else None
        error = Style(color=self.app.theme_variables.get("error"), bold=True)
        detail.update(detail_text(rec, error))

    def visible_records(self) -> list[FeedRow]:
        """The whole bounded history, filtered: the view renders only what fits on screen."""
        return self.session.live.feed.newest_first(self.filter if self.filter.active else None)

    def redraw(self) -> None:
        feed = self.session.live.feed
        state = "PAUSED" if self.paused else "live"
        shown = f" {state} · {len(feed)} kept"
        if self.filter.active:
            shown += f" · filter {self.filter.describe()}"
        if self.grouped:
            shown += " · by session"
        self.query_one("#feed-state", Label).update(shown)
        if self.paused or feed.version == self._drawn_version:
            return
        self._drawn_version = feed.version
        if self.grouped:
            self.session_table.show(group_by_session(self.visible_records()))
        else:
            self.feed_view.set_rows(self.visible_records())
        self._show_detail()

    def palette_commands(self) -> Iterable[SystemCommand]:
        verb = "Resume" if self.paused else "Pause"
        yield SystemCommand(f"{verb} feed", "Freeze or resume the live request feed", self.action_toggle_pause)
        yield SystemCommand("Filter: errors only", "Show failed requests", lambda: self._preset("status:error"))
        yield SystemCommand("Filter: in flight", "Requests still running", lambda: self._preset("status:flight"))
        yield SystemCommand("Filter: clear", "Show every request", self.action_clear_filter)
        view = "one row per request" if self.grouped else "one row per agent session"
        yield SystemCommand("Group by session" if not self.grouped else "Ungroup", f"Show {view}",
                            self.action_toggle_sessions)  # fmt: skip

    def _preset(self, query: str) -> None:
        self.query_one("#filter", Input).value = query
        self.apply_filter(query)
