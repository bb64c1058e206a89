"""Pilot tests: what a user does with the keyboard, against a scripted engine on real sockets."""

from __future__ import annotations

import stat
from typing import Any

from textual.message import Message
from textual.notifications import Notify
from textual.widgets import DataTable, Input, OptionList, Static, TextArea

from proxy_engine.config import DEFAULT_CONFIG_TEXT
from proxy_engine.paths import Paths
from proxypal_tui.app import ProxyPalApp
from proxypal_tui.core.engine_state import EngineState
from proxypal_tui.messages import ConfigReloadResult, CooldownsCleared, EngineEvents, EngineStatusChanged
from proxypal_tui.screens.add_key import AddKeyScreen
from proxypal_tui.screens.config import ConfigScreen
from proxypal_tui.screens.dashboard import DashboardScreen
from proxypal_tui.screens.help import HelpScreen
from proxypal_tui.screens.logs import LogsScreen
from proxypal_tui.screens.providers import ProvidersScreen
from proxypal_tui.screens.requests import RequestsScreen
from proxypal_tui.widgets.feed_view import RequestFeedView
from proxypal_tui.widgets.notices import OnboardingPanel
from tests.tui.conftest import app_options, scripted, until_ready, wait_for
from tests.tui.feed_script import FIXED_NOW, live_events, record
from tests.tui.standin import Script, StandinThread


def make_app(paths: Paths, **overrides: Any) -> ProxyPalApp:
    return ProxyPalApp(app_options(paths, clock=lambda: FIXED_NOW, attach_only=True, **overrides))


def of(messages: list[Message], kind: type) -> list[Any]:
    return [m for m in messages if isinstance(m, kind)]


async def test_single_keys_reach_every_screen_and_engine_messages_arrive(home: Paths, standin: StandinThread) -> None:
    seen: list[Message] = []
    app = make_app(home)
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await until_ready(app, pilot)
        states = [m.status.state for m in of(seen, EngineStatusChanged)]
        assert states[0] is EngineState.LOCATING and states[-1] is EngineState.READY
        hello = of(seen, EngineEvents)[0].events[0]
        assert hello["type"] == "hello" and len(hello["snapshot"]["recent"]) == 40
        for key, screen in (
            ("r", RequestsScreen),
            ("p", ProvidersScreen),
            ("c", ConfigScreen),
            ("l", LogsScreen),
            ("d", DashboardScreen),
        ):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, screen), key
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        rows = app.screen.query_one(DataTable)
        described = [str(rows.get_row_at(i)[1]) for i in range(rows.row_count)]
        assert any(d.startswith("Reqs — The live request feed") for d in described) and any(
            d.startswith("Quit") for d in described
        )
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_filter_narrows_the_feed_and_clears(home: Paths, standin: StandinThread) -> None:
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await until_ready(app, pilot)
        standin.send(live_events())
        await wait_for(lambda: len(app.live.feed) == 43, pilot)
        await pilot.press("r")
        screen = app.screen
        table = screen.query_one("#feed", RequestFeedView)
        app.redraw_now()
        assert table.row_count == 43
        await pilot.press("f")
        assert screen.query_one("#filter", Input).has_focus
        await pilot.press(*"status:5xx")
        await pilot.pause()
        assert sorted(r.status for r in table.rows) == [500, 502, 502, 502]
        await pilot.press("enter")  # back to the table, filter kept
        assert table.has_focus and table.row_count == 4
        await pilot.press("x")
        await pilot.pause()
        assert table.row_count == 43
        await pilot.press("f", *"provider:gemini slow", "enter")
        await pilot.pause()
        assert table.row_count == 3  # the gemini 429s say "slow down"
        assert "slow down" in str(screen.query_one("#detail", Static).render())


async def test_pause_freezes_the_feed_until_resumed(home: Paths, standin: StandinThread) -> None:
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await until_ready(app, pilot)
        await pilot.press("r")
        table = app.screen.query_one("#feed", RequestFeedView)
        app.redraw_now()
        before = table.row_count
        await pilot.press("space")
        assert app.feed_paused
        standin.send([("request.finished", record(77))])
        await wait_for(lambda: app.live.feed.get("req-0077") is not None, pilot)
        app.redraw_now()
        await pilot.pause()
        assert table.row_count == before
        assert "feed paused" in str(app.screen.query_one(".status-bar", Static).render())
        await pilot.press("space")
        await pilot.pause()
        assert not app.feed_paused and table.row_count == before + 1
        assert table.rows[0].id == "req-0077"  # newest on top


async def test_config_save_valid_writes_atomically_and_shows_the_engines_reload(
    home: Paths, standin: StandinThread
) -> None:
    seen: list[Message] = []
    app = make_app(home)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await until_ready(app, pilot)
        await pilot.press("c")
        screen = app.screen
        editor = screen.query_one("#editor", TextArea)
        assert not editor.has_focus  # single keys still work on arrival
        await pilot.press("e")
        assert editor.has_focus
        editor.move_cursor(editor.document.end)
        await pilot.press(*"thinking_budget: 1234", "enter")
        await pilot.press("ctrl+s")
        await wait_for(lambda: bool(of(seen, ConfigReloadResult)), pilot)
        result = of(seen, ConfigReloadResult)[-1]
        assert result.ok and result.source == "written"  # the engine's own config.reloaded, after our write
        text = home.config_file.read_text()
        assert "thinking_budget: 1234" in text and "# ProxyPal config used by the TUI tests." in text
        assert stat.S_IMODE(home.config_file.stat().st_mode) == 0o600
        app.redraw_now()
        assert "reloaded the config" in str(screen.query_one("#config-result", Static).render())


async def test_config_save_invalid_is_refused_with_line_numbers_and_jumps(home: Paths, standin: StandinThread) -> None:
    app = make_app(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await until_ready(app, pilot)
        before = home.config_file.read_text()
        await pilot.press("c")
        screen = app.screen
        editor = screen.query_one("#editor", TextArea)
        editor.load_text(before.replace("host: 127.0.0.1", "host: 127.0.0.1\nrouting: {retries: 99}"))
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert home.config_file.read_text() == before  # nothing written
        errors = screen.query_one("#config-errors", OptionList)
        assert errors.display and errors.option_count == 1
        label = str(errors.get_option_at_index(0).prompt)
        assert label.startswith("line 4: routing.retries")
        assert editor.cursor_location == (3, 0) and editor.has_focus  # jumped to the line
        assert "Not saved" in str(screen.query_one("#config-result", Static).render())
        editor.move_cursor((0, 0))
        await pilot.press("escape")  # leave the editor: focus goes to the problem list
        assert errors.has_focus
        await pilot.press("enter")
        assert editor.cursor_location == (3, 0)


async def test_providers_show_states_cooldowns_and_errors_and_clear_them(home: Paths, standin: StandinThread) -> None:
    seen: list[Message] = []
    app = make_app(home)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await until_ready(app, pilot)
        await pilot.press("p")
        await wait_for(lambda: app.live.auth.loads > 0, pilot)
        app.redraw_now()
        screen = app.screen
        assert isinstance(screen, ProvidersScreen)
        table = screen.query_one("#providers-table", DataTable)
        assert table.row_count == 4
        note = str(screen.query_one("#store-note", Static).render())
        assert "encrypted file" in note and "PROXYPAL_SECRET_BACKEND=file" in note
        states = {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[3]) for i in range(table.row_count)}
        assert states == {"anthropic": "valid", "claude": "expiring", "gemini": "error", "openai": "cooling"}
        picture = app.export_screenshot()  # drawn in full, not cut to the header's width
        assert ">expiring<" in picture and ">cooling<" in picture
        await pilot.press("ctrl+end")  # the openai key: its cooldowns, with reason and time left
        await pilot.pause()
        detail = str(screen.query_one("#credential-detail", Static).render())
        assert "gpt-4o: rate limited (HTTP 429), 45s left" in detail
        assert "gpt-4o-mini: server error (HTTP 503), 5m00s left" in detail
        assert str(table.get_row_at(3)[4]) == "gpt-4o 45s +1"
        # A live event updates the row without a reload: another model starts cooling on gemini.
        standin.send(
            [
                (
                    "credential.cooldown",
                    {"provider": "gemini", "credential": "keyring:gemini", "model": "gemini-2.5-pro",
                     "until": FIXED_NOW + 90, "reason": "rate limited"},
                )
            ]
        )  # fmt: skip
        await wait_for(lambda: bool(app.live.auth.find("gemini/keyring:gemini").cooldowns), pilot)
        app.redraw_now()
        assert str(table.get_row_at(2)[4]) == "gemini-2.5-pro 1m30s"
        await pilot.press("x")  # clear the highlighted openai credential's cooldowns
        await wait_for(lambda: any(isinstance(m, CooldownsCleared) for m in seen), pilot)
        assert ("clear", "[('credential', 'env:OPENAI_API_KEY'), ('provider', 'openai')]") in standin.engine.requests
        await wait_for(lambda: not app.live.auth.find("openai/env:OPENAI_API_KEY").cooldowns, pilot)
        app.redraw_now()
        assert str(table.get_row_at(3)[3]) == "valid" and str(table.get_row_at(3)[4]) == ""
        cleared = next(m for m in seen if isinstance(m, CooldownsCleared))
        assert cleared.cleared == 2 and cleared.scope == "openai/env:OPENAI_API_KEY"
        await pilot.press("X")  # and every other one
        await wait_for(lambda: ("clear", "[]") in standin.engine.requests, pilot)


async def test_add_key_dialog_is_masked_and_refuses_an_empty_key(home: Paths, standin: StandinThread) -> None:
    app = make_app(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await until_ready(app, pilot)
        await pilot.press("p", "a")
        assert isinstance(app.screen, AddKeyScreen)
        secret_input = app.screen.query_one("#add-key-secret", Input)
        assert secret_input.password  # masked
        await pilot.press("enter")  # nothing typed: refused, still open
        assert isinstance(app.screen, AddKeyScreen) and app.screen.process is None
        await pilot.press("escape")
        assert isinstance(app.screen, ProvidersScreen)


async def test_palette_and_theme_key_switch_themes_at_runtime(home: Paths, standin: StandinThread) -> None:
    app = make_app(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await until_ready(app, pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in ("Screen: Requests", "Theme: proxypal-light", "Clear feed", "Copy endpoint", "Detach"):
            assert wanted in titles
        assert "Stop engine" in titles  # attached: stopped through POST /v0/shutdown (issue #15)
        assert app.theme == "proxypal-dark"
        await pilot.press("ctrl+t")
        assert app.theme == "proxypal-light"
        await pilot.press("ctrl+p")
        await pilot.press(*"Theme: proxypal-dark")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.theme == "proxypal-dark"
        await pilot.press("r")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Pause feed" in titles and "Filter: errors only" in titles


async def test_budget_alert_and_config_rejection_are_notified(home: Paths, standin: StandinThread) -> None:
    seen: list[Message] = []
    app = make_app(home)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await until_ready(app, pilot)
        standin.send([("budget.alert", {"scope": "daily", "spent": 41.0, "limit": 50.0, "threshold": 0.8})])
        bad = [{"file": str(home.config_file), "line": 2, "message": "port: bad"}]
        standin.send([("config.reloaded", {"ok": False, "errors": bad, "path": str(home.config_file)})])
        await wait_for(lambda: len(of(seen, Notify)) >= 2, pilot)
        texts = [n.notification.message for n in of(seen, Notify)]
        assert any("$41.00 of $50.00" in t for t in texts)
        assert any("rejected the config" in t for t in texts)


async def test_first_run_shows_onboarding_instead_of_an_empty_dashboard(home: Paths) -> None:
    thread = scripted(home, Script(ts=FIXED_NOW), config=DEFAULT_CONFIG_TEXT.replace("port: 8317", "port: 28317"))
    try:
        app = make_app(home)
        async with app.run_test(size=(80, 24)) as pilot:
            await until_ready(app, pilot)
            app.redraw_now()
            panel = app.screen.query_one(OnboardingPanel)
            text = str(panel.render())
            assert panel.display and "Connect a provider" in text
            assert "Client keys: off (loopback only)" in text and "Help: ?" in text and "Keys: ?" not in text
    finally:
        thread.stop()
