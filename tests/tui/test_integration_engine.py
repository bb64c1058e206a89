"""The TUI with the real engine as its child process and a fake upstream (tests/fakes) behind it.

An SDK request shows up in the live feed; `kill -9` of the engine is shown as a crash and the
engine comes back; quitting leaves no engine process behind.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import psutil
import pytest
from textual.message import Message

from proxy_engine.paths import Paths
from proxypal_tui.app import ProxyPalApp
from proxypal_tui.core.engine_state import EngineState
from proxypal_tui.messages import EngineStatusChanged
from proxypal_tui.widgets.feed_view import RequestFeedView
from tests.fakes import FakeOpenAI, FakeServerThread
from tests.tui.conftest import app_options, until_ready, wait_for

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("proxy_engine.cli") is None,
    reason="the engine (proxy_engine.cli) is not built yet",
)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def upstream() -> Iterator[FakeOpenAI]:
    with FakeServerThread(FakeOpenAI()) as fake:
        fake.script(text="hello from the fake upstream", chunks=3)
        yield fake


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def engine_app(paths: Paths, fake: FakeOpenAI, **overrides: Any) -> ProxyPalApp:
    paths.config_file.write_text(
        f"port: {free_port()}\nhost: 127.0.0.1\n"
        f"providers:\n  openai: {{kind: openai, base_url: {fake.base_url}, api_key: env:OPENAI_API_KEY}}\n"
    )
    env = dict(os.environ, OPENAI_API_KEY=fake.api_key, PYTHONPATH=str(REPO))
    return ProxyPalApp(app_options(paths, engine_env=env, **overrides))


def engines_for(config: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if "proxy_engine" in cmd and str(config) in cmd:
            found.append(proc)
    return found


def ask(listen: str) -> str:
    client = openai.OpenAI(base_url=f"http://{listen}/v1", api_key="not-needed-on-loopback", max_retries=0)
    reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    return reply.choices[0].message.content or ""


async def test_an_sdk_request_appears_in_the_feed(home: Paths, upstream: FakeOpenAI) -> None:
    app = engine_app(home, upstream)
    async with app.run_test(size=(120, 40)) as pilot:
        await until_ready(app, pilot, within=60)
        assert app.engine_status.owned
        text = await asyncio.to_thread(ask, app.engine_status.listen)
        assert text == "hello from the fake upstream"
        await wait_for(
            lambda: any(r.model_requested == "gpt-4o" and r.status == 200 for r in app.live.feed.newest_first()),
            pilot,
            within=10,
        )
        await pilot.press("r")
        app.redraw_now()
        rows = app.screen.query_one(RequestFeedView).rows
        assert rows and rows[0].provider == "openai" and rows[0].status == 200
        assert rows[0].output_tokens > 0
        await pilot.press("q")
    assert not engines_for(home.config_file)


async def test_kill_9_shows_the_crash_and_the_restart(home: Paths, upstream: FakeOpenAI) -> None:
    seen: list[Message] = []
    app = engine_app(home, upstream)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await until_ready(app, pilot, within=60)
        first = app.engine_status.pid
        os.kill(first, signal.SIGKILL)

        def states() -> list[EngineState]:
            return [m.status.state for m in seen if isinstance(m, EngineStatusChanged)]

        await wait_for(lambda: EngineState.CRASHED in states(), pilot, within=15)
        crash = next(m.status for m in seen if isinstance(m, EngineStatusChanged) and m.status.state.value == "crashed")
        assert "SIGKILL" in crash.message
        await wait_for(lambda: states().count(EngineState.READY) >= 2, pilot, within=60)
        assert app.engine_status.pid != first
        assert EngineState.RESTARTING in states()
        # Events flow again from the new engine: a request after the restart shows up.
        await asyncio.to_thread(ask, app.engine_status.listen)
        await wait_for(lambda: any(r.status == 200 for r in app.live.feed.newest_first()), pilot, within=10)
        await pilot.press("q")
    assert not engines_for(home.config_file)


async def test_quitting_leaves_no_engine_process(home: Paths, upstream: FakeOpenAI) -> None:
    app = engine_app(home, upstream)
    async with app.run_test(size=(80, 24)) as pilot:
        await until_ready(app, pilot, within=60)
        pid = app.engine_status.pid
        assert [p.pid for p in engines_for(home.config_file)] == [pid]
        await pilot.press("q")
    await wait_for(lambda: not engines_for(home.config_file), within=10)


async def test_history_screen_reads_days_from_the_ledger(home: Paths, upstream: FakeOpenAI) -> None:
    """Rows written to the ledger before the engine started (earlier runs) show on the History screen."""
    from datetime import datetime, timedelta

    from proxy_engine.usage.ledger import CostLedger
    from proxypal_tui.screens.history import HistoryScreen

    noon = datetime.now().replace(hour=12, minute=0, second=0, microsecond=0)
    days = [noon - timedelta(days=n) for n in (3, 2)]
    home.ensure()
    ledger = CostLedger(home.ledger_file, home.data_dir / "journal")
    await ledger.open()
    for i, (day, provider, status) in enumerate([(days[0], "openai", 200), (days[0], "openai", 500),
                                                 (days[1], "anthropic", 200)]):  # fmt: skip
        row = {"latency_ms": 100.0 * (i + 1), "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.25}
        ledger.append({"id": f"old{i}", "ts_start": day.timestamp() + i, "provider": provider, "status": status, **row})
    await ledger.close()
    app = engine_app(home, upstream)
    async with app.run_test(size=(120, 40)) as pilot:
        await until_ready(app, pilot, within=60)
        await pilot.press("h")
        assert isinstance(app.screen, HistoryScreen)
        await wait_for(lambda: app.session.history.version > 0 and bool(app.session.history.rows), pilot, within=10)
        view = app.session.history
        assert view.periods() == [d.strftime("%Y-%m-%d") for d in days]
        totals = {t.name: t for t in view.totals()}
        assert (totals["openai"].requests, totals["openai"].success_rate, totals["openai"].cost_usd) == (2, 0.5, 0.5)
        app.redraw_now()
        table = app.screen.query_one("#history-table")
        assert table.row_count == 2
        await pilot.press("g")  # by model: the old rows had none
        await wait_for(lambda: app.session.history.group == "model", pilot, within=10)
        assert {t.name for t in app.session.history.totals()} == {"-"}
        await pilot.press("q")
