"""Doctor (`D`, or "Doctor" in the palette): runs `proxypal-engine doctor` and shows each check, the
highlighted one's detail and fix beneath, so a failure's fix is readable at any width."""

from __future__ import annotations

from pathlib import Path

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from proxypal_tui.core.doctor import DoctorOutcome, run_doctor

_STATE = {"ok": ("ok", "success"), "fail": ("FAIL", "error"), "note": ("note", "")}  # a note is dim


class DoctorFinished(Message):
    def __init__(self, outcome: DoctorOutcome) -> None:
        super().__init__()
        self.outcome = outcome


class DoctorScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q", "close", "Close", id="doctor.close", tooltip="Close the doctor's report."),
        Binding("ctrl+r", "rerun", "Run again", id="doctor.rerun", tooltip="Run every check again."),
    ]

    def __init__(self, argv: list[str], env: dict[str, str] | None, config_path: Path) -> None:
        super().__init__()
        self._argv = argv
        self._env = env
        self._config_path = config_path
        self.outcome: DoctorOutcome | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="doctor"):
            yield Label("Doctor", id="doctor-title")
            yield Static("", id="doctor-summary")
            table: DataTable[str | Text] = DataTable(id="doctor-table", cursor_type="row", zebra_stripes=True)
            yield table
            yield Static("", id="doctor-detail")
            yield Static("esc close · ^r run again · ↑↓ a check's fix", id="doctor-keys")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("State", "Check", "Subject")
        table.focus()
        self.action_rerun()

    def action_rerun(self) -> None:
        self.outcome = None
        self.query_one("#doctor-summary", Static).update(f"Checking {self._config_path}…")
        self.query_one(DataTable).clear()
        self.query_one("#doctor-detail", Static).update("")
        self.run_checks()

    @work(exclusive=True, exit_on_error=False, group="doctor")
    async def run_checks(self) -> None:
        self.post_message(DoctorFinished(await run_doctor(self._argv, self._env)))

    @on(DoctorFinished)
    def _finished(self, message: DoctorFinished) -> None:
        outcome = self.outcome = message.outcome
        summary = self.query_one("#doctor-summary", Static)
        if outcome.error:
            summary.update(Text(outcome.error, style="bold red"))
            return
        n = outcome.failures
        summary.update("All good." if not n else f"{n} thing(s) need attention; each has its fix below.")
        summary.set_class(bool(n), "failing")
        table = self.query_one(DataTable)
        for i, c in enumerate(outcome.checks):
            word, variable = _STATE.get(c.status, (c.status, ""))
            colour = self.app.theme_variables.get(variable) if variable else None
            style = Style(color=colour, bold=True) if colour else Style(dim=True)
            table.add_row(Text(word, style=style), c.check, c.subject, key=str(i))
        first_failure = next((i for i, c in enumerate(outcome.checks) if c.status == "fail"), 0)
        if outcome.checks:
            table.move_cursor(row=first_failure)
            self._show(first_failure)

    @on(DataTable.RowHighlighted, "#doctor-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._show(int(event.row_key.value))

    def _show(self, index: int) -> None:
        if self.outcome is None or not 0 <= index < len(self.outcome.checks):
            return
        c = self.outcome.checks[index]
        text = Text(c.detail)
        if c.fix:
            text.append("\nfix: ", style="bold").append(c.fix)
        self.query_one("#doctor-detail", Static).update(text)

    def action_close(self) -> None:
        self.dismiss(None)
