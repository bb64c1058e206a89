"""The app's own life: engine it starts and stops (and the ones it must not), crash display, keymap,
theme hot reload, and the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
from textual.message import Message

from proxy_engine.paths import Paths
from proxypal_tui.app import ProxyPalApp
from proxypal_tui.core.api import ManagementClient
from proxypal_tui.core.engine_state import EngineState
from proxypal_tui.core.settings import TuiSettings
from proxypal_tui.messages import EngineStatusChanged, ThemesReloaded
from proxypal_tui.screens.requests import RequestsScreen
from proxypal_tui.widgets.notices import EngineNotice
from tests.tui.conftest import app_options, until_ready, wait_for
from tests.tui.feed_script import FIXED_NOW
from tests.tui.standin import StandinThread

REPO = Path(__file__).resolve().parents[2]
FAKE = [sys.executable, "-m", "tests.tui.fake_engine_proc", "serve", "--config"]


def spawning_app(paths: Paths, mode: str = "ok", **overrides: Any) -> ProxyPalApp:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    paths.config_file.write_text(f"port: {port}\nhost: 127.0.0.1\nproviders:\n  openai: {{api_key: env:X}}\n")
    env = dict(os.environ, FAKE_ENGINE_MODE=mode, PYTHONPATH=str(REPO))
    return ProxyPalApp(app_options(paths, engine_command=[*FAKE, str(paths.config_file)], engine_env=env, **overrides))


def gone(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


async def test_quit_stops_the_engine_this_tui_started(home: Paths) -> None:
    app = spawning_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(app, pilot, within=20)
        assert app.engine_status.owned
        pid = app.engine_status.pid
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Start engine", "Stop engine", "Restart engine"} <= set(titles)
        await pilot.press("q")
        await wait_for(lambda: gone(pid), within=10)
    assert app.return_value == 0


async def test_keep_engine_and_detach_leave_it_running(home: Paths) -> None:
    app = spawning_app(home, keep_engine=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(app, pilot, within=20)
        proc = app.supervisor.process
        await pilot.press("q")
    assert proc is not None and proc.returncode is None and psutil.pid_exists(proc.pid)
    await proc.stop(2.0)  # started by this test (through the app): cleaned up by it

    app = spawning_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(app, pilot, within=20)
        proc = app.supervisor.process
        await pilot.press("ctrl+d")  # the detach key
    assert proc is not None and proc.returncode is None
    await proc.stop(2.0)


async def test_quit_never_stops_an_attached_engine(home: Paths, standin: StandinThread) -> None:
    app = ProxyPalApp(app_options(home, clock=lambda: FIXED_NOW))
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(app, pilot)
        assert not app.engine_status.owned
        await pilot.press("q")
    client = ManagementClient(f"http://127.0.0.1:{standin.engine.port}")
    assert (await client.healthz())["ok"] is True
    await client.close()


async def test_crash_is_shown_then_restarted_and_restart_command_works(home: Paths) -> None:
    seen: list[Message] = []
    app = spawning_app(home, mode="crash_after")
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await wait_for(
            lambda: [m.status.state for m in seen if isinstance(m, EngineStatusChanged)].count(EngineState.READY) >= 2,
            pilot,
            within=30,
        )
        crash = next(
            m.status for m in seen if isinstance(m, EngineStatusChanged) and m.status.state is EngineState.CRASHED
        )
        assert "exited with code 4" in crash.message
        # While it was down the dashboard said so; make it say so again and look.
        app.engine_status = crash
        app.redraw_now()
        notice = app.screen.query_one(EngineNotice)
        assert notice.display and "lost my mind" in str(notice.render())
        await pilot.press("q")


async def test_user_keymap_rebinds_by_id(home: Paths, standin: StandinThread) -> None:
    settings = TuiSettings(keymap={"screen.requests": "f2", "requests.pause": "ctrl+space"})
    app = ProxyPalApp(app_options(home, clock=lambda: FIXED_NOW, attach_only=True, settings=settings))
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(app, pilot)
        await pilot.press("f2")
        assert isinstance(app.screen, RequestsScreen)
        await pilot.press("ctrl+space")
        assert app.feed_paused


async def test_user_theme_files_are_hot_reloaded(home: Paths, standin: StandinThread) -> None:
    seen: list[Message] = []
    app = ProxyPalApp(app_options(home, clock=lambda: FIXED_NOW, attach_only=True, watch_themes=True))
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await until_ready(app, pilot)
        await pilot.pause(0.3)  # let the watcher start
        themes = home.config_file.parent / "themes"
        (themes / "mine.yaml").write_text("name: my-theme\ndark: true\nprimary: '#ff8800'\n")
        await wait_for(lambda: "my-theme" in app.available_themes, pilot, within=10)
        app.theme = "my-theme"
        (themes / "mine.yaml").write_text("name: my-theme\ndark: true\nprimary: '#00aa44'\n")
        await wait_for(lambda: app.get_theme("my-theme").primary == "#00aa44", pilot, within=10)
        assert any(isinstance(m, ThemesReloaded) for m in seen)
        assert app.theme_variables["primary"].lower().startswith("#00aa44")


def test_cli_dispatches_tools_and_knows_its_version(tmp_path: Path) -> None:
    env = dict(os.environ, PROXYPAL_HOME=str(tmp_path / "pp"), HOME=str(tmp_path), PYTHONPATH=str(REPO))
    tools = subprocess.run(
        [sys.executable, "-m", "proxypal_tui", "tools", "list", "--home", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert tools.returncode == 0, tools.stderr
    assert "NAME" in tools.stdout and "INSTALLED" in tools.stdout
    version = subprocess.run(
        [sys.executable, "-m", "proxypal_tui", "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert version.returncode == 0 and version.stdout.startswith("proxypal-tui ")
