"""`serve --workers N`: the process the TUI starts and stops, running N engine workers on one port.

Each worker is a whole engine (`serve --worker-index I`) that binds the port with SO_REUSEPORT,
so the kernel spreads connections over them. The supervisor:
- holds the port (bound, not listening, so it takes no connections) until every worker listens,
  which makes a port held by another program a clear error before anything starts;
- owns the one events socket and its hello; workers' events come in through a fan-in socket;
- seeds the shared budget spend map from the ledger (every worker writes its own rows to the
  same SQLite ledger, WAL with a busy timeout, and journals them in its own journal run);
- passes SIGHUP (reload) on to every worker, restarts a worker that died, and on SIGTERM
  stops them all gracefully. Workers watch it (`--exit-with-parent`): a killed supervisor
  takes its workers with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path

from proxy_engine.config import ConfigError, TeamConfig, load_config
from proxy_engine.events import EventBus, EventLogHandler, EventSocketRefused
from proxy_engine.logs import setup_logging, stop_logging
from proxy_engine.paths import Paths
from proxy_engine.runtime import build_runtime, open_bind_issue
from proxy_engine.storage.backend import Storage
from proxy_engine.storage.errors import StorageUnavailable
from proxy_engine.usage.budgets import BudgetTracker, period_start
from proxy_engine.usage.ledger import CostLedger
from proxy_engine.usage.shared_spend import SharedSpend
from proxy_engine.workers.fan_in import WorkerEventHub

log = logging.getLogger("proxy_engine.workers")
START_TIMEOUT_S = 60.0
MAX_CRASHES = 5  # within CRASH_WINDOW_S: then the engine stops rather than restarting forever
CRASH_WINDOW_S = 60.0


def _reserve(host: str, port: int) -> socket.socket:
    """Bind (no listen) with SO_REUSEPORT: the workers can bind too, a stranger's port is refused."""
    family, _, _, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(addr)
    except OSError:
        sock.close()
        raise
    return sock


def serve_workers(paths: Paths, host: str | None, port: int | None, count: int) -> int:
    if not hasattr(socket, "SO_REUSEPORT"):
        print("proxypal-engine: --workers needs SO_REUSEPORT, which this OS lacks", file=sys.stderr)
        return 2
    try:
        loaded = load_config(paths.config_file)
    except ConfigError as e:
        print(f"proxypal-engine: config refused:\n{e}", file=sys.stderr)
        return 2
    cfg = loaded.config
    host = host or cfg.host
    port = cfg.port if port is None else port
    paths.ensure()
    if open_bind_issue(build_runtime(loaded, host), host):
        print(f"proxypal-engine: refusing to bind {host}: a non-loopback address needs client keys "
              "(add `clients:` to the config)", file=sys.stderr)  # fmt: skip
        return 2
    try:
        reserved = _reserve(host, port)
    except OSError as e:
        from proxy_engine.server import port_owner

        if e.errno == errno.EADDRINUSE:
            print(f"proxypal-engine: port {port} is in use by {port_owner(port)}", file=sys.stderr)
        else:
            print(f"proxypal-engine: cannot listen on {host}:{port}: {e.strerror}", file=sys.stderr)
        return 3
    port = reserved.getsockname()[1]  # --port 0: the port the kernel chose, for every worker
    setup_logging(paths.log_dir, cfg.log_level)
    supervisor = WorkerSupervisor(paths, host, port, count, cfg.shutdown_grace_s, cfg.events.queue_size)
    supervisor.team = cfg.team  # team mode: the spend is seeded from PostgreSQL, and dead runs replayed into it
    sock = cfg.events.socket
    try:
        return asyncio.run(supervisor.run(reserved, sock))
    finally:
        reserved.close()
        stop_logging()


class WorkerSupervisor:
    def __init__(self, paths: Paths, host: str, port: int, count: int, grace_s: float, queue_size: int) -> None:
        self.paths, self.host, self.port, self.count = paths, host, port, count
        self.grace_s = grace_s
        self.bus = EventBus(queue_size)
        self.hub = WorkerEventHub(self.bus, f"{host}:{port}", str(paths.config_file))
        self.bus.hello = self.hub.hello
        self.fan_in = paths.runtime_dir / f"workers-{port}.sock"
        self.spend_file = paths.runtime_dir / f"spend-{port}.bin"
        self.procs: dict[int, asyncio.subprocess.Process] = {}  # worker index -> process
        self._stop = asyncio.Event()
        self._crashes: list[float] = []
        self.team: TeamConfig | None = None

    async def run(self, reserved: socket.socket, events_socket: str | None) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, self._signal_all, signal.SIGHUP)
        try:
            await self.bus.start(Path(events_socket) if events_socket else self.paths.events_socket(self.port))
        except EventSocketRefused as e:
            print(f"proxypal-engine: {e}", file=sys.stderr)
            return 2
        handler = EventLogHandler(self.bus, loop)  # the supervisor's own log lines (restarts) as `log` events
        logging.getLogger("proxy_engine").addHandler(handler)
        try:
            await self.hub.start(self.fan_in)
            await self._seed_spend()
            code = await self._start_all(reserved)
            if code:
                return code
            reserved.close()
            print(f"proxypal-engine listening on http://{self.host}:{self.port} ({self.count} workers, "
                  f"supervisor pid {os.getpid()})", file=sys.stderr, flush=True)  # fmt: skip
            log.info("%d workers listening on %s:%s", self.count, self.host, self.port)
            return await self._watch()
        finally:
            await self._stop_all()
            logging.getLogger("proxy_engine").removeHandler(handler)
            await self.hub.close()
            await self.bus.close()
            self.spend_file.unlink(missing_ok=True)

    async def _seed_spend(self) -> None:
        """Spend so far this day and month, once, from the ledger (replaying journals of dead runs)."""
        shared = await asyncio.to_thread(SharedSpend.create, self.spend_file, self.count + 1)
        storage = Storage.from_config(self.paths.ledger_file, self.team)
        await storage.open()
        ledger = CostLedger(self.paths.ledger_file, self.paths.data_dir / "journal", store=storage.ledger_store())
        await ledger.open()
        try:
            now = time.time()
            for period in ("day", "month"):
                start = period_start(period, now)
                try:
                    spend = await ledger.spend_by_client(start)
                except StorageUnavailable as e:  # PostgreSQL down: the rows not stored yet, and say so
                    log.error("budgets start without the stored spend: %s", e)
                    spend = ledger.pending_spend(start)
                BudgetTracker.seed(shared, period, start, spend)
        finally:
            await ledger.close()
            await storage.close()
            shared.close()

    def _command(self, index: int) -> list[str]:
        return [sys.executable, "-m", "proxy_engine", "--config", str(self.paths.config_file), "serve",
                "--host", self.host, "--port", str(self.port), "--exit-with-parent", str(os.getpid()),
                "--worker-index", str(index), "--fan-in", str(self.fan_in),
                "--spend-file", str(self.spend_file)]  # fmt: skip

    async def _spawn(self, index: int) -> None:
        # A session of its own: Ctrl+C (or a signal to our group) reaches the supervisor only, and each
        # worker gets exactly one SIGTERM, from it; a second signal mid-shutdown can wedge a worker.
        self.procs[index] = await asyncio.create_subprocess_exec(
            *self._command(index), stdin=asyncio.subprocess.DEVNULL, start_new_session=True
        )

    async def _start_all(self, reserved: socket.socket) -> int:
        """0 once every worker listens and has said hello; else the exit status of the first that failed."""
        for i in range(self.count):
            await self._spawn(i)
        deadline = time.monotonic() + START_TIMEOUT_S
        async with self.hub.joined:
            while len(self.hub.connected) < self.count:
                for p in self.procs.values():
                    if p.returncode is not None:
                        return p.returncode or 1
                if time.monotonic() > deadline:
                    print("proxypal-engine: the workers did not start in time", file=sys.stderr)
                    return 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.hub.joined.wait(), 0.2)
        return 0

    async def _watch(self) -> int:
        """Until SIGTERM: a worker that dies is restarted, unless workers keep dying."""
        stop = asyncio.create_task(self._stop.wait(), name="stop")
        try:
            while not self._stop.is_set():
                waits = {asyncio.create_task(p.wait(), name=f"worker-{i}"): i for i, p in self.procs.items()}
                done, _ = await asyncio.wait([stop, *waits], return_when=asyncio.FIRST_COMPLETED)
                for t in waits:
                    t.cancel()
                await asyncio.gather(*waits, return_exceptions=True)
                if self._stop.is_set():
                    break
                for t in done:
                    index = waits[t]
                    code = self.procs[index].returncode
                    now = time.monotonic()
                    self._crashes = [c for c in self._crashes if now - c < CRASH_WINDOW_S] + [now]
                    if len(self._crashes) > MAX_CRASHES:
                        log.error("workers keep exiting (%d in %.0f s); stopping the engine", len(self._crashes),
                                  CRASH_WINDOW_S)  # fmt: skip
                        return 1
                    log.error("worker %d exited with status %s; starting it again", index, code)
                    await asyncio.sleep(min(5.0, 0.5 * len(self._crashes)))
                    await self._spawn(index)
            return 0
        finally:
            stop.cancel()
            await asyncio.gather(stop, return_exceptions=True)

    def _signal_all(self, sig: int) -> None:
        for p in self.procs.values():
            if p.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(sig)

    async def _stop_all(self) -> None:
        """SIGTERM: each worker drains its streams and flushes its ledger rows; SIGKILL only for a hang."""
        self._signal_all(signal.SIGTERM)
        for index, p in self.procs.items():
            try:
                await asyncio.wait_for(p.wait(), self.grace_s + 10)
            except TimeoutError:
                log.error("worker %d did not stop in time; killing it", index)
                with contextlib.suppress(ProcessLookupError):
                    p.kill()
                await p.wait()
