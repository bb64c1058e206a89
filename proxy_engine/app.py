"""Builds the aiohttp application: routes, and the long-lived resources in cleanup_ctx."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from proxy_engine import __version__, amp, management
from proxy_engine.amp import add_amp_routes
from proxy_engine.browser_guard import browser_guard
from proxy_engine.credentials.cooldowns import CooldownStore
from proxy_engine.events import EventBus, EventLogHandler
from proxy_engine.members import admin_api
from proxy_engine.members.access import MemberAccess
from proxy_engine.metrics.scrape import metrics
from proxy_engine.paths import Paths, make_private_dirs
from proxy_engine.recorder import api as recorder_api
from proxy_engine.reload import setup_reload, watch_config
from proxy_engine.request_path.drain import drain_model_calls
from proxy_engine.request_path.responses_socket import OPEN_SOCKETS, close_response_sockets
from proxy_engine.request_path.routes import ROOT, mount
from proxy_engine.request_path.safety_net import safety_net
from proxy_engine.request_path.upstream_request import UpstreamRequest
from proxy_engine.runtime import Runtime
from proxy_engine.state import ENGINE, RECORD, RunningEngine
from proxy_engine.storage.backend import Storage
from proxy_engine.storage.errors import StorageUnavailable
from proxy_engine.usage.ledger import CostLedger
from proxy_engine.usage.shared_spend import SharedSpend
from proxy_engine.webhooks import WebhookDispatcher
from proxy_engine.workers.role import COOLDOWN_REFRESH_S, WorkerRole

log = logging.getLogger("proxy_engine.app")
_TASKS = web.AppKey("tasks", list)


def load_management_key(path: Path) -> bytes:
    """Created on first run, 0600; the TUI reads the same file."""
    make_private_dirs(path.parent)
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


async def _stats_loop(state: RunningEngine) -> None:
    """Runs for the engine's life: one failed snapshot is logged and the next tick tries again.

    A change in the ledger's health is sent even when no request finished."""
    last_ok = True
    while True:
        await asyncio.sleep(0.5)
        ledger_ok = state.ledger.ok
        if (state.stats.dirty or ledger_ok != last_ok) and state.bus.subscribers:
            state.stats.dirty, last_ok = False, ledger_ok
            try:
                state.bus.publish(state.stats_payload())
            except Exception:
                log.exception("stats snapshot failed; the stats loop goes on")


async def _resources(app: web.Application) -> AsyncIterator[None]:
    state = app[ENGINE]
    # Storage first: an unreadable team.postgres stops the start before anything is open (a server that
    # does not answer yet does not: rows queue until it does). Migrations run here.
    await state.storage.open()
    # Then the events socket, so a refused one stops the start before anything else is open.
    sock = Path(state.runtime.config.events.socket) if state.runtime.config.events.socket else None
    if state.worker is None:
        await state.bus.start(sock or state.paths.events_socket(state.port))
    else:  # the supervisor owns the socket; this worker's events reach it through the fan-in
        state.bus.path = sock or state.paths.events_socket(state.port)
        state.budgets.shared = SharedSpend(state.worker.spend_file, state.worker.index + 1)
    state.management_key = await asyncio.to_thread(load_management_key, state.paths.management_key_file)
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=256, ttl_dns_cache=300, enable_cleanup_closed=True)
    # No aiohttp User-Agent upstream when the client sent none (upstream_request.py)
    state.session = aiohttp.ClientSession(connector=connector, auto_decompress=True, request_class=UpstreamRequest)
    await state.ledger.open()
    await state.members.open()  # after the ledger: its `member` column is there
    await state.load_budgets()
    if (team := state.runtime.config.team) is not None and team.redis:
        from proxy_engine.team_state.hot_state import TeamHotState  # redis: only team mode loads it

        replica = team.replica_id or state.storage.replica_id or f"{state.host}:{state.port}"
        state.team = await TeamHotState.open(team.redis, replica, state.bus, state.budgets, state.ledger)
        state.credentials.shared_refresh = state.team.refresh if state.team is not None else None
        if state.team is not None:
            state.members.share(state.team)
    await state.credentials.open()
    await state.recorder.start()
    if state.team is not None and state.credentials.cooldowns is not None:
        await state.team.start_credential_sync(state.credentials.cooldowns, state.credentials.quota)
    webhooks = WebhookDispatcher(state.bus, lambda: state.runtime)  # POSTs chosen events, off the request path
    await webhooks.start()
    handler = EventLogHandler(state.bus, asyncio.get_running_loop())
    logging.getLogger("proxy_engine").addHandler(handler)
    app[_TASKS] = [asyncio.create_task(_stats_loop(state), name="stats"),
                   asyncio.create_task(watch_config(app), name="config-watch"),
                   asyncio.create_task(state.members.refresh_forever(), name="member-keys"),
                   asyncio.create_task(state.metrics.drain_forever(), name="metrics")]  # fmt: skip
    # Workers share one SQLite file, replicas one PostgreSQL: each re-reads what the others set.
    shared_table = state.worker is not None or state.storage.kind == "postgres"
    if shared_table and state.credentials.cooldowns is not None:
        app[_TASKS].append(asyncio.create_task(_cooldown_refresh(state.credentials.cooldowns), name="cooldowns"))
        app[_TASKS].append(asyncio.create_task(state.credentials.quota.refresh_forever(), name="quota-refresh"))
    log.info("engine %s listening on %s:%s, events on %s", __version__, state.host, state.port, state.bus.path)
    yield
    for t in app[_TASKS]:
        t.cancel()
    await asyncio.gather(*app[_TASKS], return_exceptions=True)
    logging.getLogger("proxy_engine").removeHandler(handler)
    if state.team is not None:
        if state.members.shared is not None:
            await state.members.shared.drain()  # member settles still in flight reach Redis first
        await state.team.close()
    await webhooks.close()
    await state.credentials.close()
    await state.bus.close()
    await state.session.close()
    await state.ledger.close()
    await state.recorder.close()
    await state.storage.close()
    if state.budgets.shared is not None:
        state.budgets.shared.close()


async def _cooldown_refresh(cooldowns: CooldownStore) -> None:
    """A worker re-reads cooldowns the other workers set (and cleared), so all honour them."""
    failing = False
    while True:
        await asyncio.sleep(COOLDOWN_REFRESH_S)
        try:
            await cooldowns.refresh()
        except (sqlite3.Error, StorageUnavailable) as e:
            if not failing:  # an outage is logged once, not twice a second
                log.warning("cooldowns could not be re-read (%s); trying again", e)
            failing = True
            continue
        if failing:
            log.info("cooldowns are re-read again")
        failing = False


def build_app(
    paths: Paths, runtime: Runtime, host: str, port: int, worker: WorkerRole | None = None
) -> web.Application:
    app = web.Application(
        client_max_size=runtime.max_body,
        middlewares=[safety_net, browser_guard(relay_handlers={amp.relay})],
    )
    bus = EventBus(runtime.config.events.queue_size)
    storage = Storage.from_config(paths.ledger_file, runtime.config.team, replica_id=f"{socket.gethostname()}:{port}")
    ledger = CostLedger(
        paths.ledger_file,
        paths.data_dir / "journal",
        max_backlog=runtime.config.ledger.max_backlog_rows,
        store=storage.ledger_store(),
        max_journal_bytes=int(runtime.config.ledger.max_journal_mb * 1024 * 1024),
    )
    state = RunningEngine(paths=paths, runtime=runtime, bus=bus, ledger=ledger, host=host, port=port, worker=worker)
    state.storage = storage
    state.members = MemberAccess(storage)
    state.credentials.cooldown_table = storage.cooldown_table()
    state.credentials.quota_table = storage.quota_table()
    bus.hello = state.hello
    app[ENGINE] = state
    setup_reload(app)
    app.cleanup_ctx.append(_resources)
    app.on_shutdown.append(drain_model_calls)
    app[OPEN_SOCKETS] = set()
    app.on_shutdown.append(close_response_sockets)  # after the drain: a response in flight ends first
    r = app.router
    mount(r, ROOT)
    r.add_get("/healthz", healthz)
    r.add_get("/", healthz)
    r.add_routes(management.routes)
    r.add_routes(recorder_api.routes)
    r.add_routes(admin_api.routes)
    r.add_get("/metrics", metrics)
    add_amp_routes(r)
    app.on_response_prepare.append(_response_headers)
    return app


async def _response_headers(request: web.Request, response: web.StreamResponse) -> None:
    """No `Server` banner; a proxied reply names its ledger row, so a user can find it."""
    response.headers.pop("Server", None)
    if (rec := request.get(RECORD)) is not None:
        response.headers["X-ProxyPal-Request-Id"] = rec.id
    if (worker := request.app[ENGINE].worker) is not None:
        response.headers["X-ProxyPal-Worker"] = worker.header
