"""Config: edit the YAML, validate it with the engine's own schema, save atomically, show the reload."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual import events, on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.theme import Theme
from textual.widgets import Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from proxy_engine.config import ConfigError
from proxypal_tui.core.session import Session
from proxypal_tui.screens.base import ProxyPalScreen
from proxypal_tui.screens.config_conflict import MINE, THEIRS, ConfigConflictScreen

DISK_CHECK_S = 1.0  # how often the editor looks for edits made to the file outside the TUI


def issue_label(issue: dict[str, Any]) -> str:
    line = issue.get("line")
    return f"line {line}: {issue.get('message', '')}" if line else str(issue.get("message", ""))


class ConfigEditor(TextArea):
    """The YAML editor; escape hands focus back to the screen so single-key shortcuts work again.

    TextArea's own escape (with tab indenting) moves focus to the next widget, which is the editor
    itself when it is the only focusable one, so the keys typed next went into the config.
    """

    class Left(Message):
        """Escape was pressed in the editor: the screen decides where focus goes."""

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "escape":
            event.stop()
            event.prevent_default()
            self.post_message(self.Left())
            return
        await super()._on_key(event)


class ConfigScreen(ProxyPalScreen):
    TITLE_TEXT = "Config"
    AUTO_FOCUS = ""  # arrive with screen keys working; `e` starts editing
    BINDINGS = [
        Binding("e", "edit", "Edit", id="config.edit", tooltip="Move into the editor (escape leaves it)."),
        Binding("enter", "edit", "Edit", show=False, id="config.edit_enter", tooltip="Move into the editor."),
        Binding("ctrl+s", "save", "Save", id="config.save", tooltip="Validate, then write; the engine reloads it."),
        Binding("ctrl+o", "revert", "Reload", id="config.revert", tooltip="Discard edits and read the file again."),
        Binding(
            "f8",
            "next_error",
            "Error",
            id="config.next_error",
            tooltip="Jump to the next problem's line.",
        ),
        Binding(
            "escape",
            "leave_editor",
            "Done",
            id="config.leave_editor",
            tooltip="Move focus out of the editor so single-key shortcuts work.",
        ),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._loaded_text = ""
        self._issues: list[dict[str, Any]] = []
        self._issue_index = -1
        self._result_version = -1
        self._disk_text = ""  # the file's text as last read; differs from _loaded_text while a conflict is open
        self._disk_stamp: tuple[int, int, int] | None = None
        self._asking = False

    def compose_body(self) -> ComposeResult:
        yield Label("", id="config-path")
        yield ConfigEditor.code_editor("", language=None, id="editor", soft_wrap=False)
        yield OptionList(id="config-errors")
        yield Static("", id="config-result")

    def on_mount(self) -> None:
        super().on_mount()
        editor = self.query_one("#editor", TextArea)
        if "yaml" in editor.available_languages:
            editor.language = "yaml"
        self._follow_theme(self.app.current_theme)
        self.app.theme_changed_signal.subscribe(self, self._follow_theme)
        self.query_one("#config-errors", OptionList).display = False
        self.load_from_disk()
        self.set_interval(DISK_CHECK_S, self.check_disk)

    def _follow_theme(self, theme: Theme) -> None:
        self.query_one("#editor", TextArea).theme = "vscode_dark" if theme.dark else "github_light"

    @property
    def editor(self) -> TextArea:
        return self.query_one("#editor", TextArea)

    @property
    def dirty(self) -> bool:
        return self.editor.text != self._loaded_text

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.session.config_path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def load_from_disk(self) -> None:
        path = self.session.config_path
        self._disk_stamp = self._stamp()
        try:
            text = self.session.config.read_text()
        except OSError as e:
            text = ""
            self._set_result(f"cannot read {path}: {e}", bad=True)
        self._loaded_text = text
        self._disk_text = text
        self.editor.load_text(text)
        self.query_one("#config-path", Label).update(str(path))

    def changed_on_disk(self) -> bool:
        """True when the file now holds other text than the editor was based on (read only if its stat moved)."""
        stamp = self._stamp()
        if stamp != self._disk_stamp:
            self._disk_stamp = stamp
            try:
                self._disk_text = self.session.config.read_text()
            except OSError:
                return False
        return self._disk_text != self._loaded_text

    def check_disk(self) -> bool:
        """Follow an outside edit: reload when the editor is clean, otherwise ask. True when it changed."""
        if self._asking or not self.changed_on_disk():
            return False
        if not self.dirty:
            self.load_from_disk()
            self._set_result("The file changed on disk; the editor shows the new text.")
        else:
            self.ask_about_conflict()
        return True

    def ask_about_conflict(self) -> None:
        self._asking = True
        self._set_result("The file changed on disk and the editor has unsaved edits; nothing was written.", bad=True)
        self.app.push_screen(ConfigConflictScreen(self.editor.text, self._disk_text), self._conflict_decided)

    def _conflict_decided(self, choice: str | None) -> None:
        self._asking = False
        if choice == THEIRS:
            self.action_revert()
        elif choice == MINE:
            self._loaded_text = self._disk_text  # the outside edit is seen; ctrl+s may now replace it
            self._set_result("Kept your edits; ctrl+s replaces the file's newer text.")
        self.editor.focus()

    def on_screen_resume(self) -> None:
        if not self.dirty:
            self.load_from_disk()
        super().on_screen_resume()
        self.check_disk()

    def on_screen_suspend(self) -> None:
        """Leave without focus, so coming back has screen keys working; `e` (or enter) starts editing."""
        if not self._asking:
            self.set_focus(None)

    def action_revert(self) -> None:
        self.load_from_disk()
        self._show_issues([])
        self._set_result("reloaded from disk")

    def action_edit(self) -> None:
        self.editor.focus()

    @on(ConfigEditor.Left)
    def _editor_left(self) -> None:
        self.action_leave_editor()

    def action_leave_editor(self) -> None:
        target = self.query_one("#config-errors", OptionList)
        if target.display:
            target.focus()
        else:
            self.set_focus(None)

    def action_save(self) -> None:
        if self.check_disk():
            return  # never write over a newer file unasked
        text = self.editor.text
        if not self.dirty:
            self._set_result("Nothing to save: the editor matches the file.")
            return
        try:
            self.session.config.check(text)
        except ConfigError as e:
            self._show_issues([i.as_dict() for i in e.issues])
            self._set_result(f"Not saved: {len(e.issues)} problem(s). F8 jumps to the next one.", bad=True)
            self.action_next_error()
            return
        self._show_issues([])
        self._loaded_text = text
        self._disk_text = text
        self._set_result("Saving…")
        self.actions.save_config(text)

    def action_next_error(self) -> None:
        lines = [i for i in self._issues if i.get("line")]
        if not lines:
            return
        self._issue_index = (self._issue_index + 1) % len(lines)
        self.jump_to_line(int(lines[self._issue_index]["line"]))

    def jump_to_line(self, line: int) -> None:
        editor = self.editor
        row = max(0, min(line - 1, editor.document.line_count - 1))
        editor.move_cursor((row, 0), center=True)
        editor.focus()

    @on(OptionList.OptionSelected, "#config-errors")
    def _issue_chosen(self, event: OptionList.OptionSelected) -> None:
        issue = self._issues[event.option_index]
        if issue.get("line"):
            self.jump_to_line(int(issue["line"]))

    def _show_issues(self, issues: list[dict[str, Any]]) -> None:
        self._issues = issues
        self._issue_index = -1
        errors = self.query_one("#config-errors", OptionList)
        errors.clear_options()
        errors.add_options([Option(issue_label(i)) for i in issues])
        errors.display = bool(issues)
        if issues:
            errors.highlighted = 0

    def _set_result(self, text: str, bad: bool = False) -> None:
        result = self.query_one("#config-result", Static)
        result.update(text)
        result.set_class(bad, "bad")

    def redraw(self) -> None:
        outcome = self.session.config_outcome
        if outcome is None or outcome.version == self._result_version:
            return
        self._result_version = outcome.version
        self._set_result(outcome.summary, bad=not outcome.ok)
        if not outcome.ok:
            self._show_issues(outcome.errors)

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Save config", "Validate and save the config file", self.action_save)
        yield SystemCommand("Reload config from disk", "Discard edits in the editor", self.action_revert)
