"""The tools panel: which coding tools are here, where they point, and one key to point them at ProxyPal.

File reads and writes run in thread workers; results come back as typed
messages, and worker failures surface in one Worker.StateChanged handler.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Static, TextArea
from textual.worker import Worker, WorkerState

from proxy_engine.paths import resolve_paths
from proxypal_tui.tools.actions import Outcome, point, preview, restore
from proxypal_tui.tools.client_keys import proxy_settings
from proxypal_tui.tools.model import ToolError, ToolState, ToolStatus
from proxypal_tui.tools.pointing import status
from proxypal_tui.tools.registry import get_tool

# Plain letters that the app does not use for screen switching (d r p t c l q are taken there).
TOOLS_BINDINGS = [
    Binding("a", "apply", "Apply", id="tools.apply", tooltip="Point the selected tool at the proxy"),
    Binding("u", "undo", "Undo", id="tools.undo", tooltip="Restore the selected tool's files"),
    Binding("ctrl+r", "refresh", "Refresh", id="tools.refresh", tooltip="Re-read every tool's files"),
    Binding("y", "copy", "Copy setup", id="tools.copy", tooltip="Copy the setup steps to the clipboard"),
]
CONFIG_POLL_S = 1.0
TOOLS_CSS_PATH = str(Path(__file__).with_name("screen.tcss"))  # absolute: screens elsewhere find it too

STATUS_STYLE = {
    ToolStatus.POINTED_HERE: "$text-success",
    ToolStatus.POINTED_ELSEWHERE: "$text-warning",
    ToolStatus.NOT_INSTALLED: "$text-muted",
    ToolStatus.CONFIG_ONLY: "$text-muted",
}


def diff_content(diff: str) -> Content:
    """Colour a unified diff with theme variables (no hard-coded colours)."""
    parts: list[tuple[str, str] | str] = []
    for line in diff.splitlines(keepends=True):
        if line.startswith(("+++", "---")):
            parts.append((line, "bold"))
        elif line.startswith("+"):
            parts.append((line, "$text-success"))
        elif line.startswith("-"):
            parts.append((line, "$text-error"))
        elif line.startswith("@@"):
            parts.append((line, "$text-accent"))
        else:
            parts.append(line)
    return Content.assemble(*parts)


class ToolsPanel(Widget):
    """List tools, preview the change for the highlighted one, apply or undo it.

    A widget, so the standalone `ToolsScreen` and the app's Tools page both compose it; the
    screen around it holds the key bindings (`TOOLS_BINDINGS`) and calls the `action_*` here.
    """

    class StatesLoaded(Message):
        def __init__(self, states: list[ToolState], proxy_url: str) -> None:
            super().__init__()
            self.states, self.proxy_url = states, proxy_url

    class PreviewReady(Message):
        def __init__(self, outcome: Outcome) -> None:
            super().__init__()
            self.outcome = outcome

    class ActionDone(Message):
        def __init__(self, outcome: Outcome, verb: str) -> None:
            super().__init__()
            self.outcome, self.verb = outcome, verb

    class ActionFailed(Message):
        def __init__(self, tool: str, message: str) -> None:
            super().__init__()
            self.tool, self.message = tool, message

    def __init__(
        self, home: Path | None = None, config_path: Path | None = None, *, search_path: str | None = None
    ) -> None:
        super().__init__()
        self.home = (home or Path.home()).expanduser().resolve()
        self.config_path = config_path
        self.search_path = search_path  # where to look for tool binaries; None means $PATH
        self.selected: str | None = None
        self.instructions_text = ""
        self.states: list[ToolState] = []
        self._config_seen: tuple[int, int, int] | None = None

    def compose(self) -> ComposeResult:
        yield Static("Reading tools…", id="tools-proxy")
        table: DataTable[str | Content] = DataTable(id="tools-table", cursor_type="row", zebra_stripes=True)
        table.add_column("Tool")
        table.add_column("Status", width=max(len(s.value) for s in ToolStatus))
        table.add_column("Where")
        yield table
        with Vertical(id="tools-preview"):
            yield Static("", id="tools-notes")
            with VerticalScroll(id="tools-diff-scroll"):
                yield Static("", id="tools-diff")
            yield TextArea("", id="tools-instructions", read_only=True, show_line_numbers=False)

    def on_mount(self) -> None:
        self.action_refresh()
        self._config_seen = self._config_signature()
        self.set_interval(CONFIG_POLL_S, self._notice_config_change)

    def _config_signature(self) -> tuple[int, int, int] | None:
        """The ProxyPal config's inode, mtime and size: a cheap stat that says when the preview may be stale."""
        try:
            st = resolve_paths(self.config_path).config_file.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _notice_config_change(self) -> None:
        """Port, host, models and client keys all come from the config, so a changed file means a new preview
        (otherwise apply would write something other than the diff on screen)."""
        seen = self._config_signature()
        if seen != self._config_seen:
            self._config_seen = seen
            self.action_refresh()

    # ---- workers --------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="tools-status", exit_on_error=False)
    def load_states(self) -> None:
        try:
            settings = proxy_settings(self.config_path)
        except ToolError as e:
            self.post_message(self.ActionFailed("", str(e)))
            return
        states = status(self.home, settings.port, settings.host, self.search_path)
        self.post_message(self.StatesLoaded(states, f"http://{settings.host}:{settings.port}"))

    @work(thread=True, exclusive=True, group="tools-preview", exit_on_error=False)
    def load_preview(self, name: str) -> None:
        try:
            self.post_message(self.PreviewReady(preview(name, self.home, proxy_settings(self.config_path))))
        except ToolError as e:
            self.post_message(self.ActionFailed(name, str(e)))

    @work(thread=True, exclusive=True, group="tools-action", exit_on_error=False)
    def run_action(self, name: str, verb: str) -> None:
        try:
            if verb == "undo":
                outcome = restore(name, self.home, settings=proxy_settings(self.config_path))
            else:
                outcome = point(name, self.home, proxy_settings(self.config_path))
            self.post_message(self.ActionDone(outcome, verb))
        except ToolError as e:
            self.post_message(self.ActionFailed(name, str(e)))

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.notify(f"{event.worker.name} failed: {event.worker.error}", severity="error", timeout=10)

    # ---- message handlers -----------------------------------------------------------------
    @on(StatesLoaded)
    def show_states(self, message: StatesLoaded) -> None:
        self.states = message.states
        self.query_one("#tools-proxy", Static).update(f"Proxy: {message.proxy_url}")
        table = self.query_one("#tools-table", DataTable)
        keep = self.selected
        table.clear()
        for s in message.states:
            style = STATUS_STYLE.get(s.status, "")
            table.add_row(s.title, Content.styled(s.status.value, style), s.detail, key=s.name)
        if keep is not None:
            table.move_cursor(row=table.get_row_index(keep))
        if table.row_count and self.selected is None:
            self.selected = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
            self.load_preview(self.selected)

    @on(DataTable.RowHighlighted, "#tools-table")
    def row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        name = str(event.row_key.value)
        if name != self.selected:
            self.selected = name
            self.load_preview(name)

    @on(PreviewReady)
    def show_preview(self, message: PreviewReady) -> None:
        o = message.outcome
        if o.tool != self.selected:
            return
        notes = list(o.notes)
        diff = o.diff
        if not diff and o.undo_diff:
            notes.append("Press u to undo; it would change:")
            diff = o.undo_diff
        elif diff:
            notes.append("Press a to apply this change:")
        self._show(notes, diff, o.instructions)

    @on(ActionDone)
    def action_done(self, message: ActionDone) -> None:
        o = message.outcome
        verb = "Restored" if message.verb == "undo" else "Updated"
        self.notify(f"{verb} {o.title}" if o.changed or o.instructions else f"{o.title}: nothing to change")
        self._show(o.notes, o.diff, o.instructions)
        self.load_states()

    @on(ActionFailed)
    def action_failed(self, message: ActionFailed) -> None:
        self.notify(message.message, severity="error", timeout=10)
        if not message.tool or message.tool == self.selected:
            self._show([f"error: {message.message}"], "", "")

    def _show(self, notes: list[str], diff: str, instructions: str) -> None:
        self.query_one("#tools-notes", Static).update("\n".join(n for n in notes if n))
        self.query_one("#tools-diff", Static).update(diff_content(diff) if diff else "")
        self.query_one("#tools-diff-scroll").display = bool(diff) or not instructions
        area = self.query_one("#tools-instructions", TextArea)
        area.display = bool(instructions)
        area.text = instructions
        self.instructions_text = instructions

    def palette_commands(self) -> Iterable[SystemCommand]:
        """Command-palette entries for the tools as they are now (the app adds them while shown)."""
        for s in self.states:
            manual = get_tool(s.name).manual
            verb, suffix = ("Show setup for", "") if manual else ("Point", " at ProxyPal")
            yield SystemCommand(f"{verb} {s.title}{suffix}", s.status.value, partial(self.run_action, s.name, "apply"))
            if s.status is ToolStatus.POINTED_HERE:
                yield SystemCommand(f"Undo {s.title}", "restore its files", partial(self.run_action, s.name, "undo"))

    # ---- actions --------------------------------------------------------------------------
    def action_refresh(self) -> None:
        self.load_states()
        if self.selected:
            self.load_preview(self.selected)

    def action_apply(self) -> None:
        if self.selected:
            self.run_action(self.selected, "apply")

    def action_undo(self) -> None:
        if self.selected and not get_tool(self.selected).manual:
            self.run_action(self.selected, "undo")

    def action_copy(self) -> None:
        if self.instructions_text:
            self.app.copy_to_clipboard(self.instructions_text)
            self.notify("Setup instructions copied")
        else:
            self.notify("This tool is set up from its files; nothing to copy", severity="warning")
