"""At 60x20 and 80x24 every screen's key line stays readable: its own keys, help and quit are whole
(screen switches, then the palette key, give way first), and the dashboard's tiles keep their titles."""

from __future__ import annotations

from typing import Any

import pytest

from proxy_engine.paths import Paths
from proxypal_tui.app import ProxyPalApp
from proxypal_tui.widgets.key_bar import KeyBar
from proxypal_tui.widgets.kpi import KpiTile
from tests.tui.conftest import app_options, until_ready, wait_for
from tests.tui.feed_script import FIXED_NOW
from tests.tui.standin import StandinThread

SCREENS = {"d": "Dashboard", "r": "Requests", "p": "Providers", "c": "Config", "l": "Logs", "h": "History"}


def _key_line(app: ProxyPalApp) -> str:
    return str(app.screen.query_one(KeyBar).render()).strip()


@pytest.mark.parametrize("size", [(60, 20), (80, 24)], ids=["60x20", "80x24"])
async def test_every_key_line_keeps_help_and_quit_whole(
    home: Paths, standin: StandinThread, size: tuple[int, int], file_keyring: Any
) -> None:
    app = ProxyPalApp(app_options(home, clock=lambda: FIXED_NOW, attach_only=True))
    async with app.run_test(size=size) as pilot:
        await until_ready(app, pilot)
        for key, title in SCREENS.items():
            await pilot.press(key)
            await wait_for(lambda: _key_line(app).endswith(("Quit", "palette")), pilot)
            line = _key_line(app)
            assert "? Help" in line and "Quit" in line, f"{title}: {line!r}"
            assert "…" not in line and len(line) <= size[0], f"{title}: {line!r}"
        if size[0] >= 80:  # the Requests line of issue #15 (80x24) ends whole, palette key included
            await pilot.press("r")
            await wait_for(lambda: "palette" in _key_line(app), pilot)


async def test_dashboard_tiles_keep_their_titles_at_60_columns(
    home: Paths, standin: StandinThread, file_keyring: Any
) -> None:
    app = ProxyPalApp(app_options(home, clock=lambda: FIXED_NOW, attach_only=True))
    async with app.run_test(size=(60, 20)) as pilot:
        await until_ready(app, pilot)
        await pilot.pause()
        tiles = list(app.screen.query(KpiTile))
        assert [str(t.border_title) for t in tiles] == ["Reqs", "Tokens", "Cost≈", "Avg lat", "p95 lat", "Errors"]
        assert app.screen.has_class("narrow")
        assert all(t.size.width >= len(str(t.border_title)) + 6 for t in tiles)  # room for the whole title
