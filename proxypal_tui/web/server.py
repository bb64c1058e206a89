"""The web view: textual-serve's routes behind the login gate, and one engine for every browser tab.

textual-serve starts one app process per websocket (per tab). If each tab supervised its own
engine, a second tab would race the first for the port and closing the first would stop the
engine under the second. So this server supervises the engine itself (the same
`EngineSupervisor` the TUI uses, with its restarts and `--exit-with-parent` watchdog) and every
tab runs `proxypal-tui --attach`, which attaches to that engine like a second terminal would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.server import Server

from proxy_engine.paths import Paths
from proxypal_tui.core.engine_state import EngineState, EngineStatus
from proxypal_tui.core.supervisor import EngineSupervisor, SupervisorOptions
from proxypal_tui.web.access import LoginGate, add_safety_headers
from proxypal_tui.web.bind import BindPlan

log = logging.getLogger("proxypal_tui.web")
SHUTDOWN_TIMEOUT_S = 3.0
TITLE = "ProxyPal"


@dataclass(frozen=True)
class WebOptions:
    bind: BindPlan
    config_path: Path
    paths: Paths
    attach_only: bool = False  # never start an engine: only show one that runs
    keep_engine: bool = False  # the engine we start outlives the web view
    theme: str | None = None


def session_command(opts: WebOptions) -> str:
    """The shell command textual-serve runs per tab: this interpreter's TUI, attaching only."""
    argv = [sys.executable, "-m", "proxypal_tui", "--attach", "--config", str(opts.config_path)]
    if opts.theme:
        argv += ["--theme", opts.theme]
    return shlex.join(argv)


class AppSockets:
    """The tabs' websocket handlers, so shutdown can end them at once (textual-serve then quits each app)."""

    def __init__(self, server: Server) -> None:
        self._server = server
        self._running: set[asyncio.Task[Any]] = set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            return await self._server.handle_websocket(request)
        finally:
            if task is not None:
                self._running.discard(task)

    async def close_all(self, _app: web.Application) -> None:
        for task in list(self._running):
            task.cancel()


def page_handler(server: Server, font_size: int = 16) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """textual-serve's page, with its websocket URL taken from the address the browser used.

    (textual-serve's own index builds it from one fixed public URL; a browser that reached us as
    `localhost` instead of `127.0.0.1` would then open the socket on another host, without its cookie.)
    """

    async def index(request: web.Request) -> web.StreamResponse:
        ws_scheme = "wss" if request.secure else "ws"
        context = {
            "font_size": font_size,
            "app_websocket_url": f"{ws_scheme}://{request.host}/ws",
            "config": {"static": {"url": "/static/"}},
            "application": {"name": server.title},
        }
        response = aiohttp_jinja2.render_template("app_index.html", request, context)
        response.headers["Cache-Control"] = "no-store"
        return response

    return index


def build_web_app(server: Server, gate: LoginGate) -> web.Application:
    """Login routes, then textual-serve's page, socket, downloads and static files, all behind the gate."""
    app = web.Application(middlewares=[gate.middleware])
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(server.templates_path))
    sockets = AppSockets(server)
    app.add_routes(
        [
            *gate.routes(),
            web.get("/", page_handler(server), name="index"),
            web.get("/ws", sockets.handle, name="websocket"),
            web.get("/download/{key}", server.handle_download, name="download"),
            web.static("/static", server.statics_path, name="static"),
        ]
    )
    app.on_response_prepare.append(add_safety_headers)
    app.on_shutdown.append(sockets.close_all)
    return app


class EngineWatch:
    """Runs the supervisor for the web view and says on stderr when the engine's state changes."""

    def __init__(self, opts: WebOptions) -> None:
        self.supervisor = EngineSupervisor(
            SupervisorOptions(
                config_path=opts.config_path,
                paths=opts.paths,
                attach_only=opts.attach_only,
                exit_with_parent=not opts.keep_engine,
            ),
            on_status=self._status,
            on_events=self._events,
        )
        self._last: tuple[EngineState, str] | None = None

    def _status(self, status: EngineStatus) -> None:
        seen = (status.state, status.message)
        if seen != self._last:
            self._last = seen
            where = f" on {status.listen}" if status.listen else ""
            print(f"engine: {status.state.value}{where}: {status.message}", file=sys.stderr, flush=True)

    def _events(self, _batch: list[dict[str, Any]]) -> None:
        """The tabs show the events; the server only needs the supervisor to follow the engine."""
        self.supervisor.pump.done()


def _announce(opts: WebOptions) -> None:
    if opts.bind.warning:
        bar = "!" * 78
        print(f"{bar}\n{opts.bind.warning}\n{bar}", file=sys.stderr, flush=True)
    print(
        f"ProxyPal web view on {opts.bind.url}\n"
        f"Sign in with the management key in {opts.paths.management_key_file} (once per browser session).\n"
        "Press Ctrl+C to stop.",
        file=sys.stderr,
        flush=True,
    )


async def serve_web(opts: WebOptions) -> int:
    """Serve until SIGINT/SIGTERM; then end the tabs, and stop the engine unless it is kept."""
    server = Server(session_command(opts), host=opts.bind.host, port=opts.bind.port, title=TITLE)
    gate = LoginGate(opts.paths.management_key_file, secure_cookie=opts.bind.tls is not None)
    runner = web.AppRunner(build_web_app(server, gate), handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    watch = EngineWatch(opts)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    engine: asyncio.Task[None] | None = None
    await runner.setup()
    try:
        site = web.TCPSite(runner, opts.bind.host, opts.bind.port, ssl_context=opts.bind.tls)
        try:
            await site.start()
        except OSError as e:
            print(f"cannot serve the web view on {opts.bind.host}:{opts.bind.port}: {e}", file=sys.stderr)
            return 1
        if opts.bind.port == 0:  # ask the OS which port it gave us, to print a URL that works
            opts = replace(opts, bind=replace(opts.bind, port=runner.addresses[0][1]))
        _announce(opts)
        engine = asyncio.create_task(watch.supervisor.run(), name="web-engine-supervisor")
        await stop.wait()
        return 0
    finally:
        await runner.cleanup()
        if engine is not None:
            await watch.supervisor.shutdown(stop_engine=not opts.keep_engine)
            engine.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await engine
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def run_web(opts: WebOptions) -> int:
    logging.basicConfig(level=os.environ.get("PROXYPAL_WEB_LOG", "WARNING"), format="%(name)s: %(message)s")
    return asyncio.run(serve_web(opts))
