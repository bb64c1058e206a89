"""Pick where a captured request is replayed: a model (typed, or picked from the config's), and a provider."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList


@dataclass(frozen=True)
class ReplayTarget:
    model: str
    provider: str


# Rows the dialog needs besides the model list: its border, the question, two inputs, the buttons.
_DIALOG_ROWS = 2 + 1 + 3 + 3 + 4
_MODEL_LIST_ROWS = (3, 8)


class ReplayDialog(ModalScreen[ReplayTarget | None]):
    CSS_PATH = str(Path(__file__).parent.parent / "tcss" / "capture.tcss")
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="replay.cancel", tooltip="Close without replaying."),
    ]

    def __init__(self, model: str, choices: list[str]) -> None:
        super().__init__()
        self._model = model
        self._choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(id="replay-dialog", classes="dialog"):
            yield Label("Replay this request through the proxy, to:", id="replay-question")
            yield Input(self._model, placeholder="model: a friendly name or provider/model", id="replay-model")
            yield OptionList(*self._choices, id="replay-models")
            yield Input("", placeholder="provider (optional): sends the model to this provider", id="replay-provider")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Replay (enter)", variant="primary", id="replay-go")
                yield Button("Cancel (esc)", id="replay-cancel")

    def on_mount(self) -> None:
        model = self.query_one("#replay-model", Input)
        model.cursor_blink = False
        self.query_one("#replay-provider", Input).cursor_blink = False
        model.focus()

    def on_resize(self, event: events.Resize) -> None:
        """Shrink the model list on a short terminal so the Replay and Cancel buttons stay on screen."""
        fits = event.size.height * 9 // 10 - _DIALOG_ROWS
        low, high = _MODEL_LIST_ROWS
        self.query_one("#replay-models", OptionList).styles.max_height = max(low, min(high, fits))

    @on(OptionList.OptionSelected, "#replay-models")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#replay-model", Input).value = str(event.option.prompt)
        self.query_one("#replay-model", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#replay-go")
    def _go(self) -> None:
        model = self.query_one("#replay-model", Input).value.strip()
        provider = self.query_one("#replay-provider", Input).value.strip()
        self.dismiss(ReplayTarget(model, provider))

    @on(Button.Pressed, "#replay-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
