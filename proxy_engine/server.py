"""Runs the engine: bind, serve until SIGTERM/SIGINT, then drain in-flight streams and flush the ledger."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import sys

from aiohttp import web

from proxy_engine.app import build_app
from proxy_engine.config import ConfigError, load_config
from proxy_engine.event_loop import loop_name, new_event_loop
from proxy_engine.events import EventSocketRefused
from proxy_engine.heap import freeze_soon
from proxy_engine.inbound import CappedTCPSite
from proxy_engine.logs import setup_logging, stop_logging
from proxy_engine.paths import Paths
from proxy_engine.port_holder import describe_holder, port_free
from proxy_engine.reload import reload_now
from proxy_engine.runtime import build_runtime, open_bind_issue
from proxy_engine.state import ENGINE
from proxy_engine.storage.errors import StorageUnavailable
from proxy_engine.usage.price_start import open_prices
from proxy_engine.usage.price_table import TABLE
from proxy_engine.workers.role import WorkerRole

log = logging.getLogger("proxy_engine.server")
LINGER_S = 2.0  # aiohttp's default is 10 s


def port_owner(port: int) -> str:
    """Who holds a port, for a clear message; never used to kill anything."""
    return describe_holder(port)


def _port_taken(host: str, port: int) -> bool:
    """Checked before anything starts, so a taken port is refused at once with its holder (not after the
    event socket, the app and a misleading "listening" line)."""
    try:
        return port != 0 and not port_free(host, port)
    except OSError:  # an address that cannot be resolved or bound: the listener reports it itself
        return False


_RELOADS: set[asyncio.Task[object]] = set()


def _reload_soon(app: web.Application) -> None:
    """SIGHUP in a worker: the supervisor passes on a reload asked of any worker."""
    task = asyncio.get_running_loop().create_task(reload_now(app), name="reload")
    _RELOADS.add(task)
    task.add_done_callback(_RELOADS.discard)


def serve(paths: Paths, host: str | None = None, port: int | None = None, worker: WorkerRole | None = None) -> int:
    """Run one engine; `worker` set: one of the worker processes of `serve --workers N`."""
    try:
        loaded = load_config(paths.config_file)
    except ConfigError as e:
        print(f"proxypal-engine: config refused:\n{e}", file=sys.stderr)
        return 2
    cfg = loaded.config
    host = host or cfg.host
    port = cfg.port if port is None else port
    if worker is None and _port_taken(host, port):
        print(f"proxypal-engine: port {port} is in use by {port_owner(port)}; change `port:` in the config "
              "or stop that program", file=sys.stderr)  # fmt: skip
        return 3
    paths.ensure()
    setup_logging(paths.log_dir, cfg.log_level, "engine.log" if worker is None else f"engine-worker{worker.index}.log")
    runtime = build_runtime(loaded, host)
    if open_bind_issue(runtime, host):  # no client keys configured, or none readable
        print(f"proxypal-engine: refusing to bind {host}: a non-loopback address needs client keys "
              "(add `clients:` to the config)", file=sys.stderr)  # fmt: skip
        return 2
    app = build_app(paths, runtime, host, port, worker)
    # Model calls are drained within shutdown_grace_s by an on_shutdown hook (request_path/drain.py);
    # aiohttp's own timeout (waited twice) only bounds what else is open: management calls, Amp relays.
    # keepalive_timeout doubles as the header timeout, and lingering bounds how long the unread rest
    # of a refused body is drained before the connection closes: see inbound.py.
    runner = web.AppRunner(app, handle_signals=True, shutdown_timeout=min(cfg.shutdown_grace_s, 1.0),
                           handler_cancellation=True, access_log=None,
                           keepalive_timeout=cfg.inbound.header_timeout_s, lingering_time=LINGER_S)  # fmt: skip
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    log.info("event loop: %s", loop_name(loop))
    prices: asyncio.Task[None] | None = None
    try:
        try:
            loop.run_until_complete(runner.setup())
        except (EventSocketRefused, StorageUnavailable) as e:
            print(f"proxypal-engine: {e}", file=sys.stderr)
            return 2
        try:
            site = CappedTCPSite(runner, host, port, max_connections=cfg.inbound.max_connections,
                                 reuse_port=worker is not None)  # fmt: skip
            loop.run_until_complete(site.start())
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                print(f"proxypal-engine: port {port} is in use by {port_owner(port)}", file=sys.stderr)
            else:
                print(f"proxypal-engine: cannot listen on {host}:{port}: {e.strerror}", file=sys.stderr)
            return 3
        if worker is not None:
            # Listening first, then the hello through the fan-in: the supervisor counts this worker as up.
            loop.run_until_complete(app[ENGINE].bus.forward_to(worker.fan_in))
            loop.add_signal_handler(signal.SIGHUP, _reload_soon, app)
        who = "" if worker is None else f" (worker {worker.index}, pid {os.getpid()})"
        print(f"proxypal-engine listening on http://{host}:{port}{who}", file=sys.stderr, flush=True)
        # After listening: start-up does not wait for prices (price_start.py).
        prices = loop.create_task(open_prices(paths.state_dir, app[ENGINE].runtime), name="prices")
        freeze_soon(loop)  # heap.py: later collections skip the start-up objects
        loop.run_forever()
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        if prices is not None:
            prices.cancel()
            loop.run_until_complete(asyncio.gather(prices, return_exceptions=True))
        loop.run_until_complete(TABLE.close())
        loop.run_until_complete(runner.cleanup())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        stop_logging()
    return 0
