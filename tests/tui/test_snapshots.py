"""Snapshots of every screen at 60x20, 80x24 and 120x40, from a scripted feed over a real Unix socket.

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
from textual.screen import Screen
from textual.widgets import Input, Static, TextArea

from proxy_engine.config import DEFAULT_CONFIG_TEXT
from proxy_engine.paths import Paths
from proxypal_tui.app import ProxyPalApp
from proxypal_tui.core.engine_state import EngineState
from proxypal_tui.screens.add_key import AddKeyScreen
from proxypal_tui.screens.capture import CaptureScreen
from proxypal_tui.screens.capture_search import CaptureSearchScreen
from proxypal_tui.screens.config import ConfigScreen
from proxypal_tui.screens.config_conflict import ConfigConflictScreen
from proxypal_tui.screens.confirm import ConfirmScreen
from proxypal_tui.screens.dashboard import DashboardScreen
from proxypal_tui.screens.help import HelpScreen
from proxypal_tui.screens.history import HistoryScreen
from proxypal_tui.screens.login import LoginScreen
from proxypal_tui.screens.logs import LogsScreen
from proxypal_tui.screens.members import MembersScreen
from proxypal_tui.screens.providers import ProvidersScreen
from proxypal_tui.screens.replay_dialog import ReplayDialog
from proxypal_tui.screens.requests import RequestsScreen
from proxypal_tui.screens.tools import ToolsPage
from tests.tools.conftest import GOLDEN, copy_tree
from tests.tui.conftest import SNAP_HOME, app_options, scripted, until_ready, wait_for
from tests.tui.feed_script import FIXED_NOW, SNAP_PORT, live_events, record
from tests.tui.standin import Script, StandinThread

SIZES = pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40)], ids=["60x20", "80x24", "120x40"])


@pytest.fixture(autouse=True)
def _keyring(file_keyring: Any) -> None:
    """The keyring note is part of the picture: use the same backend everywhere."""


@pytest.fixture
def engine(snap_home: Paths) -> Iterator[StandinThread]:
    thread = scripted(snap_home, port=SNAP_PORT)
    yield thread
    thread.stop()


TOOLS_HOME = SNAP_HOME / "tools-home"


def make_app(paths: Paths, **overrides: Any) -> ProxyPalApp:
    overrides.setdefault("attach_only", True)
    # The Tools screen reads a fixed HOME (Claude Code pointed elsewhere, Codex installed), no binaries.
    overrides.setdefault("tools_home", TOOLS_HOME)
    overrides.setdefault("tools_search_path", str(TOOLS_HOME / ".no-such-bin"))
    copy_tree(GOLDEN / "claude-code" / "existing" / "before", TOOLS_HOME, 0o644)
    (TOOLS_HOME / ".codex").mkdir(parents=True, exist_ok=True)
    return ProxyPalApp(app_options(paths, clock=lambda: FIXED_NOW, **overrides))


def scene(
    engine: StandinThread | None,
    keys: tuple[str, ...] = (),
    after: Callable[[Pilot], Awaitable[None]] | None = None,
    shows: type[Screen[Any]] | None = None,
) -> Callable[[Pilot], Awaitable[None]]:
    """Wait for the engine's data and the live events, press `keys`, then draw once.

    `shows` is the screen the picture must be of; the coverage test counts on it.
    """

    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        assert isinstance(app, ProxyPalApp)
        await until_ready(app, pilot)
        await wait_for(lambda: app.live.auth.loads > 0 and app.live.usage_version > 0, pilot)
        if engine is not None:
            loads = app.live.auth.loads
            engine.send(live_events())
            # auth.changed makes the app reload the states: wait for that, so the picture is settled.
            await wait_for(
                lambda: len(app.live.feed) == 43 and app.live.logs.serial >= 4 and app.live.auth.loads > loads,
                pilot,
            )
        for key in keys:
            await pilot.press(key)
        if after is not None:
            await after(pilot)
        app.redraw_now()
        await pilot.pause()
        if shows is not None:
            assert type(app.screen) is shows, f"expected {shows.__name__}, got {type(app.screen).__name__}"

    return run_before


@SIZES
def test_dashboard(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """Dashboard, ready and attached: six KPI tiles with today's values (412 requests, $18.42) over the
    values since engine start (43 requests); sparklines for req/tokens/cost/latency per minute; provider
    and model distribution bars (anthropic largest); daily ($18.42/$50) and monthly budget bars. The
    status bar reads "ready 127.0.0.1:28317 up 12m34s" and "attached"."""
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=scene(engine, shows=DashboardScreen))


def test_dashboard_charts(snap_compare: Any, snap_home: Paths, engine: StandinThread) -> None:
    """Dashboard scrolled to the bottom at 120x40: four plotext charts (requests/min, tokens/min,
    cost/hour over 24 h, latency avg and p95 per minute) drawn in the theme's colours."""
    assert snap_compare(make_app(snap_home), terminal_size=(120, 40), run_before=scene(engine, ("end",)))


@SIZES
def test_requests(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """Requests feed: newest first, the in-flight request (status "…", Smart→claude-opus-4-5) on top and
    highlighted, then the 500 and the 200 that arrived live, then the hello history with 429/499/502 rows
    in the theme's warning/error colours. The detail pane shows req-0099 "in flight"; "live · 43 kept"."""
    run = scene(engine, ("r",), shows=RequestsScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


@SIZES
def test_requests_error_detail(
    snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]
) -> None:
    """Requests with the cursor one row down, on req-0041 (the live 500): the detail pane shows its
    model, dialects, timings, tokens and "error upstream_error: upstream answered 500: internal server error"
    in the error colour."""
    run = scene(engine, ("r", "down"), shows=RequestsScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


def test_requests_filtered_and_paused(snap_compare: Any, snap_home: Paths, engine: StandinThread) -> None:
    """Requests at 120x40 filtered with "status:error" then paused: only failed rows (429, 499, 500,
    502) remain, the state label says "PAUSED · 43 kept · filter status:error", and the status bar
    says "feed paused"."""

    async def settle(pilot: Pilot) -> None:
        pilot.app.screen.query_one("#filter", Input).cursor_blink = False

    keys = ("r", "f", *"status:error", "enter", "space")
    assert snap_compare(make_app(snap_home), terminal_size=(120, 40), run_before=scene(engine, keys, settle))


@SIZES
def test_providers(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """Providers: the secrets line names the encrypted file and why it is used; rows for anthropic
    (valid key), claude (login ann@example.com, expiring), gemini (error) and openai (cooling, "gpt-4o 45s
    +1"). The detail pane shows the highlighted anthropic key. Keys: Add key, o Log in, x Clear, X Clear all."""
    run = scene(engine, ("p",), shows=ProvidersScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


@SIZES
def test_providers_cooldown_detail(
    snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]
) -> None:
    """Providers with the openai key highlighted: its detail lists both cooldowns with reason, HTTP
    status and time left ("gpt-4o: rate limited (HTTP 429), 45s left", "gpt-4o-mini ... 5m00s left")
    and the hint that x clears them."""
    run = scene(engine, ("p", "ctrl+end"), shows=ProvidersScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


@SIZES
def test_add_key_dialog(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """The add-key dialog over Providers: provider picker on "anthropic", a masked input showing only
    dots for the typed key, the checkbox to reference it from the config, the note naming the secret
    store, and Store key / Cancel."""

    async def settle(pilot: Pilot) -> None:
        pilot.app.screen.query_one("#add-key-secret", Input).cursor_blink = False

    run = scene(engine, ("p", "a", *"sk-secret"), settle, shows=AddKeyScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


@SIZES
def test_config_conflict_dialog(
    snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]
) -> None:
    """The dialog over Config when the file changed on disk under unsaved edits: the question, the diff
    of the editor's text against the file's (port 8317 in the editor, 9000 on disk), and the
    Reload theirs (t) / Keep mine (m) buttons."""

    async def conflict(pilot: Pilot) -> None:
        mine, theirs = "port: 8317\nhost: 127.0.0.1\n", "port: 9000\nhost: 127.0.0.1\n"
        await pilot.app.push_screen(ConfigConflictScreen(mine, theirs))

    run = scene(engine, ("c",), conflict, shows=ConfigConflictScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


@SIZES
def test_login_dialog(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """The login dialog over Providers (opened with the claude row highlighted): the list of logins
    with "Claude (Pro/Max) — browser" highlighted, and the line saying logins are stored by
    proxypal-engine, never shown."""
    run = scene(engine, ("p", "down", "o"), shows=LoginScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


@SIZES
def test_login_device_code(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """A device-code login in progress (the CLI's lines played to the dialog): "Open
    https://github.com/login/device and enter the code:" with the code WDJB-MJHT in bold, the
    Copy button, and the status line from the CLI."""

    async def play(pilot: Pilot) -> None:
        from proxypal_tui.core.login import LoginEvent

        dialog = pilot.app.screen
        assert isinstance(dialog, LoginScreen)
        dialog.browser_ok = False  # the picture must not depend on the machine having a browser
        dialog.choice = dialog.choices[4]
        dialog.query_one("#login-choices").display = False
        dialog.query_one("#login-title", Static).update("Log in: GitHub Copilot — device code")
        dialog.login_device_code(
            LoginEvent("device_code", {"verification_uri": "https://github.com/login/device", "user_code": "WDJB-MJHT"})
        )
        dialog.login_status(LoginEvent("status", {"message": "Waiting for approval…"}))
        await pilot.pause()

    run = scene(engine, ("p", "o"), play, shows=LoginScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


@SIZES
def test_logout_confirm(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """Asking before a logout (u on the claude login): "Forget claude's credential ann@example.com?
    Requests stop using it." with Yes (y) / No (n), No focused."""
    run = scene(engine, ("p", "down", "u"), shows=ConfirmScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


@SIZES
def test_tools(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """Tools inside the app, with the app's header and status bar: the proxy URL 127.0.0.1:28317, the
    tools with Claude Code "pointed elsewhere" and Codex "installed", the diff that would point Claude
    Code here, and the key bar (Apply, Undo, ^r Refresh, y Copy setup), no Textual Footer."""

    async def settle(pilot: Pilot) -> None:
        app = pilot.app
        await wait_for(lambda: "ANTHROPIC_BASE_URL" in str(app.screen.query_one("#tools-diff", Static).render()), pilot)

    run = scene(engine, ("t",), settle, shows=ToolsPage)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


@SIZES
def test_config(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """Config: the file path, the YAML with syntax highlighting and line numbers, not focused (so screen
    keys work), and the footer with e Edit, ^s Save, ^o Reload, f8 Next error."""
    run = scene(engine, ("c",), shows=ConfigScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


def test_config_invalid(snap_compare: Any, snap_home: Paths, engine: StandinThread) -> None:
    """Config at 80x24 after saving an invalid edit: the problem list shows
    "line 4: routing.retries: Input should be less than or equal to 10", the cursor sits on line 4,
    and the result line says "Not saved: 1 problem(s)" in the error colour."""

    async def break_it(pilot: Pilot) -> None:
        editor = pilot.app.screen.query_one("#editor", TextArea)
        editor.cursor_blink = False
        editor.load_text(editor.text.replace("host: 127.0.0.1", "host: 127.0.0.1\nrouting: {retries: 99}"))
        await pilot.press("ctrl+s")

    assert snap_compare(make_app(snap_home), terminal_size=(80, 24), run_before=scene(engine, ("c",), break_it))


@SIZES
def test_logs(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """Logs at level info and above: the engine's info, warning and error lines with time, level and
    logger (the debug line is hidden); the header line explains f/e/a."""
    run = scene(engine, ("l",), shows=LogsScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


@SIZES
def test_history(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """History per day by provider over 2025-10-01 … 07: requests and cost as bars per provider (theme colours),
    and a table with claude first (most cost), each provider's success rate, tokens, cost and worst p95;
    gemini's tiny cost reads <$0.0001-like figures, never $0.0000."""

    async def loaded(pilot: Pilot) -> None:
        app = pilot.app
        assert isinstance(app, ProxyPalApp)
        await wait_for(lambda: bool(app.session.history.rows), pilot)

    run = scene(engine, ("h",), loaded, shows=HistoryScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


async def _members_loaded(pilot: Pilot) -> None:
    app = pilot.app
    assert isinstance(app, ProxyPalApp)
    await wait_for(lambda: len(app.session.members.members) == 6, pilot)


@SIZES
def test_members(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """Members (`m`): "6 member keys (5 active), $128 this month", then one row per key, active ones first by
    spend: carol over her budget (bar full, 107%), alice 83%, bob 12%, ci-bot "no limit", dave unused (0%, seen
    —), then erin marked (off) (revoked); each with team, requests, last seen (MM-DD HH:MM) and top model."""
    run = scene(engine, ("m",), _members_loaded, shows=MembersScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


def test_members_small(snap_compare: Any, snap_home: Paths, engine: StandinThread) -> None:
    """Members at 60x20: the same rows; the table scrolls sideways rather than squeezing the budget bars."""
    run = scene(engine, ("m",), _members_loaded, shows=MembersScreen)
    assert snap_compare(make_app(snap_home), terminal_size=(60, 20), run_before=run)


TEAM_SIZES = pytest.mark.parametrize("size", [(60, 20), (80, 24)], ids=["60x20", "80x24"])


def _team_traffic(engine: StandinThread) -> Callable[[Pilot], Awaitable[None]]:
    """Two more finished requests as the team view delivers them: each names the replica that served it."""

    async def send(pilot: Pilot) -> None:
        app = pilot.app
        assert isinstance(app, ProxyPalApp)
        ours = record(42, status=200) | {"replica": "10.0.0.11:8317", "member": "mk_alice", "team": "platform"}
        theirs = record(43, status=200) | {"replica": "10.0.0.12:8317", "member": "mk_bob", "team": "platform"}
        engine.send([("request.finished", ours), ("request.finished", theirs)])
        await wait_for(lambda: len(app.live.feed) == 45, pilot)
        app.redraw_now()  # the feed view holds the two new rows before the cursor moves
        await pilot.press("down")  # off the in-flight request, onto the newest finished one (another replica's)

    return send


@TEAM_SIZES
def test_requests_team_view(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """Requests in team mode: req-0043 and req-0042 under the in-flight request, the cursor on req-0043,
    whose detail pane ends its first line with "replica 10.0.0.12:8317" (the replica that served it; a
    single engine's requests carry none, so no other snapshot shows a replica)."""
    run = scene(engine, ("r",), _team_traffic(engine), shows=RequestsScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


@SIZES
def test_help(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """Help over the Requests screen: a framed table of keys (space Pause, / Search captures, f Filter, x Clear
    filter, d/r/p/t/c/l screens, ? Help, q Quit...) with what each does."""
    run = scene(engine, ("r", "question_mark"), shows=HelpScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


def test_light_theme(snap_compare: Any, snap_home: Paths, engine: StandinThread) -> None:
    """The dashboard at 120x40 in proxypal-light (switched at runtime with ctrl+t): dark text on a light
    background, same layout as the dark dashboard."""
    assert snap_compare(make_app(snap_home), terminal_size=(120, 40), run_before=scene(engine, ("ctrl+t",)))


@SIZES
def test_onboarding(snap_compare: Any, snap_home: Paths, size: tuple[int, int]) -> None:
    """First run (the default config, no providers, no traffic): the onboarding panel explains how to
    connect a provider (p, then a or o), point a tool (t) and where the proxy listens (127.0.0.1:28317)."""
    config = DEFAULT_CONFIG_TEXT.replace("port: 8317", f"port: {SNAP_PORT}")
    thread = scripted(snap_home, Script(ts=FIXED_NOW), port=SNAP_PORT, config=config)
    try:
        run = scene(None, shows=DashboardScreen)
        assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)
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


@SIZES
def test_requests_by_session(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """Requests grouped by agent session (`s`): one row per session, the latest seen first (the codex
    session 019a9544-…, then 3f1c9a2e-…, a7d0e5b3-…, ses_6b2f0…), each with its agent, request count,
    tokens, cost, models and last-seen time; requests without a session are not rows. The state label ends
    "· by session" and the detail pane shows the highlighted session's totals and models."""
    run = scene(engine, ("r", "s"), shows=RequestsScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


@SIZES
def test_history_sessions(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """History's session view (`h`, then `s`): the charts give way to the ledger's agent sessions, latest
    first, with agent, requests, tokens, cost, models and last seen; the range line reads "Agent sessions
    in the ledger: 4, latest first (enter: its requests)"."""

    async def loaded(pilot: Pilot) -> None:
        app = pilot.app
        assert isinstance(app, ProxyPalApp)
        await wait_for(lambda: len(app.session.session_history.sessions) == 4, pilot)

    run = scene(engine, ("h", "s"), loaded, shows=HistoryScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


def test_history_one_session(snap_compare: Any, snap_home: Paths, engine: StandinThread) -> None:
    """One session's requests in History at 120x40 (Requests grouped by session, enter on the first): the
    range line names session 019a9544-7ab1-73c1-837e-1fa681f4462b and its request count; the rows are that
    codex session's requests from the ledger, newest first, with status colours as in the feed."""

    async def loaded(pilot: Pilot) -> None:
        app = pilot.app
        assert isinstance(app, ProxyPalApp)
        await wait_for(lambda: bool(app.session.session_history.requests), pilot)

    run = scene(engine, ("r", "s", "enter"), loaded, shows=HistoryScreen)
    assert snap_compare(make_app(snap_home), terminal_size=(120, 40), run_before=run)


async def _capture_loaded(pilot: Pilot) -> None:
    await wait_for(lambda: isinstance(pilot.app.screen, CaptureScreen) and pilot.app.screen.doc is not None, pilot)


@SIZES
def test_capture_stages(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """Enter on req-0041 opens its capture on "1 Client request": the title says status 500,
    openai_chat → openai_chat, kept: error, attempts 2; POST /v1/chat/completions, Authorization:
    [redacted] and the pretty JSON body (gpt-4o, "Capital of France?")."""
    run = scene(engine, ("r", "down", "enter"), _capture_loaded, shows=CaptureScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


@SIZES
def test_replay_dialog(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:
    """R in the capture view: "Replay this request through the proxy, to:" with gpt-4o in the model
    field, the config's models to pick from, an empty provider field, Replay and Cancel buttons."""

    async def after(pilot: Pilot) -> None:
        await _capture_loaded(pilot)
        await pilot.press("R")
        await wait_for(lambda: isinstance(pilot.app.screen, ReplayDialog), pilot)

    run = scene(engine, ("r", "down", "enter"), after, shows=ReplayDialog)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


@SIZES
def test_capture_search_results(
    snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]
) -> None:
    """`/` on the Requests screen, "overloaded" and enter: the search box holds "overloaded", the status
    says "1 capture with “overloaded”", and one row: req-0041, its time, gpt-4o, 500, "Upstream
    response #1" and the excerpt around "Overloaded" (highlighted) from the engine's redacted text."""

    async def after(pilot: Pilot) -> None:
        await wait_for(lambda: isinstance(pilot.app.screen, CaptureSearchScreen), pilot)
        screen = pilot.app.screen
        screen.query_one("#capsearch-input", Input).cursor_blink = False
        await pilot.press(*"overloaded", "enter")
        await wait_for(lambda: len(screen.rows) == 1, pilot)

    run = scene(engine, ("r", "slash"), after, shows=CaptureSearchScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)
