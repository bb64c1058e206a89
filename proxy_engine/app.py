"""Builds the aiohttp application: routes, and the long-lived resources in cleanup_ctx."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from pathlib import Path

import aiohttp
from aiohttp import web

from proxy_engine import __version__, management
from proxy_engine.amp import add_amp_routes
from proxy_engine.events import EventBus, EventLogHandler
from proxy_engine.paths import Paths
from proxy_engine.protocol import STATS
from proxy_engine.reload import setup_reload, watch_config
from proxy_engine.request_path.routes import ROOT, mount
from proxy_engine.request_path.safety_net import safety_net
from proxy_engine.runtime import Runtime
from proxy_engine.state import ENGINE, EngineState
from proxy_engine.usage.ledger import CostLedger

log = logging.getLogger("proxy_engine.app")
_TASKS = web.AppKey("tasks", list)


def load_management_key(path: Path) -> bytes:
    """Created on first run, 0600; the TUI reads the same file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip().encode()
    key = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key.encode()


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "version": __version__})


async def _stats_loop(state: EngineState) -> None:
    while True:
        await asyncio.sleep(0.5)
        if state.stats.dirty and state.bus.subscribers:
            state.stats.dirty = False
            state.bus.emit(STATS, state.stats.snapshot())


async def _resources(app: web.Application):
    state = app[ENGINE]
    state.management_key = await asyncio.to_thread(load_management_key, state.paths.management_key_file)
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=256, ttl_dns_cache=300, enable_cleanup_closed=True)
    state.session = aiohttp.ClientSession(connector=connector, auto_decompress=True, skip_auto_headers=("User-Agent",))
    await state.ledger.open()
    await state.load_budgets()
    await state.credentials.open()
    sock = Path(state.runtime.config.events.socket) if state.runtime.config.events.socket else None
    await state.bus.start(sock or state.paths.events_socket(state.port))
    handler = EventLogHandler(state.bus, asyncio.get_running_loop())
    logging.getLogger("proxy_engine").addHandler(handler)
    app[_TASKS] = [asyncio.create_task(_stats_loop(state), name="stats"),
                   asyncio.create_task(watch_config(app), name="config-watch")]  # fmt: skip
    log.info("engine %s listening on %s:%s, events on %s", __version__, state.host, state.port, state.bus.path)
    yield
    for t in app[_TASKS]:
        t.cancel()
    await asyncio.gather(*app[_TASKS], return_exceptions=True)
    logging.getLogger("proxy_engine").removeHandler(handler)
    await state.credentials.close()
    await state.bus.close()
    await state.session.close()
    await state.ledger.close()


def build_app(paths: Paths, runtime: Runtime, host: str, port: int) -> web.Application:
    app = web.Application(client_max_size=runtime.max_body, middlewares=[safety_net])
    bus = EventBus(runtime.config.events.queue_size)
    state = EngineState(
        paths=paths, runtime=runtime, bus=bus, ledger=CostLedger(paths.ledger_file), host=host, port=port
    )
    bus.hello = state.hello
    app[ENGINE] = state
    setup_reload(app)
    app.cleanup_ctx.append(_resources)
    r = app.router
    mount(r, ROOT)
    r.add_get("/healthz", healthz)
    r.add_get("/", healthz)
    r.add_routes(management.routes)
    add_amp_routes(r)
    app.on_response_prepare.append(_no_server_header)
    return app


async def _no_server_header(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.pop("Server", None)
