"""Snapshots of every screen at 80x24 and 120x40, from a scripted feed over a real Unix socket.

The app attaches to a scripted engine (real socket, real aiohttp API) at a fixed port and a fixed
home, with a fixed clock and TZ=UTC, so each picture is the same on every run. Textual is pinned
(8.2.8) for these. Update with `pytest tests/tui/test_snapshots.py --snapshot-update` and look at
the report before accepting.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from proxy_engine.config import DEFAULT_CONFIG_TEXT
from proxy_engine.paths import Paths
from proxypal_tui.app import ProxyPalApp
from proxypal_tui.core.engine_state import EngineState
from tests.tui.conftest import app_options, scripted, until_ready, wait_for
from tests.tui.feed_script import FIXED_NOW, SNAP_PORT, live_events
from tests.tui.standin import Script, StandinThread

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])


@pytest.fixture(autouse=True)
def _keyring(file_keyring: Any) -> None:
    """The keyring note is part of the picture: use the same backend everywhere."""


@pytest.fixture
def engine(snap_home: Paths) -> Iterator[StandinThread]:
    thread = scripted(snap_home, port=SNAP_PORT)
    yield thread
    thread.stop()


def make_app(paths: Paths, **overrides: Any) -> ProxyPalApp:
    overrides.setdefault("attach_only", True)
    return ProxyPalApp(app_options(paths, clock=lambda: FIXED_NOW, **overrides))


def scene(
    engine: StandinThread | None,
    keys: tuple[str, ...] = (),
    after: Callable[[Pilot], Awaitable[None]] | None = None,
) -> Callable[[Pilot], Awaitable[None]]:
    """Wait for the engine's data and the live events, press `keys`, then draw once."""

    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        assert isinstance(app, ProxyPalApp)
        await until_ready(app, pilot)
        await wait_for(lambda: app.live.providers_version > 0 and app.live.usage_version > 0, pilot)
        if engine is not None:
            engine.send(live_events())
            await wait_for(lambda: len(app.live.feed) == 43 and app.live.logs.serial >= 4, pilot)
        for key in keys:
            await pilot.press(key)
        if after is not None:
            await after(pilot)
        app.redraw_now()
        await pilot.pause()

    return run_before


@SIZES
def test_dashboard(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """Dashboard, ready and attached: six KPI tiles with today's values (412 requests, $18.42) over the
    values since engine start (43 requests); sparklines for req/tokens/cost/latency per minute; provider
    and model distribution bars (anthropic largest); daily ($18.42/$50) and monthly budget bars. The
    status bar reads "ready 127.0.0.1:28317 up 12m34s" and "attached"."""
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=scene(engine))


def test_dashboard_charts(snap_compare: Any, snap_home: Paths, engine: StandinThread) -> None:
    """Dashboard scrolled to the bottom at 120x40: four plotext charts (requests/min, tokens/min,
    cost/hour over 24 h, latency avg and p95 per minute) drawn in the theme's colours."""
    assert snap_compare(make_app(snap_home), terminal_size=(120, 40), run_before=scene(engine, ("end",)))


@SIZES
def test_requests(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """Requests feed: newest first, the in-flight request (status "…", Smart→claude-opus-4-5) on top and
    highlighted, then the 500 and the 200 that arrived live, then the hello history with 429/499/502 rows
    in the theme's warning/error colours. The detail pane shows req-0099 "in flight"; "live · 43 kept"."""
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=scene(engine, ("r",)))


def test_requests_filtered_and_paused(snap_compare: Any, snap_home: Paths, engine: StandinThread) -> None:
    """Requests at 120x40 filtered with "status:error" then paused: only failed rows (429, 499, 500,
    502) remain, the state label says "PAUSED · 43 kept · filter status:error", and the status bar
    says "feed paused"."""

    async def settle(pilot: Pilot) -> None:
        pilot.app.screen.query_one("#filter", Input).cursor_blink = False

    keys = ("r", "slash", *"status:error", "enter", "space")
    assert snap_compare(make_app(snap_home), terminal_size=(120, 40), run_before=scene(engine, keys, settle))


@SIZES
def test_providers(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """Providers: anthropic/gemini/openai with their credentials; gemini "error: 401 from upstream" (from
    an auth.changed event); openai cooling down on gpt-4o for 45s (429). Above, the keyring note names
    the backend in use; the footer offers "a Add API key"."""
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=scene(engine, ("p",)))


def test_add_key_dialog(snap_compare: Any, snap_home: Paths, engine: StandinThread) -> None:
    """The add-key dialog over Providers at 80x24: provider picker on "anthropic", a masked input
    showing only dots for the typed key, the keyring note, and Store key / Cancel buttons."""

    async def settle(pilot: Pilot) -> None:
        pilot.app.screen.query_one("#add-key-secret", Input).cursor_blink = False

    keys = ("p", "a", *"sk-secret")
    assert snap_compare(make_app(snap_home), terminal_size=(80, 24), run_before=scene(engine, keys, settle))


@SIZES
def test_config(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """Config: the file path, the YAML with syntax highlighting and line numbers, not focused (so screen
    keys work), and the footer with e Edit, ^s Save, ^o Reload, f8 Next error."""
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=scene(engine, ("c",)))


def test_config_invalid(snap_compare: Any, snap_home: Paths, engine: StandinThread) -> None:
    """Config at 80x24 after saving an invalid edit: the problem list shows
    "line 4: routing.retries: Input should be less than or equal to 10", the cursor sits on line 4,
    and the result line says "Not saved: 1 problem(s)" in the error colour."""

    async def break_it(pilot: Pilot) -> None:
        editor = pilot.app.screen.query_one("#editor", TextArea)
        editor.cursor_blink = False
        editor.load_text(editor.text.replace("host: 127.0.0.1", "host: 127.0.0.1\nrouting: {retries: 99}"))
        await pilot.press("ctrl+s")

    assert snap_compare(
        make_app(snap_home), terminal_size=(80, 24), run_before=scene(engine, ("c",), break_it)
    )


@SIZES
def test_logs(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """Logs at level info and above: the engine's info, warning and error lines with time, level and
    logger (the debug line is hidden); the header line explains f/e/a."""
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=scene(engine, ("l",)))


def test_help(snap_compare: Any, snap_home: Paths, engine: StandinThread) -> None:
    """Help over the Requests screen at 80x24: a framed table of keys (space Pause, / Filter, x Clear
    filter, d/r/p/t/c/l screens, ? Help, q Quit...) with what each does."""
    assert snap_compare(
        make_app(snap_home), terminal_size=(80, 24), run_before=scene(engine, ("r", "question_mark"))
    )


def test_light_theme(snap_compare: Any, snap_home: Paths, engine: StandinThread) -> None:
    """The dashboard at 120x40 in proxypal-light (switched at runtime with ctrl+t): dark text on a light
    background, same layout as the dark dashboard."""
    assert snap_compare(make_app(snap_home), terminal_size=(120, 40), run_before=scene(engine, ("ctrl+t",)))


def test_onboarding(snap_compare: Any, snap_home: Paths) -> None:
    """First run at 80x24 (the default config, no providers, no traffic): the onboarding panel explains
    how to connect a provider (p, a), point a tool (t) and where the proxy listens (127.0.0.1:28317)."""
    config = DEFAULT_CONFIG_TEXT.replace("port: 8317", f"port: {SNAP_PORT}")
    thread = scripted(snap_home, Script(ts=FIXED_NOW), port=SNAP_PORT, config=config)
    try:
        assert snap_compare(make_app(snap_home), terminal_size=(80, 24), run_before=scene(None))
    finally:
        thread.stop()


def test_engine_gave_up(snap_compare: Any, snap_home: Paths) -> None:
    """An engine that crashes at start, three times: the red panel "The engine keeps crashing — gave up"
    with "crashed 3 times in a row (last exit code 3)", the engine's last stderr lines and the hint to
    fix and start it again; the status bar says "failed"."""
    snap_home.config_file.write_text(DEFAULT_CONFIG_TEXT.replace("port: 8317", f"port: {SNAP_PORT}"))
    crash = [
        sys.executable,
        "-c",
        "import sys; print('error: cannot load the config', file=sys.stderr); sys.exit(3)",
    ]
    app = make_app(snap_home, attach_only=False, engine_command=crash)

    async def run_before(pilot: Pilot) -> None:
        await wait_for(lambda: app.engine_status.state is EngineState.FAILED, pilot, within=20)
        app.clear_notifications()  # toasts time out: keep the picture independent of timing
        app.redraw_now()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
