"""Agent sessions in the TUI, driven by keys against a scripted engine on real sockets (and once against the
real engine): the feed grouped by session, a session's requests in History (from the ledger through the
management API), and back."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
from textual.message import Message
from textual.widgets import Static

from proxy_engine.paths import Paths
from proxypal_tui.app import ProxyPalApp
from proxypal_tui.core.agent_sessions import SessionSummary, group_by_session
from proxypal_tui.core.feed import FeedFilter, FeedRow
from proxypal_tui.messages import SessionRequestsLoaded, SessionsLoaded
from proxypal_tui.screens.history import HistoryScreen
from proxypal_tui.screens.requests import RequestsScreen
from proxypal_tui.widgets.feed_view import RequestFeedView
from proxypal_tui.widgets.session_table import SessionTable
from tests.fakes import FakeOpenAI
from tests.tui.conftest import app_options, until_ready, wait_for
from tests.tui.feed_script import FIXED_NOW, live_events
from tests.tui.standin import StandinThread
from tests.tui.test_integration_engine import engine_app, upstream  # noqa: F401 (fixture)

CODEX = "019a9544-7ab1-73c1-837e-1fa681f4462b"


def make_app(paths: Paths) -> ProxyPalApp:
    return ProxyPalApp(app_options(paths, clock=lambda: FIXED_NOW, attach_only=True))


def _row(i: int, session: str, ts: float, **kw: Any) -> FeedRow:
    return FeedRow(id=f"r{i}", ts_start=ts, session=session, **kw)


def test_grouping_sums_each_session_and_leaves_out_requests_without_one() -> None:
    rows = [
        _row(1, "a", 10, agent="codex", input_tokens=100, output_tokens=10, cost_usd=0.5, status=200, model="m1"),
        _row(2, "b", 20, agent="claude-code", input_tokens=5, status=500, model="m2"),
        _row(3, "a", 30, agent="codex", input_tokens=1, cost_usd=None, status=None, model="m2"),
        _row(4, "", 40, agent="openai-sdk", input_tokens=999, status=200),
    ]
    got = {s.session: s for s in group_by_session(rows)}
    assert list(got) == ["a", "b"], "latest seen first; a request without a session is no row"
    a = got["a"]
    assert (a.requests, a.input_tokens, a.output_tokens, a.cost_usd) == (2, 101, 10, 0.5)
    assert (a.models, a.first_seen, a.last_seen, a.errors, a.agent) == (["m1", "m2"], 10, 30, 0, "codex")
    assert got["b"].errors == 1


def test_session_filter_matches_one_session_only() -> None:
    flt = FeedFilter.parse(f"session:{CODEX.upper()}")
    assert flt.active and flt.describe() == f"session:{CODEX}"
    assert flt.matches(_row(1, CODEX, 1)) and not flt.matches(_row(2, CODEX + "-child", 1))
    assert not flt.matches(_row(3, "", 1))


def test_lenient_rows_from_the_api() -> None:
    assert SessionSummary.from_api({"session": None}) is None
    s = SessionSummary.from_api({"session": "x", "requests": "3", "cost_usd": None, "models": "not a list"})
    assert s is not None and (s.requests, s.cost_usd, s.models) == (3, 0.0, [])


async def test_group_by_session_then_open_one_in_history_and_go_back(home: Paths, standin: StandinThread) -> None:
    seen: list[Message] = []
    app = make_app(home)
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await until_ready(app, pilot)
        standin.send(live_events())
        await wait_for(lambda: len(app.live.feed) == 43, pilot)
        await pilot.press("r", "s")
        app.redraw_now()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RequestsScreen) and screen.grouped
        table = screen.query_one("#sessions", SessionTable)
        assert table.display and not screen.query_one("#feed", RequestFeedView).display
        live = group_by_session(app.live.feed.newest_first())
        assert table.row_count == len(live) == 4
        assert table.highlighted_session == CODEX, "the session seen last is on top"
        detail = str(screen.query_one("#detail", Static).render())
        assert CODEX in detail and "agent codex" in detail

        await pilot.press("down")
        await pilot.pause()
        assert table.highlighted_session == live[1].session
        assert live[1].session in str(screen.query_one("#detail", Static).render())
        await pilot.press("up", "enter")
        await wait_for(
            lambda: isinstance(app.screen, HistoryScreen) and bool(app.session.session_history.requests), pilot
        )
        history = app.screen
        assert isinstance(history, HistoryScreen) and history.showing_sessions
        asked = [path for method, path in standin.engine.requests if path.startswith("/v0/requests?session=")]
        assert asked and CODEX in asked[-1], "the session's requests come from the ledger, by id"
        loaded = [m for m in seen if isinstance(m, SessionRequestsLoaded)][-1]
        ledger = [r for r in standin.engine.script.recent if r.get("session") == CODEX]
        assert loaded.session == CODEX and len(loaded.rows) == len(ledger)
        app.redraw_now()
        await pilot.pause()
        shown = history.query_one("#history-session-requests", RequestFeedView)
        assert shown.display and shown.row_count == len(ledger)
        assert all(r.session == CODEX for r in shown.rows)
        assert [r.ts_start for r in shown.rows] == sorted((r["ts_start"] for r in ledger), reverse=True)

        await pilot.press("escape")  # back to the ledger's sessions
        await wait_for(lambda: any(isinstance(m, SessionsLoaded) for m in seen), pilot)
        app.redraw_now()
        await pilot.pause()
        listing = history.query_one("#history-sessions", SessionTable)
        assert app.session.session_history.chosen is None and listing.display
        assert listing.row_count == len(app.session.session_history.sessions) == 4

        await pilot.press("s")  # and back to the charts
        app.redraw_now()
        await pilot.pause()
        assert not history.showing_sessions and history.query_one("#history-charts").display
        assert not listing.display


async def test_a_session_view_with_the_engine_gone_says_why(home: Paths, standin: StandinThread) -> None:
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await until_ready(app, pilot)
        standin.stop()
        await pilot.press("h", "s")
        await wait_for(lambda: bool(app.session.session_history.error), pilot)
        app.redraw_now()
        await pilot.pause()
        label = str(app.screen.query_one("#history-range", Static).render())
        assert "Agent sessions in the ledger: 0" in label and "(" in label


def _ask_as_codex(listen: str, session: str) -> None:
    client = openai.OpenAI(base_url=f"http://{listen}/v1", api_key="not-needed-on-loopback", max_retries=0,
                           default_headers={"session-id": session, "User-Agent": "codex_cli_rs/0.72.0"})  # fmt: skip
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])


async def test_with_the_real_engine_a_session_is_grouped_and_its_history_read_from_the_ledger(
    home: Paths,
    upstream: FakeOpenAI,  # noqa: F811 (the fixture)
) -> None:
    app = engine_app(home, upstream)
    async with app.run_test(size=(120, 40)) as pilot:
        await until_ready(app, pilot, within=60)
        for _ in range(2):
            await asyncio.to_thread(_ask_as_codex, app.engine_status.listen, CODEX)
        await wait_for(lambda: sum(r.session == CODEX for r in app.live.feed.newest_first()) == 2, pilot)
        await pilot.press("r", "s")
        app.redraw_now()
        await pilot.pause()
        table = app.screen.query_one("#sessions", SessionTable)
        summary = table.summaries[CODEX]
        assert (summary.requests, summary.agent, summary.models) == (2, "codex", ["gpt-4o"])
        await pilot.press("enter")
        await wait_for(lambda: len(app.session.session_history.requests) == 2, pilot)
        assert all(r.session == CODEX and r.status == 200 for r in app.session.session_history.requests)
        await pilot.press("escape")
        await wait_for(lambda: bool(app.session.session_history.sessions), pilot)
        ledger = app.session.session_history.sessions[0]
        assert (ledger.session, ledger.requests, ledger.agent) == (CODEX, 2, "codex")
        await pilot.press("q")
