"""Help (`?`): every key of the screen underneath, as the keymap has it, with what it does."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

INTRO = (
    "ProxyPal works without a mouse. Single keys switch screens; ctrl+p opens the command palette "
    "(engine start/stop/restart, themes, everything). In an editor or input, press escape first."
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "close", "Close", id="help.close", tooltip="Close the help."),
    ]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self._rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Label("Keys", id="help-title")
            yield Static(INTRO, id="help-intro")
            table: DataTable[str] = DataTable(id="help-table", cursor_type="row", zebra_stripes=True)
            yield table

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Key", "Does")
        for key, description, tooltip in self._rows:
            table.add_row(key, f"{description} — {tooltip}" if tooltip else description)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
