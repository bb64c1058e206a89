"""Quota in the TUI: bars per credential on Providers, the dashboard's quota tile, `quota.alert` toasts.

The app attaches to the scripted engine (real Unix socket, real HTTP API) whose `/v0/quota` lists
two accounts; a `quota.updated` event then moves one window. Snapshots at 80x24 and 60x20 with a
fixed clock and TZ=UTC; update with `--snapshot-update` and look at the report before accepting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot
from textual.widgets import Label, Static

from proxy_engine.paths import Paths
from proxypal_tui.app import ProxyPalApp
from proxypal_tui.core.quota import QuotaBar, QuotaBoard, bar_line
from proxypal_tui.screens.dashboard import DashboardScreen
from proxypal_tui.screens.providers import ProvidersScreen
from tests.tui.conftest import app_options, scripted, until_ready, wait_for
from tests.tui.feed_script import FIXED_NOW, SNAP_PORT, demo_script
from tests.tui.standin import StandinThread

SIZES = pytest.mark.parametrize("size", [(80, 24), (60, 20)], ids=["80x24", "60x20"])
NOW = FIXED_NOW  # 08:53:20 UTC


def window(name: str, used: float, resets_in: float, seen_ago: float = 40, source: str = "observed") -> dict:
    return {"name": name, "used_percent": used, "resets_at": NOW + resets_in, "observed_at": NOW - seen_ago,
            "source": source, "limit": None, "remaining": None, "status": "allowed", "window_s": None,
            "representative": False, "exhausted": used >= 100}  # fmt: skip


QUOTA = [
    {"provider": "claude", "credential": "ann@example.com",
     "windows": [window("5h", 63, 5200), window("7d", 12, 3 * 86400 + 3600, source="estimated")]},
    {"provider": "openai", "credential": "env:OPENAI_API_KEY",
     "windows": [window("requests", 4, 30, seen_ago=5)]},
]  # fmt: skip


def test_bar_lines_say_use_reset_and_where_the_figure_came_from() -> None:
    bar = QuotaBar("5h", 63.0, NOW + 5200, NOW - 40, "observed")
    assert bar_line(bar, NOW) == "5h ▇▇▇▇▁ 63% · resets 10:20 · observed 40s ago"
    weekly = QuotaBar("7d", 12.0, NOW + 3 * 86400 + 3600, NOW - 40, "estimated")
    assert bar_line(weekly, NOW) == "7d ▇▁▁▁▁ 12% · resets Sun 09:53 · estimated"
    assert bar_line(dataclasses.replace(bar, resets_at=NOW - 1), NOW) == "5h ▁▁▁▁▁ 0% · reset"
    assert bar_line(QuotaBar("5h", 100.0, NOW + 60, NOW, "observed"), NOW).startswith("5h ▇▇▇▇▇ 100%")


def test_the_tightest_window_across_accounts_and_its_reset() -> None:
    board = QuotaBoard()
    board.load({"credentials": QUOTA})
    tight = board.tightest(NOW)
    assert tight is not None and (tight.provider, tight.bar.name) == ("claude", "5h")
    assert tight.text(NOW) == "Tightest quota: 63% ▇▇▇▇▁ 5h, resets in 1h26m · claude/ann@example.com"
    # past its reset, that window no longer counts as used
    assert board.tightest(NOW + 5300).bar.name == "7d"  # type: ignore[union-attr]


@pytest.fixture
def engine(snap_home: Paths) -> Iterator[StandinThread]:
    script = dataclasses.replace(demo_script(), quota=[dict(c) for c in QUOTA])
    thread = scripted(snap_home, script, port=SNAP_PORT)
    yield thread
    thread.stop()


def make_app(paths: Paths) -> ProxyPalApp:
    return ProxyPalApp(app_options(paths, clock=lambda: NOW, attach_only=True))


def scene(engine: StandinThread, keys: tuple[str, ...], shows: type) -> Any:
    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        assert isinstance(app, ProxyPalApp)
        await until_ready(app, pilot)
        await wait_for(lambda: app.live.quota.loads > 0 and app.live.auth.loads > 0, pilot)
        version = app.live.quota.version
        update = {"provider": "openai", "credential": "env:OPENAI_API_KEY", "windows": [window("requests", 81, 30, 2)]}
        engine.send([("quota.updated", update)])
        await wait_for(lambda: app.live.quota.version > version, pilot)
        for key in keys:
            await pilot.press(key)
        app.redraw_now()
        await pilot.pause()
        assert type(app.screen) is shows

    return run_before


@SIZES
def test_providers_quota_bars(
    snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]
) -> None:
    """Providers with quota: under the table one bar line per window, "claude/ann@example.com    5h ▇▇▇▇▁ 63% ·
    resets 10:20 · observed 40s ago", its "7d ▇▁▁▁▁ 12% · resets Sun 09:53 · estimated", and openai's
    requests window at 81 % (moved by the quota.updated event, "observed 2s ago")."""
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=scene(engine, ("p",), ProvidersScreen))


@SIZES
def test_providers_quota_in_detail(
    snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]
) -> None:
    """Providers with the claude login highlighted: the detail pane adds "quota 5h ▇▇▇▇▁ 63% · resets 10:20 ·
    observed 40s ago" and "quota 7d ▇▁▁▁▁ 12% · … · estimated" under its state."""
    run = scene(engine, ("p", "down"), ProvidersScreen)
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=run)


@SIZES
def test_dashboard_quota_tile(
    snap_compare: Any, snap_home: Paths, engine: StandinThread, size: tuple[int, int]
) -> None:
    """Dashboard: under the KPI tiles the quota tile reads "Tightest quota: 81% ▇▇▇▇▇ requests, resets in 30s ·
    openai/env:OPENAI_API_KEY" in the warning colour (the event made openai's window the tightest)."""
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=scene(engine, (), DashboardScreen))


async def test_the_providers_screen_and_tile_show_the_engine_quota(snap_home: Paths, engine: StandinThread) -> None:
    app = make_app(snap_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await scene(engine, (), DashboardScreen)(pilot)
        tile = str(app.screen.query_one("#quota-tile", Label).render())
        assert "Tightest quota: 81% ▇▇▇▇▇ requests, resets in 30s · openai/env:OPENAI_API_KEY" in tile
        await pilot.press("p")
        app.redraw_now()
        await pilot.pause()
        bars = str(app.screen.query_one("#quota-bars", Static).render())
        assert bars.splitlines() == [
            "claude/ann@example.com    5h ▇▇▇▇▁ 63% · resets 10:20 · observed 40s ago",
            "                          7d ▇▁▁▁▁ 12% · resets Sun 09:53 · estimated",
            "openai/env:OPENAI_API_K…  requests ▇▇▇▇▇ 81% · resets 08:53 · observed 2s ago",
        ]


async def test_a_quota_alert_is_a_toast(snap_home: Paths, engine: StandinThread) -> None:
    seen: list[Message] = []
    app = make_app(snap_home)
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await until_ready(app, pilot)
        alert = {"provider": "claude", "credential": "ann@example.com", "window": "5h", "used_percent": 95.4,
                 "threshold": 95, "resets_at": NOW + 5200}  # fmt: skip
        engine.send([("quota.alert", alert)])
        await wait_for(lambda: any(isinstance(m, Notify) for m in seen), pilot)
        (note,) = [m.notification for m in seen if isinstance(m, Notify)]
        assert note.title == "Quota alert: 95%" and note.severity == "error"
        assert note.message == "claude/ann@example.com: 5h window 95% used; resets 10:20"
