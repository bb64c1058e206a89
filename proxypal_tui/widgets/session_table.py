"""A table of agent sessions, one row each: agent, requests, tokens, cost, models, last seen.

Sessions are few (tens, not thousands), so a DataTable is fine here; rows are keyed by session id
and the cursor stays on its session when the table is redrawn.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from proxypal_tui.core import formatting as fmt
from proxypal_tui.core.agent_sessions import SessionSummary

COLUMNS = ("Session", "Agent", "Reqs", "Tokens", "Cost", "Models", "Seen")


def short_id(session: str, width: int = 10) -> str:
    return session if len(session) <= width else session[: width - 1] + "…"


def models_text(models: list[str]) -> str:
    """The first model a session used, and how many more (the detail pane lists them all)."""
    if not models:
        return "—"
    return models[0] if len(models) == 1 else f"{models[0]} +{len(models) - 1}"


def session_text(s: SessionSummary | None) -> Text:
    """The detail pane for one session."""
    if s is None:
        return Text("No session selected. ↑/↓ move, enter shows its requests in History.", style="italic")
    errors = f" ({s.errors} failed)" if s.errors else ""
    return Text("\n").join(
        [
            Text.assemble(
                ("Session ", "bold"),
                s.session,
                "  ",
                ("agent ", "bold"),
                s.agent or "—",
                "  ",
                ("client ", "bold"),
                s.client or "—",
            ),
            Text(
                f"{s.requests} requests{errors}   tokens in {fmt.count(s.input_tokens)} "
                f"out {fmt.count(s.output_tokens)}   cost {fmt.money(s.cost_usd)}"
            ),
            Text(f"models {', '.join(s.models) or '—'}"),
            Text(f"first seen {fmt.clock_time(s.first_seen)}   last seen {fmt.clock_time(s.last_seen)}"),
            Text("enter: its requests in History (from the ledger)", style="italic"),
        ]
    )


class SessionTable(DataTable[str]):
    """Agent sessions, the latest seen first."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.summaries: dict[str, SessionSummary] = {}

    def on_mount(self) -> None:
        for name in COLUMNS:
            self.add_column(name, key=name)

    def show(self, sessions: list[SessionSummary]) -> None:
        keep = self.highlighted_session
        self.summaries = {s.session: s for s in sessions}
        self.clear()
        for s in sessions:
            self.add_row(
                short_id(s.session), s.agent or "—", fmt.count(s.requests), fmt.count(s.tokens),
                fmt.money(s.cost_usd), models_text(s.models), fmt.clock_time(s.last_seen), key=s.session,
            )  # fmt: skip
        if keep in self.summaries:
            self.move_cursor(row=self.get_row_index(keep), animate=False)

    @property
    def highlighted_session(self) -> str | None:
        if not self.row_count or self.cursor_row < 0:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
