"""Help (`?`): every key of the screen underneath, as the keymap has it, with what it does."""

from __future__ import annotations

from rich.text import Text
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
            table: DataTable[str | Text] = DataTable(id="help-table", cursor_type="row", zebra_stripes=True)
            yield table

    def on_mount(self) -> None:
        """Descriptions wrap in a column as wide as the box (90% of the screen, at most 100), never cut."""
        table = self.query_one(DataTable)
        key_w = max([3, *(len(key) for key, _, _ in self._rows)])
        inner = min(int(self.app.size.width * 0.9), 100) - 4  # the box's border and padding
        table.add_column("Key", width=key_w)
        table.add_column("Does", width=max(20, inner - key_w - 6))  # cell padding and the scrollbar
        for key, description, tooltip in self._rows:
            table.add_row(key, Text(f"{description} — {tooltip}" if tooltip else description), height=None)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
