"""The Doctor dialog: `D` runs the real `proxypal-engine doctor --json` and lists its checks, each
failure's fix beneath; plus its snapshots (from a report a real doctor run printed, so the picture
does not depend on timings and temporary paths)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.widgets import DataTable, Static

from proxy_engine.paths import Paths
from proxypal_tui.app import ProxyPalApp
from proxypal_tui.core.doctor import doctor_command
from proxypal_tui.screens.doctor import DoctorScreen
from tests.tui.conftest import wait_for
from tests.tui.standin import StandinThread
from tests.tui.test_snapshots import SIZES, engine, make_app, scene  # noqa: F401  (engine is a fixture)

REPORT = Path(__file__).parent / "doctor_report.json"
# Prints the stored report and exits 1, as the doctor does when something needs attention.
REPLAY = [sys.executable, "-c", "import sys; sys.stdout.write(open(sys.argv[1]).read()); sys.exit(1)", str(REPORT)]


@pytest.fixture(autouse=True)
def _keyring(file_keyring: Any) -> None:
    """The same keyring backend as the other snapshots."""


class DoctorHost(App[None]):
    def __init__(self, argv: list[str], config: Path) -> None:
        super().__init__()
        self._argv, self._config = argv, config

    def on_mount(self) -> None:
        self.push_screen(DoctorScreen(self._argv, None, self._config))


async def test_a_bad_config_is_shown_with_its_line_and_fix(home: Paths) -> None:
    home.config_file.write_text("port: 8317\nproviders:\n  openai: {api_kee: env:OK}\n")
    app = DoctorHost(doctor_command(home.config_file), home.config_file)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, DoctorScreen)
        await wait_for(lambda: screen.outcome is not None, pilot, within=60)
        assert screen.outcome is not None and not screen.outcome.error
        table = screen.query_one(DataTable)
        first = [str(cell) for cell in table.get_row_at(0)]
        assert first == ["FAIL", "config", f"{home.config_file}:3"]
        detail = str(screen.query_one("#doctor-detail", Static).render())
        assert "api_kee" in detail and "fix: edit line 3" in detail
        assert "1 thing(s) need attention" in str(screen.query_one("#doctor-summary", Static).render())


async def test_moving_the_cursor_shows_that_checks_fix(home: Paths) -> None:
    app = DoctorHost(REPLAY, home.config_file)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, DoctorScreen)
        await wait_for(lambda: screen.outcome is not None, pilot)
        detail = screen.query_one("#doctor-detail", Static)
        assert "HTTP 401" in str(detail.render())  # the cursor starts on the first failure
        await pilot.press("down")
        assert "answered 200" in str(detail.render())
        await pilot.press("escape")
        assert not isinstance(app.screen, DoctorScreen)


async def test_d_runs_the_doctor_on_the_apps_config(snap_home: Paths, engine: StandinThread) -> None:  # noqa: F811
    app = make_app(snap_home)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: app.engine_status.running, pilot)
        await pilot.press("D")
        screen = app.screen
        assert isinstance(screen, DoctorScreen)
        await wait_for(lambda: screen.outcome is not None, pilot, within=60)
        assert screen.outcome is not None and not screen.outcome.error
        config_row = screen.outcome.checks[0]
        assert (config_row.check, config_row.subject, config_row.status) == ("config", str(snap_home.config_file), "ok")


@SIZES
def test_doctor_dialog(snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]) -> None:  # noqa: F811
    """The Doctor dialog over the Dashboard: "2 thing(s) need attention" in the error colour, the checks
    (config ok, secret store ok and a note, openai/env:OK FAIL, anthropic ok, clock, cooldowns, port ok,
    Claude Code FAIL) with FAIL in the error colour, the cursor on openai's row, and beneath it
    "refused the key: HTTP 401 ..." and its fix (store a new key with `proxypal-engine login openai ...`)."""

    async def open_doctor(pilot: Any) -> None:
        app = pilot.app
        assert isinstance(app, ProxyPalApp)
        screen = DoctorScreen(REPLAY, None, snap_home.config_file)
        await app.push_screen(screen)
        await wait_for(lambda: screen.outcome is not None, pilot)

    run = scene(engine, after=open_doctor, shows=DoctorScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)
