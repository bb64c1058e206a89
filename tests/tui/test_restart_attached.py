"""Restart engine on an attached session: the engine started elsewhere stops through `POST /v0/shutdown`
and the TUI starts (and from then on supervises) an engine of its own on the same config and port.

The first engine is a real `proxypal-engine serve` this test starts; the TUI is driven with Pilot.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import httpx

from proxy_engine.paths import Paths
from proxypal_tui.app import ProxyPalApp
from tests.tui.conftest import app_options, until_ready, wait_for

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def healthy(port: int, within: float = 60.0) -> None:
    async with httpx.AsyncClient() as client:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz", timeout=2)).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            assert asyncio.get_running_loop().time() < deadline, "the engine did not come up"
            await asyncio.sleep(0.1)


async def test_restart_engine_on_an_attached_session_hands_it_to_the_tui(home: Paths) -> None:
    port = free_port()
    home.config_file.write_text(f"port: {port}\nhost: 127.0.0.1\nproviders: {{}}\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    outside = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "proxy_engine", "serve", "--config", str(home.config_file)],
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await healthy(port)
        app = ProxyPalApp(app_options(home, engine_env=env))
        async with app.run_test(size=(100, 30)) as pilot:
            await until_ready(app, pilot, within=30)
            assert not app.engine_status.owned and app.engine_status.pid == outside.pid
            titles = [c.title for c in app.get_system_commands(app.screen)]
            assert "Restart engine" in titles

            await pilot.press("ctrl+p")
            await pilot.press(*"Restart engine")
            await pilot.pause(0.3)
            await pilot.press("enter")

            await wait_for(lambda: outside.returncode is not None, pilot, within=30)
            assert outside.returncode == 0  # stopped gracefully, not killed
            await wait_for(lambda: app.engine_status.owned, pilot, within=60)
            await until_ready(app, pilot, within=60)
            ours = app.supervisor.process
            assert ours is not None and ours.pid != outside.pid and app.engine_status.pid == ours.pid
            async with httpx.AsyncClient() as client:
                assert (await client.get(f"http://127.0.0.1:{port}/healthz", timeout=5)).status_code == 200
            await pilot.press("q")
        assert ours.returncode is not None  # the TUI's own engine stops with it
    finally:
        if outside.returncode is None:
            outside.terminate()
            await asyncio.wait_for(outside.wait(), 10)
