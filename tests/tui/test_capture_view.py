"""The capture view: the four stages (the translated upstream body beside the client's), the replay
dialog and its diff, export and search. Snapshots at 80x24 and 60x20 from the scripted engine; the
functional test drives the real engine over its management API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Label, Static, TabbedContent

from proxy_engine.paths import Paths
from proxypal_tui.app import ProxyPalApp
from proxypal_tui.core.capture_text import search, stage_text
from proxypal_tui.screens.capture import CaptureScreen
from proxypal_tui.screens.capture_search import CaptureSearchScreen
from tests.engine_harness import EngineProcess, free_port
from tests.fakes import FakeAnthropic, FakeOpenAI, FakeServerThread
from tests.recorder.helpers import wait_capture
from tests.tui.capture_script import CAPTURE
from tests.tui.conftest import app_options, wait_for
from tests.tui.test_snapshots import engine, make_app, scene  # noqa: F401 - the scripted engine fixture


@pytest.fixture
def real_engine(home: Paths) -> Iterator[tuple[ProxyPalApp, EngineProcess, str]]:
    """A real engine (recorder on) with one captured request, and a TUI app that attaches to it."""
    with FakeServerThread(FakeOpenAI()) as fo, FakeServerThread(FakeAnthropic()) as fa:
        fo.script(text="Bonjour from OpenAI.", chunks=2)
        fa.script(text="Ciao from Anthropic.", chunks=2)
        port = free_port()
        cfg = (f"port: {port}\nproviders:\n  openai: {{base_url: \"{fo.base_url}\", api_key: env:OK}}\n"
               f"  anthropic: {{base_url: \"{fa.base_url}\", api_key: env:AK}}\nrecorder: {{mode: all}}\n")  # fmt: skip
        assert home.config_file.parent == home.data_dir.parent
        with EngineProcess(cfg, port, home=str(home.config_file.parent)) as eng:
            body = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True}
            rid = httpx.post(eng.url + "/v1/chat/completions", json=body, timeout=20).headers["X-ProxyPal-Request-Id"]
            wait_capture(eng, rid)
            yield ProxyPalApp(app_options(home, attach_only=True)), eng, rid


SMALL = pytest.mark.parametrize("size", [(80, 24), (60, 20)], ids=["80x24", "60x20"])


async def _capture_open(pilot: Pilot) -> None:
    await wait_for(lambda: isinstance(pilot.app.screen, CaptureScreen) and pilot.app.screen.doc is not None, pilot)


@SMALL
def test_four_stage_view(snap_compare: Any, snap_home: Paths, engine: Any, size: tuple[int, int]) -> None:  # noqa: F811
    """req-0041's capture on the "2 Upstream request" tab: the title says status 500, openai_chat →
    openai_chat, kept: error, attempts 2; the left half is the client's body (gpt-4o, "Capital of
    France?"), the right half "— attempt 1 —" POST https://api.anthropic.com/v1/messages with
    x-api-key: [redacted] and the translated Anthropic body. Tabs 1-4 and "Replay diff" are listed."""

    async def after(pilot: Pilot) -> None:
        await _capture_open(pilot)
        await pilot.press("2")

    run = scene(engine, ("r", "down", "enter"), after, shows=CaptureScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


@SMALL
def test_replay_diff(snap_compare: Any, snap_home: Paths, engine: Any, size: tuple[int, int]) -> None:  # noqa: F811
    """After R and enter in the replay dialog: the "Replay diff" tab shows "Replay req-0042 of req-0041
    status 200", then "status: changed" with -500 in red and +200 in green, "text: changed" with
    +Paris., "usage: changed" and "error: changed" with the original's 500 message in red."""

    async def after(pilot: Pilot) -> None:
        await _capture_open(pilot)
        await pilot.press("R")
        await wait_for(lambda: pilot.app.screen.__class__.__name__ == "ReplayDialog", pilot)
        await pilot.press("enter")
        await wait_for(lambda: "Replay req-0042" in str(pilot.app.screen.query_one("#replay-diff", Static).content),
                       pilot)  # fmt: skip

    run = scene(engine, ("r", "down", "enter"), after, shows=CaptureScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


def test_stage_text_and_search_read_the_engine_shapes() -> None:
    up = stage_text(CAPTURE, "upstream_request")
    assert up.index("— attempt 1 —") < up.index("— attempt 2 —")
    assert '"model": "claude-sonnet-4-5"' in up and "x-api-key: [redacted]" in up
    hits = search(CAPTURE, "capital of france")
    assert [h.stage for h in hits] == ["client_request", "upstream_request", "upstream_request"]
    assert stage_text(CAPTURE, "client_response").splitlines()[-1].startswith('{"error"')


async def test_search_replay_and_export_against_the_real_engine(real_engine: Any, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Open a real request's capture from the feed, find text in it, replay it to another model, export it."""
    app, _eng, rid = real_engine
    monkeypatch.chdir(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: app.session.engine_status.running and len(app.live.feed) >= 1, pilot, within=30)
        await pilot.press("r")
        await wait_for(lambda: app.screen.feed_view.row_count >= 1 if hasattr(app.screen, "feed_view") else False,
                       pilot)  # fmt: skip
        app.screen.query_one("#feed").action_first()
        await pilot.pause()
        await pilot.press("enter")
        await _capture_open(pilot)
        screen = app.screen
        assert isinstance(screen, CaptureScreen) and screen.request_id == rid
        await pilot.press("slash", *"Bonjour", "enter")
        await pilot.pause()
        hits_label = str(screen.query_one("#capture-hits", Label).content)
        assert hits_label.startswith((" 1 found", " 2 found")), hits_label
        assert screen.query_one("#capture-tabs", TabbedContent).active == "tab-upstream_response"
        await pilot.press("R")
        await wait_for(lambda: app.screen.__class__.__name__ == "ReplayDialog", pilot)
        model = app.screen.query_one("#replay-model")
        model.value = "anthropic/claude-haiku-4-5"
        await pilot.press("enter")
        await wait_for(lambda: "Replay " in str(screen.query_one("#replay-diff", Static).content), pilot, within=30)
        diff = str(screen.query_one("#replay-diff", Static).content)
        assert "text: changed" in diff and "+Ciao from Anthropic." in diff
        await pilot.press("E")
        out = tmp_path / f"capture-{rid}.json"
        await wait_for(out.exists, pilot)
        assert json.loads(out.read_text())["format"] == "proxypal-fixture/1"


@pytest.fixture
def three_captures(home: Paths) -> Iterator[tuple[ProxyPalApp, dict[str, str]]]:
    """A real engine (recorder on) that captured three requests, each prompt with its own word."""
    with FakeServerThread(FakeOpenAI()) as fo:
        fo.script(text="Same answer.", chunks=2)
        port = free_port()
        cfg = (f"port: {port}\nproviders:\n  openai: {{base_url: \"{fo.base_url}\", api_key: env:OK}}\n"
               "recorder: {mode: all}\n")  # fmt: skip
        with EngineProcess(cfg, port, home=str(home.config_file.parent)) as eng:
            ids = {}
            for word in ("alpha", "Quetzalcoatl-77", "gamma"):
                body = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": f"tell me about {word}"}]}
                r = httpx.post(eng.url + "/v1/chat/completions", json=body, timeout=20)
                ids[word] = r.headers["X-ProxyPal-Request-Id"]
                wait_capture(eng, ids[word])
            yield ProxyPalApp(app_options(home, attach_only=True)), ids


async def test_slash_finds_one_capture_among_many_and_opens_it_at_the_match(three_captures: Any) -> None:
    """Three real requests are captured; `/` on the Requests screen finds the one whose prompt holds a
    word no other has, and enter opens its capture on the stage of the match with the word in the box."""
    app, ids = three_captures
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(lambda: app.session.engine_status.running, pilot, within=30)
        await pilot.press("r", "slash")
        await wait_for(lambda: isinstance(app.screen, CaptureSearchScreen), pilot)
        search_screen = app.screen
        assert isinstance(search_screen, CaptureSearchScreen)
        await pilot.press(*"quetzalcoatl-77", "enter")
        await wait_for(lambda: bool(search_screen.rows), pilot, within=20)
        assert [r["id"] for r in search_screen.rows] == [ids["Quetzalcoatl-77"]]
        match = search_screen.rows[0]["match"]
        assert match["stage"] == "client_request"
        assert match["excerpt"][match["start"] : match["start"] + match["length"]] == "Quetzalcoatl-77"
        assert search_screen.query_one("#capsearch-results", DataTable).row_count == 1
        assert "1 capture with" in str(search_screen.query_one("#capsearch-status", Label).content)
        await pilot.press("enter")
        await _capture_open(pilot)
        view = app.screen
        assert isinstance(view, CaptureScreen) and view.request_id == ids["Quetzalcoatl-77"]
        assert view.query_one("#capture-search", Input).value == "quetzalcoatl-77"
        assert view.query_one("#capture-tabs", TabbedContent).active == "tab-client_request"
        assert str(view.query_one("#capture-hits", Label).content).startswith(" 2 found")
        await pilot.press("escape")
        assert app.screen is search_screen
