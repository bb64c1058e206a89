"""Builds the aiohttp application: routes, and the long-lived resources in cleanup_ctx."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from proxy_engine import __version__, management, proxy
from proxy_engine.amp import add_amp_routes
from proxy_engine.events import EventBus, EventLogHandler
from proxy_engine.paths import Paths
from proxy_engine.protocol import STATS
from proxy_engine.reload import setup_reload, watch_config
from proxy_engine.runtime import Runtime
from proxy_engine.state import ENGINE, RECORD, EngineState
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


def _gemini_route(tail: str) -> tuple[str, str | None]:
    model, _, action = tail.rpartition(":")
    return (model, action) if model else (tail, None)


async def gemini_post(request: web.Request) -> web.StreamResponse:
    model, action = _gemini_route(request.match_info["tail"])
    if action not in ("generateContent", "streamGenerateContent", "countTokens"):
        err = proxy.ProxyError(404, f"unsupported Gemini method {action!r}")
        return proxy.error_response("gemini", err)
    return await proxy.handle(request, "gemini", model=model, action=action)


def _model_ids(request: web.Request) -> list[str] | web.Response:
    rt = request.app[ENGINE].runtime
    if rt.client_for(proxy.client_key(request)) is None:
        dialect = "anthropic" if "anthropic-version" in request.headers else "openai_chat"
        return proxy.error_response(dialect, proxy.ProxyError(401, "invalid or missing client key"))
    return rt.router.model_names()


async def list_models(request: web.Request) -> web.Response:
    ids = _model_ids(request)
    if isinstance(ids, web.Response):
        return ids
    if "anthropic-version" in request.headers:
        data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"} for m in ids]
        return web.json_response({"data": data, "has_more": False, "first_id": ids[0] if ids else None,
                                  "last_id": ids[-1] if ids else None})  # fmt: skip
    if request.path.startswith("/v1beta") or "x-goog-api-key" in request.headers or "key" in request.query:
        methods = ["generateContent", "streamGenerateContent", "countTokens"]
        models = [{"name": f"models/{m}", "displayName": m, "supportedGenerationMethods": methods} for m in ids]
        return web.json_response({"models": models})
    created = int(time.time())
    data = [{"id": m, "object": "model", "created": created, "owned_by": "proxypal"} for m in ids]
    return web.json_response({"object": "list", "data": data})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "version": __version__})


def _route(dialect: str, action: str | None = None):
    async def handler(request: web.Request) -> web.StreamResponse:
        return await proxy.handle(request, dialect, action=action)

    return handler


async def _stats_loop(state: EngineState) -> None:
    last_ok = True
    while True:
        await asyncio.sleep(0.5)
        ledger_ok = state.ledger.ok
        if (state.stats.dirty or ledger_ok != last_ok) and state.bus.subscribers:
            state.stats.dirty, last_ok = False, ledger_ok
            state.bus.emit(STATS, state.stats_snapshot())


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
    app = web.Application(client_max_size=runtime.max_body)
    bus = EventBus(runtime.config.events.queue_size)
    ledger = CostLedger(
        paths.ledger_file, paths.data_dir / "journal", max_backlog=runtime.config.ledger.max_backlog_rows
    )
    state = EngineState(paths=paths, runtime=runtime, bus=bus, ledger=ledger, host=host, port=port)
    bus.hello = state.hello
    app[ENGINE] = state
    setup_reload(app)
    app.cleanup_ctx.append(_resources)
    r = app.router
    r.add_post("/v1/chat/completions", _route("openai_chat"))
    r.add_post("/v1/responses", _route("openai_responses"))
    r.add_post("/v1/completions", _route("openai_completions"))
    r.add_post("/v1/messages", _route("anthropic"))
    r.add_post("/v1/messages/count_tokens", _route("anthropic", "count_tokens"))
    r.add_get("/v1/models", list_models)
    r.add_get("/v1beta/models", list_models)
    r.add_post("/v1beta/models/{tail:.+}", gemini_post)
    r.add_post("/v1/models/{tail:.+}", gemini_post)
    r.add_get("/healthz", healthz)
    r.add_get("/", healthz)
    r.add_routes(management.routes)
    add_amp_routes(r)
    app.on_response_prepare.append(_response_headers)
    return app


async def _response_headers(request: web.Request, response: web.StreamResponse) -> None:
    """No `Server` banner; a proxied reply names its ledger row, so a user can find it."""
    response.headers.pop("Server", None)
    if (rec := request.get(RECORD)) is not None:
        response.headers["X-ProxyPal-Request-Id"] = rec.id
