"""The request feed as a virtual list: only the visible lines are ever rendered (as in toolong).

A DataTable measures every cell of every new row, which costs ~100 ms for a few hundred rows;
at 500 requests/s that would stall the keyboard. Here `set_rows` just swaps a list, and
`render_line` draws the handful of rows on screen from it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from proxypal_tui.core import formatting as fmt
from proxypal_tui.core.feed import FeedRow


def _model(rec: FeedRow) -> str:
    if rec.model and rec.model != rec.model_requested:
        return f"{rec.model_requested}→{rec.model}"
    return rec.model_requested or rec.model


# Marks a request that failover moved from a subscription or free provider to a paid one.
PAID_FALLBACK_MARK = "$"


def _provider(rec: FeedRow) -> str:
    return PAID_FALLBACK_MARK + rec.provider if rec.paid_fallback else rec.provider


def _status(rec: FeedRow) -> str:
    return "…" if rec.status is None else str(rec.status)


Column = tuple[str, int, Callable[[FeedRow], str], bool]  # title, width, value, right-aligned
COLUMNS: tuple[Column, ...] = (
    ("Time", 8, lambda r: fmt.clock_time(r.ts_start), False),
    ("St", 3, _status, True),
    ("Model → resolved", 28, _model, False),
    ("Provider", 10, _provider, False),
    ("Latency", 7, lambda r: fmt.millis(r.latency_ms), True),
    ("TTFB", 6, lambda r: fmt.millis(r.ttfb_ms), True),
    ("Tokens in/out", 13, lambda r: f"{fmt.count(r.input_tokens)}/{fmt.count(r.output_tokens)}", True),
    ("Cost", 8, lambda r: fmt.money(r.cost_usd) if r.status is not None else "", True),
    ("Client", 12, lambda r: r.client, False),
)
TOTAL_WIDTH = sum(w + 1 for _, w, _, _ in COLUMNS)


def _cell(text: str, width: int, right: bool) -> str:
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.rjust(width) if right else text.ljust(width)


def status_class(rec: FeedRow) -> str:
    if rec.status is None:
        return "feed--dim"
    if rec.ok:
        return "feed--ok"
    return "feed--warn" if rec.status < 500 and rec.status != 499 else "feed--bad"


class RequestFeedView(ScrollView, can_focus=True):
    """Newest first. The cursor stays on its request while rows arrive; on the top row it follows."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "feed--header",
        "feed--cursor",
        "feed--even",
        "feed--ok",
        "feed--warn",
        "feed--bad",
        "feed--dim",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Up", show=False, id="feed.up", tooltip="Previous (newer) request."),
        Binding("down,j", "move(1)", "Down", show=False, id="feed.down", tooltip="Next (older) request."),
        Binding("pageup", "page(-1)", "Page up", show=False, id="feed.page_up", tooltip="One screen newer."),
        Binding("pagedown", "page(1)", "Page down", show=False, id="feed.page_down", tooltip="A screen older."),
        Binding("home,g", "first", "Newest", show=False, id="feed.first", tooltip="Newest request; follow."),
        Binding("end,G", "last", "Oldest", show=False, id="feed.last", tooltip="Oldest request kept."),
    ]

    class Highlighted(Message):
        """The cursor is on another request (None: the list is empty)."""

        def __init__(self, view: RequestFeedView, request_id: str | None) -> None:
            super().__init__()
            self.view = view
            self.request_id = request_id

        @property
        def control(self) -> RequestFeedView:
            return self.view

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[FeedRow] = []
        self.cursor = 0
        self._selected: str | None = None

    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def selected(self) -> FeedRow | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def set_rows(self, rows: list[FeedRow]) -> None:
        """Swap in a new snapshot; keep the cursor on the same request unless it was following."""
        following = self.cursor == 0
        self.rows = rows
        if not following and self._selected is not None:
            index = next((i for i, r in enumerate(rows) if r.id == self._selected), None)
            self.cursor = index if index is not None else min(self.cursor, max(0, len(rows) - 1))
        else:
            self.cursor = 0
        self.virtual_size = Size(TOTAL_WIDTH, len(rows) + 1)
        self._announce()
        self.refresh()

    def _announce(self) -> None:
        rec = self.selected
        rid = rec.id if rec is not None else None
        if rid != self._selected or rec is None:
            self._selected = rid
            self.post_message(self.Highlighted(self, rid))

    # ---- keys -----------------------------------------------------------------------------------

    def _go(self, index: int) -> None:
        if not self.rows:
            return
        self.cursor = max(0, min(index, len(self.rows) - 1))
        visible = max(1, self.scrollable_content_region.height - 1)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False)
        self._announce()
        self.refresh()

    def action_move(self, step: int) -> None:
        self._go(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self._go(self.cursor + direction * max(1, self.scrollable_content_region.height - 2))

    def action_first(self) -> None:
        self._go(0)

    def action_last(self) -> None:
        self._go(len(self.rows) - 1)

    # ---- drawing --------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        if y == 0:
            strip = self._header()
        else:
            index = int(scroll_y) + y - 1
            if index >= len(self.rows):
                return Strip.blank(width, self.rich_style)
            strip = self._row(index)
        return strip.crop(int(scroll_x), int(scroll_x) + width).extend_cell_length(width, self.rich_style)

    def _header(self) -> Strip:
        style = self.rich_style + self.get_component_rich_style("feed--header")
        text = " ".join(_cell(title, w, right) for title, w, _, right in COLUMNS) + " "
        return Strip([Segment(text, style)])

    def _row(self, index: int) -> Strip:
        rec = self.rows[index]
        base = self.rich_style
        if index % 2:
            base = base + self.get_component_rich_style("feed--even")
        cursor = index == self.cursor
        if cursor:
            base = base + self.get_component_rich_style("feed--cursor", partial=not self.has_focus)
        status_style: Style = self.get_component_rich_style(status_class(rec))
        segments = []
        for n, (_, w, value, right) in enumerate(COLUMNS):
            text = _cell(value(rec), w, right) + " "
            segments.append(Segment(text, base + status_style if n == 1 and not cursor else base))
        return Strip(segments)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
