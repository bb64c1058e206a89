"""One request's flight-recorder capture: a tab per stage, replay with a diff, export, and search.

The stages come from the management API (`GET /v0/requests/{id}/capture`); the upstream request
tab shows the client's body beside the translated one the upstream got. `R` replays the request
(to another model or provider if asked) and shows the diff of status, text, tool calls and usage;
`E` writes the redacted fixture; `/` finds text in every stage of this capture, ctrl+f in every
stored capture. Opened from a search with `needle`, it starts on the first match, highlighted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Static, TabbedContent, TabPane, Tabs

from proxy_engine.paths import atomic_write
from proxypal_tui.core.api import ApiError, ManagementClient
from proxypal_tui.core.capture_text import STAGE_ORDER, capture_title, search, stage_text
from proxypal_tui.core.session import Session
from proxypal_tui.screens.base import ProxyPalScreen
from proxypal_tui.screens.replay_dialog import ReplayDialog, ReplayTarget

_TABS = {
    "client_request": "1 Client request",
    "upstream_request": "2 Upstream request",
    "upstream_response": "3 Upstream reply",
    "client_response": "4 Client reply",
}


class CaptureLoaded(Message, bubble=False):
    def __init__(self, doc: dict[str, Any] | None, error: str = "") -> None:
        super().__init__()
        self.doc, self.error = doc, error


class ReplayFinished(Message, bubble=False):
    def __init__(self, result: dict[str, Any] | None, error: str = "") -> None:
        super().__init__()
        self.result, self.error = result, error


class FixtureExported(Message, bubble=False):
    def __init__(self, path: Path | None, error: str = "") -> None:
        super().__init__()
        self.path, self.error = path, error


def replay_text(result: dict[str, Any]) -> Text:
    """The replay's diff: `-` lines of the original in the error colour, `+` lines of the replay in green."""
    head = Text.assemble(
        ("Replay ", "bold"), str(result.get("request_id")), " of ", str(result.get("original_id")),
        "  status ", str(result.get("status")), "\n\n",
    )  # fmt: skip
    body = Text()
    for line in str(result.get("diff_text") or "").splitlines():
        style = "red" if line.startswith("  -") else "green" if line.startswith("  +") else ""
        body.append(line + "\n", style=style)
    return head + body


class CaptureScreen(ProxyPalScreen):
    TITLE_TEXT = "Request capture"
    CSS_PATH = str(Path(__file__).parent.parent / "tcss" / "capture.tcss")
    BINDINGS = [
        Binding("escape", "back", "Back", id="capture.back", tooltip="Back to the request feed."),
        Binding("R", "replay", "Replay", id="capture.replay", tooltip="Send it again, maybe to another model."),
        Binding("E", "export", "Export", id="capture.export", tooltip="Write a redacted JSON test fixture."),
        Binding(
            "slash", "search", "Find here", id="capture.search", tooltip="Find text in every stage of this capture."
        ),
        Binding(
            "ctrl+f",
            "search_all",
            "Search all",
            id="capture.search_all",
            tooltip="Find text in every stored capture (the engine searches them all).",
        ),
        *(
            Binding(str(i), f"tab('{name}')", _TABS[name], show=False, id=f"capture.tab{i}", tooltip="Show this stage.")
            for i, name in enumerate(STAGE_ORDER, 1)
        ),
    ]

    def __init__(self, session: Session, request_id: str, api: ManagementClient | None, needle: str = "") -> None:
        super().__init__(session)
        self.request_id = request_id
        self.api = api
        self.doc: dict[str, Any] | None = None
        self.needle = needle.strip()

    def compose_body(self) -> ComposeResult:
        yield Static(f"{self.request_id}  loading the capture…", id="capture-title")
        with Horizontal(id="capture-search-row"):
            yield Input(
                placeholder="find in this capture (enter: first match; ctrl+f: all captures)", id="capture-search"
            )
            yield Label("", id="capture-hits")
        with TabbedContent(id="capture-tabs"):
            with TabPane(_TABS["client_request"], id="tab-client_request"):
                yield VerticalScroll(Static(id="body-client_request", classes="stage-body"))
            with TabPane(_TABS["upstream_request"], id="tab-upstream_request"), Horizontal():
                yield VerticalScroll(Static(id="body-client_side", classes="stage-body"), classes="half")
                yield VerticalScroll(Static(id="body-upstream_request", classes="stage-body"), classes="half")
            with TabPane(_TABS["upstream_response"], id="tab-upstream_response"):
                yield VerticalScroll(Static(id="body-upstream_response", classes="stage-body"))
            with TabPane(_TABS["client_response"], id="tab-client_response"):
                yield VerticalScroll(Static(id="body-client_response", classes="stage-body"))
            with TabPane("Replay diff", id="tab-replay"):
                yield VerticalScroll(Static("Press R to replay this request.", id="replay-diff"))

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#capture-search", Input).cursor_blink = False
        self.query_one("#capture-tabs", TabbedContent).query_one(Tabs).focus()  # keys go to the screen, not the search
        self.load_capture()

    # ---- workers: results come back as messages -----------------------------------------------

    @work(exclusive=True, exit_on_error=False, group="capture")
    async def load_capture(self) -> None:
        if self.api is None:
            self.post_message(CaptureLoaded(None, "the engine is not running"))
            return
        try:
            self.post_message(CaptureLoaded(await self.api.capture(self.request_id)))
        except ApiError as e:
            self.post_message(CaptureLoaded(None, str(e)))

    @work(exclusive=True, exit_on_error=False, group="capture-replay")
    async def run_replay(self, target: ReplayTarget) -> None:
        if self.api is None:
            self.post_message(ReplayFinished(None, "the engine is not running"))
            return
        try:
            result = await self.api.replay(self.request_id, target.model, target.provider)
        except ApiError as e:
            self.post_message(ReplayFinished(None, str(e)))
            return
        self.post_message(ReplayFinished(result))

    @work(exclusive=True, exit_on_error=False, group="capture-export")
    async def export_fixture(self, path: Path) -> None:
        if self.api is None:
            self.post_message(FixtureExported(None, "the engine is not running"))
            return
        try:
            fixture = await self.api.capture_fixture(self.request_id)
            atomic_write(path, json.dumps(fixture, indent=2, ensure_ascii=False) + "\n")
        except (ApiError, OSError) as e:
            self.post_message(FixtureExported(None, str(e)))
            return
        self.post_message(FixtureExported(path))

    # ---- handlers ---------------------------------------------------------------------------------

    @on(CaptureLoaded)
    def _loaded(self, message: CaptureLoaded) -> None:
        self.doc = message.doc
        title = self.query_one("#capture-title", Static)
        if message.doc is None:
            title.update(Text(f"{self.request_id}  no capture: {message.error}", style="italic"))
            return
        title.update(capture_title(message.doc))
        if self.needle:  # opened from a search: the box shows it, the view starts at the first match
            self.query_one("#capture-search", Input).value = self.needle
            self._show_first_match()
        self._draw_stages()

    def _draw_stages(self) -> None:
        doc = self.doc
        if doc is None:
            return
        for name in STAGE_ORDER:
            self.query_one(f"#body-{name}", Static).update(self._marked(stage_text(doc, name)))
        client = "client body\n\n" + stage_text(doc, "client_request", headers=False)
        self.query_one("#body-client_side", Static).update(self._marked(client))

    def _marked(self, text: str) -> Text:
        out = Text(text)
        if self.needle:
            out.highlight_words([self.needle], style="reverse", case_sensitive=False)
        return out

    @on(ReplayFinished)
    def _replayed(self, message: ReplayFinished) -> None:
        pane = self.query_one("#replay-diff", Static)
        if message.result is None:
            pane.update(Text(f"The replay failed: {message.error}", style="bold"))
        else:
            pane.update(replay_text(message.result))
        self.query_one("#capture-tabs", TabbedContent).active = "tab-replay"

    @on(FixtureExported)
    def _exported(self, message: FixtureExported) -> None:
        if message.path is None:
            self.notify(message.error, title="Export failed", severity="error")
        else:
            self.notify(f"Wrote {message.path}", title="Capture exported")

    @on(Input.Changed, "#capture-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.needle = event.value.strip()
        hits = search(self.doc or {}, self.needle)
        per_stage: dict[str, int] = {}
        for h in hits:
            per_stage[h.stage] = per_stage.get(h.stage, 0) + 1
        label = " · ".join(f"{_TABS[s][2:]} {n}" for s, n in per_stage.items())
        self.query_one("#capture-hits", Label).update(f" {len(hits)} found  {label}" if self.needle else "")
        self._draw_stages()

    @on(Input.Submitted, "#capture-search")
    def _search_submitted(self) -> None:
        self._show_first_match()
        self.query_one("#capture-tabs", TabbedContent).query_one(Tabs).focus()

    def _show_first_match(self) -> None:
        """Switch to the stage of the first match and scroll its line into view."""
        hits = search(self.doc or {}, self.needle)
        if not hits:
            return
        self.query_one("#capture-tabs", TabbedContent).active = f"tab-{hits[0].stage}"
        body = self.query_one(f"#body-{hits[0].stage}", Static)
        scroller = body.parent
        if isinstance(scroller, VerticalScroll):
            line = hits[0].line
            self.call_after_refresh(lambda: scroller.scroll_to(y=max(0, line - 2), animate=False))

    # ---- actions ----------------------------------------------------------------------------------

    def action_back(self) -> None:
        search_box = self.query_one("#capture-search", Input)
        if search_box.has_focus:
            self.query_one("#capture-tabs", TabbedContent).query_one(Tabs).focus()
            return
        self.app.pop_screen()

    def action_tab(self, name: str) -> None:
        self.query_one("#capture-tabs", TabbedContent).active = f"tab-{name}"

    def action_search(self) -> None:
        self.query_one("#capture-search", Input).focus()

    def action_search_all(self) -> None:
        self.actions.search_captures(self.needle)

    def action_replay(self) -> None:
        meta = (self.doc or {}).get("meta") or {}
        choices = self.session.config.model_names

        def chosen(target: ReplayTarget | None) -> None:
            if target is not None:
                self.query_one("#replay-diff", Static).update(f"Replaying to {target.model or 'the same model'}…")
                self.run_replay(target)

        self.app.push_screen(ReplayDialog(str(meta.get("model_requested") or ""), choices), chosen)

    def action_export(self) -> None:
        self.export_fixture(Path.cwd() / f"capture-{self.request_id}.json")
