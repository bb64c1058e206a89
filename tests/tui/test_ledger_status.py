"""The status bar tells the user when the engine's usage ledger cannot be written."""

from __future__ import annotations

from textual.widgets import Static

from proxy_engine.paths import Paths
from proxy_engine.protocol import LedgerHealth
from proxypal_tui.app import ProxyPalApp
from tests.tui.conftest import until_ready, wait_for
from tests.tui.standin import StandinThread
from tests.tui.test_app_pilot import make_app


def _health(app: ProxyPalApp) -> LedgerHealth | None:
    """The ledger health the TUI took from the last `stats` event."""
    stats = app.session.live.stats
    return stats.ledger if stats is not None else None


def _ledger(ok: bool, backlog: int, dropped: int) -> dict:
    return {"ok": ok, "backlog": backlog, "last_error": None if ok else "database or disk is full",
            "dropped": dropped, "journal_failed": 0, "journal_error": None}  # fmt: skip


async def test_status_bar_shows_an_unsaved_ledger_backlog_and_lost_rows(home: Paths, standin: StandinThread) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(app, pilot)
        bar = app.screen.query_one(".status-bar", Static)
        app.redraw_now()
        assert "ledger" not in str(bar.render()), "nothing is shown while the ledger is healthy"
        standin.send([("stats", {"requests": 1, "ledger": _ledger(False, 1234, 0)})])
        await wait_for(lambda: _health(app) is not None and _health(app).backlog == 1234, pilot)
        app.redraw_now()
        await pilot.pause()
        assert "ledger unsaved 1.2k" in str(bar.render())
        standin.send([("stats", {"requests": 2, "ledger": _ledger(True, 0, 7)})])
        await wait_for(lambda: _health(app) is not None and _health(app).ok, pilot)
        app.redraw_now()
        await pilot.pause()
        text = str(bar.render())
        assert "unsaved" not in text and "ledger lost 7" in text
