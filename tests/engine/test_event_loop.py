"""The engine's loop choice: uvloop when installed unless PROXYPAL_EVENT_LOOP=asyncio, and it serves."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from proxy_engine.event_loop import LOOP_ENV, loop_name, new_event_loop

HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None


def test_asyncio_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOOP_ENV, "asyncio")
    loop = new_event_loop()
    try:
        assert loop_name(loop) == "asyncio"
        assert isinstance(loop, asyncio.BaseEventLoop)
    finally:
        loop.close()


@pytest.mark.skipif(not HAS_UVLOOP, reason="uvloop is not installed (it has no Windows build)")
def test_uvloop_by_default_and_it_serves_http(monkeypatch: pytest.MonkeyPatch) -> None:
    from aiohttp import ClientSession, web

    monkeypatch.delenv(LOOP_ENV, raising=False)
    loop = new_event_loop()

    async def hello(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def roundtrip() -> str:
        app = web.Application()
        app.router.add_get("/", hello)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            async with ClientSession() as s, s.get(f"http://127.0.0.1:{port}/") as r:
                return await r.text()
        finally:
            await runner.cleanup()

    try:
        assert loop_name(loop) == "uvloop"
        assert loop.run_until_complete(roundtrip()) == "ok"
    finally:
        loop.close()
