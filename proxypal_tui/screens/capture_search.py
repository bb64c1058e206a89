"""Search every stored flight-recorder capture (`GET /v0/captures?q=`) and open one at the match.

The engine searches its redacted store and answers, per capture, the stage and a one-line excerpt
around the match; this screen only lists them, so no text here comes from anywhere but the
engine's redacted captures. Enter on a result opens that request's capture view at the match.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Input, Label

from proxypal_tui.core.api import ApiError, ManagementClient
from proxypal_tui.core.capture_text import STAGE_ORDER, STAGE_TITLES
from proxypal_tui.core.formatting import clock_time
from proxypal_tui.core.session import Session
from proxypal_tui.screens.base import ProxyPalScreen
from proxypal_tui.screens.capture import CaptureScreen

_LEAD = 12  # characters of the excerpt shown before the match
_COLUMNS = ("Request", "Time", "Model", "Status", "Match", "Stage")  # the match before the stage: it is what fits at 60


class CapturesFound(Message, bubble=False):
    def __init__(self, text: str, rows: list[dict[str, Any]] | None, error: str = "") -> None:
        super().__init__()
        self.text, self.rows, self.error = text, rows, error


def match_excerpt(match: dict[str, Any]) -> Text:
    """The engine's excerpt with the matched span highlighted."""
    excerpt = str(match.get("excerpt") or "")
    start, length = int(match.get("start") or 0), int(match.get("length") or 0)
    if start > _LEAD:  # keep the match in sight in a narrow column: a little context before it is enough
        excerpt, start = "…" + excerpt[start - _LEAD :], _LEAD + 1
    # The stage's tab number first, so "where" stays visible when the Stage column is off-screen.
    stage = str(match.get("stage") or "")
    tag = f"{STAGE_ORDER.index(stage) + 1} " if stage in STAGE_ORDER else ""
    out = Text(tag + excerpt, no_wrap=True, overflow="ellipsis")
    if tag:
        out.stylize("dim", 0, len(tag))
    if length:
        out.stylize("reverse bold", len(tag) + start, len(tag) + start + length)
    return out


def match_stage(match: dict[str, Any]) -> str:
    title = STAGE_TITLES.get(str(match.get("stage")), str(match.get("stage") or "?"))
    return title + (f" #{match['attempt']}" if match.get("attempt") else "")


class CaptureSearchScreen(ProxyPalScreen):
    TITLE_TEXT = "Search captures"
    BINDINGS = [
        Binding("escape", "back", "Back", id="capture_search.back", tooltip="Back where you came from."),
        Binding("slash", "edit", "Search", id="capture_search.edit", tooltip="Type what to find in every capture."),
        Binding(
            "enter",
            "open",
            "Open",
            show=False,
            id="capture_search.open",
            tooltip="Open the highlighted request's capture at the match.",
        ),
    ]

    def __init__(self, session: Session, api: ManagementClient | None, text: str = "") -> None:
        super().__init__(session)
        self.api = api
        self.initial = text
        self.text = ""
        self.rows: list[dict[str, Any]] = []

    def compose_body(self) -> ComposeResult:
        yield Input(
            value=self.initial, placeholder="find text in every stored capture (enter: search)", id="capsearch-input"
        )
        yield Label("Stored captures are searched on the engine, newest first.", id="capsearch-status")
        yield DataTable(id="capsearch-results", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#capsearch-results", DataTable).add_columns(*_COLUMNS)
        box = self.query_one("#capsearch-input", Input)
        box.cursor_blink = False
        box.focus()
        if self.initial.strip():
            self.find(self.initial.strip())

    @work(exclusive=True, exit_on_error=False, group="capture-search")
    async def find(self, text: str) -> None:
        if self.api is None:
            self.post_message(CapturesFound(text, None, "the engine is not running"))
            return
        try:
            answer = await self.api.search_captures(text)
        except ApiError as e:
            self.post_message(CapturesFound(text, None, str(e)))
            return
        self.post_message(CapturesFound(text, list(answer.get("captures") or [])))

    @on(Input.Submitted, "#capsearch-input")
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text:
            self.query_one("#capsearch-status", Label).update(f"searching for “{text}”…")
            self.find(text)

    @on(CapturesFound)
    def _found(self, message: CapturesFound) -> None:
        status = self.query_one("#capsearch-status", Label)
        table = self.query_one("#capsearch-results", DataTable)
        table.clear()
        self.text, self.rows = message.text, message.rows or []
        if message.rows is None:
            status.update(Text(f"The search failed: {message.error}", style="bold"))
            return
        for row in self.rows:
            match = row.get("match") or {}
            table.add_row(
                row["id"], clock_time(row.get("ts")), str(row.get("model") or row.get("model_requested") or "—"),
                str(row.get("status") or "—"), match_excerpt(match), match_stage(match), key=row["id"],
            )  # fmt: skip
        n = len(self.rows)
        status.update(f"{n} capture{'' if n == 1 else 's'} with “{message.text}”" + ("  (enter: open)" if n else ""))
        if n:
            table.focus()

    @on(DataTable.RowSelected, "#capsearch-results")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self._open(str(event.row_key.value))

    def _open(self, request_id: str) -> None:
        self.app.push_screen(CaptureScreen(self.session, request_id, self.api, needle=self.text))

    def action_open(self) -> None:
        table = self.query_one("#capsearch-results", DataTable)
        if self.rows and 0 <= table.cursor_row < len(self.rows):
            self._open(str(self.rows[table.cursor_row]["id"]))

    def action_edit(self) -> None:
        self.query_one("#capsearch-input", Input).focus()

    def action_back(self) -> None:
        if self.query_one("#capsearch-input", Input).has_focus and self.rows:
            self.query_one("#capsearch-results", DataTable).focus()
            return
        self.app.pop_screen()
