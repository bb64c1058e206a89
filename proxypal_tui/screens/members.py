"""Members: each member key's spend against its monthly budget, requests, models and last seen.

Read from `GET /v0/usage?group=member` (the engine's ledger and key table, on SQLite or PostgreSQL),
never from the TUI's memory. Keys are made with `proxypal-engine keys create`; this screen shows them.
"""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Label

from proxypal_tui.core import formatting as fmt
from proxypal_tui.core.engine_state import EngineState
from proxypal_tui.core.members import budget_bar
from proxypal_tui.core.session import Session
from proxypal_tui.screens.base import ProxyPalScreen
from proxypal_tui.widgets.session_table import models_text


def _seen(epoch: float | None) -> str:
    """Last seen as local `MM-DD HH:MM` (a month of use: the day matters)."""
    return "—" if epoch is None else time.strftime("%m-%d %H:%M", time.localtime(epoch))


COLUMNS = ("Member", "Team", "Spend", "Budget", "Reqs", "Seen", "Models")  # models last: the widest, least needed


class MembersScreen(ProxyPalScreen):
    TITLE_TEXT = "Members"
    BINDINGS = [
        Binding("ctrl+r", "reload", "Reload", id="members.reload", tooltip="Read members' usage again."),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._drawn = -1
        self._asked_while: EngineState | None = None

    def compose_body(self) -> ComposeResult:
        yield Label("", id="members-summary")
        table: DataTable[str] = DataTable(id="members-table", cursor_type="row", zebra_stripes=True)
        for name in COLUMNS:
            table.add_column(name, key=name)
        yield table

    def on_screen_resume(self) -> None:
        self.action_reload()
        super().on_screen_resume()

    def action_reload(self) -> None:
        self._asked_while = self.session.engine_status.state
        self.actions.load_members()

    def redraw(self) -> None:
        if self.session.engine_status.state is EngineState.READY and self._asked_while is not EngineState.READY:
            self.action_reload()  # the engine came up while this screen was shown
        roster = self.session.members
        if roster.version == self._drawn:
            return
        self._drawn = roster.version
        active = sum(m.active for m in roster.members)
        if roster.members:
            summary = (f"{len(roster.members)} member keys ({active} active), "
                       f"{fmt.money(roster.total_spend())} this month")  # fmt: skip
        else:
            summary = "No member keys yet: proxypal-engine keys create NAME --team T --budget-monthly-usd N"
        note = f"   ({roster.error})" if roster.error else ""
        self.query_one("#members-summary", Label).update(summary + note)
        table = self.query_one("#members-table", DataTable)
        table.clear()
        for m in roster.members:
            name = m.name if m.active else f"{m.name} (off)"
            table.add_row(name, m.team, fmt.money(m.spend_usd), budget_bar(m.budget_used), fmt.count(m.requests),
                          _seen(m.last_seen), models_text(list(m.models)), key=m.id)  # fmt: skip
