"""The TUI's team view against real engines sharing a real Redis: a TUI attached to one replica sees the
requests served by another replica too, each tagged with the replica that served it.

The TUI runs its own engine (team mode, `team.redis`); a second replica is a separate engine process
on the same Redis, as `docs/TEAM.md` runs them.
"""

from __future__ import annotations

import asyncio
import os

import httpx

from proxy_engine.paths import Paths
from proxypal_tui.app import ProxyPalApp
from proxypal_tui.screens.requests import detail_text
from tests.engine_harness import EngineProcess, free_port
from tests.fakes import FakeOpenAI, FakeServerThread
from tests.tui.conftest import app_options, until_ready, wait_for
from tests.tui.test_integration_engine import REPO

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def _config(port: int, fake: FakeOpenAI, redis: str) -> str:
    return (
        f"port: {port}\nhost: 127.0.0.1\n"
        f"providers:\n  openai: {{kind: openai, base_url: {fake.base_url}, api_key: env:OPENAI_API_KEY}}\n"
        f'team: {{redis: "{redis}"}}\n'
    )


def _served_by(url: str, admin_headers: dict[str, str]) -> tuple[str, str]:
    """One chat request through `url`: its request id and the replica id that served it."""
    r = httpx.post(url + "/v1/chat/completions", json=CHAT, timeout=20)
    assert r.status_code == 200, r.text
    status = httpx.get(url + "/v0/status", headers=admin_headers, timeout=10).json()
    return r.headers["X-ProxyPal-Request-Id"], status["team"]["replica"]


async def test_a_tui_on_one_replica_shows_the_other_replicas_requests_tagged(home: Paths, redis_url: str) -> None:
    with FakeServerThread(FakeOpenAI()) as fake:
        fake.script(text="hi", chunks=1)
        home.config_file.write_text(_config(free_port(), fake, redis_url))
        env = dict(os.environ, OPENAI_API_KEY=fake.api_key, PYTHONPATH=str(REPO))
        other_port = free_port()
        other = EngineProcess(_config(other_port, fake, redis_url), other_port, env={"OPENAI_API_KEY": fake.api_key})
        app = ProxyPalApp(app_options(home, engine_env=env))
        async with app.run_test(size=(120, 40)) as pilot:
            await until_ready(app, pilot, within=60)
            await asyncio.to_thread(other.start)
            try:
                own_admin = {"Authorization": "Bearer " + home.management_key_file.read_text().strip()}
                mine = await asyncio.to_thread(_served_by, f"http://{app.engine_status.listen}", own_admin)
                other_admin = {"Authorization": "Bearer " + other.management_key}
                theirs = await asyncio.to_thread(_served_by, other.url, other_admin)
                assert mine[1] != theirs[1], "each replica has its own id"

                def rows() -> dict[str, str]:
                    return {r.id: r.replica for r in app.live.feed.newest_first() if r.status is not None}

                await wait_for(lambda: {mine[0], theirs[0]} <= set(rows()), pilot, within=15)
                assert rows()[mine[0]] == mine[1]
                assert rows()[theirs[0]] == theirs[1]  # served elsewhere, seen here, with its replica
                shown = next(r for r in app.live.feed.newest_first() if r.id == theirs[0])
                assert f"replica {theirs[1]}" in detail_text(shown).plain
            finally:
                await asyncio.to_thread(other.stop)
            await pilot.press("q")
