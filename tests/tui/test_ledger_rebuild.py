"""After an engine restart the dashboard's per-minute charts and today's split come back from the ledger
(`/v0/history?by=minute` and today's `by=day&group=...`), though the new engine's own stats start at zero.

A real engine serves real requests against a fake upstream, is stopped, and a new one starts on the
same home; the TUI's client, `LedgerSeries` and the series the dashboard draws are used as the app does.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from proxy_engine.protocol import RequestFinished, Stats
from proxypal_tui.core import formatting as fmt
from proxypal_tui.core import metrics
from proxypal_tui.core.api import ManagementClient
from proxypal_tui.core.ledger_series import LedgerSeries, ledger_series
from tests.engine_harness import EngineProcess, fakes_config, free_port
from tests.fakes import FakeAnthropic, FakeGemini, FakeOpenAI, FakeServerThread

MSG = [{"role": "user", "content": "hi"}]


async def _ask_ledger(engine: EngineProcess, now: float) -> LedgerSeries | None:
    api = ManagementClient(engine.url, engine.home / "data" / "management.key")
    try:
        return await ledger_series(api, now)
    finally:
        await api.close()


def test_charts_and_split_survive_a_restart(tmp_path: Path) -> None:
    with FakeServerThread(FakeOpenAI()) as fo, FakeServerThread(FakeAnthropic()) as fa, \
            FakeServerThread(FakeGemini()) as fg:  # fmt: skip
        port = free_port()
        config = fakes_config(port, fo, fa, fg)
        (tmp_path / "pp").mkdir()
        home = str(tmp_path / "pp")
        with EngineProcess(config, port, home=home) as first:
            for model in ("Rush", "Rush", "Smart"):
                r = httpx.post(first.url + "/v1/chat/completions", json={"model": model, "messages": MSG}, timeout=30)
                assert r.status_code == 200
        with EngineProcess(config, port, home=home) as second:
            status = second.api("GET", "/v0/status").json()
            stats = Stats.from_dict(status["stats"])
            assert stats.requests == 0  # the new engine's own counts start again
            now = time.time()
            seeded = asyncio.run(_ask_ledger(second, now))
    assert seeded is not None
    without = metrics.per_minute_series(stats, now)
    rebuilt = metrics.per_minute_series(stats, now, ledger=seeded.minutes)
    assert sum(without.requests) == 0
    assert sum(rebuilt.requests) == 3 and sum(rebuilt.tokens) > 0
    assert dict(seeded.providers) == {"openai": 2, "anthropic": 1}
    assert dict(seeded.models) == {"gpt-4o-mini": 2, "claude-sonnet-4-6": 1}
    shares = {s.name: s.count for s in metrics.distribution(dict(seeded.providers))}
    assert shares == {"openai": 2, "anthropic": 1}


def test_live_requests_add_to_todays_split_and_minutes_take_the_larger_count() -> None:
    now = time.time()
    minute = int(now) // 60 * 60
    seeded = LedgerSeries.from_history(
        fmt.day_key(now),
        [{"period": minute, "requests": 5, "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.5},
         {"period": "2025-10-01", "requests": 99}],  # a row that is not a minute is skipped
        [{"provider": "openai", "requests": 5}, {"provider": "-", "requests": 2}],
        [{"model": "gpt-4o", "requests": 5}],
    )  # fmt: skip
    seeded.fold(RequestFinished(id="x", ts_start=now, provider="anthropic", model="claude-haiku-4-5", status=200))
    seeded.fold(RequestFinished(id="y", ts_start=now - 3 * 86400, provider="openai", model="gpt-4o", status=200))
    assert dict(seeded.providers) == {"openai": 5, "anthropic": 1}  # yesterday's request is not today's
    assert dict(seeded.models) == {"gpt-4o": 5, "claude-haiku-4-5": 1}
    stats = Stats(per_minute=[[minute, 7, 3, 0.1]])
    series = metrics.per_minute_series(stats, now, ledger=seeded.minutes)
    assert series.requests[-1] == 7 and series.tokens[-1] == 15 and series.cost[-1] == 0.5
