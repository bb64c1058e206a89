"""The config file changed on disk while the editor holds unsaved edits: show the diff, let the user choose."""

from __future__ import annotations

import difflib

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

THEIRS = "theirs"
MINE = "mine"


def config_diff(mine: str, theirs: str) -> str:
    """A unified diff from the editor's text to the file's; what a reload would change."""
    lines = difflib.unified_diff(
        mine.splitlines(), theirs.splitlines(), fromfile="editor (mine)", tofile="on disk (theirs)", lineterm=""
    )
    return "\n".join(lines) or "(only whitespace at line ends differs)"


class ConfigConflictScreen(ModalScreen[str | None]):
    """Dismissed with THEIRS (reload the file), MINE (keep the edits) or None (decide later)."""

    BINDINGS = [
        Binding("t", "choose('theirs')", "Reload theirs", id="conflict.theirs", tooltip="Load the file's text."),
        Binding("m", "choose('mine')", "Keep mine", id="conflict.mine", tooltip="Keep the editor's text."),
        Binding("escape", "choose('')", "Later", id="conflict.later", tooltip="Decide later; nothing is written."),
    ]

    def __init__(self, mine: str, theirs: str) -> None:
        super().__init__()
        self._diff = config_diff(mine, theirs)

    def compose(self) -> ComposeResult:
        with Vertical(id="config-conflict", classes="dialog"):
            yield Static(
                "The config file changed on disk since the editor loaded it, and the editor has unsaved edits.",
                id="conflict-question",
            )
            with VerticalScroll(id="conflict-diff"):
                yield Static(self._diff, markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Reload theirs (t)", id="conflict-theirs")
                yield Button("Keep mine (m)", id="conflict-mine")

    @on(Button.Pressed, "#conflict-theirs")
    def _theirs(self) -> None:
        self.dismiss(THEIRS)

    @on(Button.Pressed, "#conflict-mine")
    def _mine(self) -> None:
        self.dismiss(MINE)

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice or None)
