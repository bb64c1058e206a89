"""Engine supervision: attach or spawn, wait for readiness, follow events, restart on crashes.

One loop owns the engine's whole life so its states can never interleave:
locate -> (attach | spawn) -> wait for `hello` + `/healthz` -> follow events ->
(crash -> backoff -> again | lost -> look again | stop | restart | close).
Status changes and event batches leave through callbacks; the app turns them into Messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from proxy_engine.paths import Paths
from proxy_engine.protocol import Hello
from proxypal_tui.core.api import ApiError, ManagementClient, base_url
from proxypal_tui.core.config_view import listen_settings
from proxypal_tui.core.engine_state import Backoff, EngineState, EngineStatus
from proxypal_tui.core.events import EventPump, EventStream
from proxypal_tui.core.process import EngineProcess, engine_command, port_holder, port_is_free, runs_engine

CRASH_TAIL = 15
PROBE_TIMEOUT = 1.5  # is anything answering on the port? A live engine answers in milliseconds
ENGINE_ANSWERS_WITHIN = 0.25  # a port holder that has not answered by then is reported while the probe goes on


def blocked_message(port: int, holder: str) -> str:
    return f"port {port} is held by {holder}; change `port:` or stop it"


@dataclass
class SupervisorOptions:
    config_path: Path
    paths: Paths
    attach_only: bool = False
    exit_with_parent: bool = True  # the engine we start follows this process out (off for --keep-engine)
    command: list[str] | None = None
    env: dict[str, str] | None = None
    ready_timeout: float = 30.0
    attach_timeout: float = 5.0
    stop_grace: float = 5.0
    backoff: Backoff = field(default_factory=Backoff)
    poll: float = 0.1
    relocate_delay: float = 2.0
    clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class _Plan:
    kind: str  # "attach" | "spawn" | "wait"
    socket_path: Path | None = None
    base: str = ""
    status: EngineStatus | None = None
    delay: float = 0.0


class EngineSupervisor:
    def __init__(
        self,
        options: SupervisorOptions,
        on_status: Callable[[EngineStatus], None],
        on_events: Callable[[list[dict[str, Any]]], None],
        on_output: Callable[[str], None] | None = None,
    ) -> None:
        self.opts = options
        self._on_status = on_status
        self._on_output = on_output
        self.pump = EventPump(on_events)
        self.status = EngineStatus(EngineState.LOCATING, config_path=str(options.config_path))
        self.process: EngineProcess | None = None
        self.api: ManagementClient | None = None
        self._want_running = True
        self._restart = False
        self._closing = False
        self._wake = asyncio.Event()
        self._crashes = 0
        self.detached = False
        self._background: set[asyncio.Task[Any]] = set()

    # ---- controls (called from the UI) ------------------------------------------------------

    def request_start(self) -> None:
        self._want_running = True
        self._crashes = 0
        self._wake.set()

    def request_stop(self) -> bool:
        """Stop the engine we started. An attached engine is not ours to stop."""
        if not self.status.owned:
            return False
        self._want_running = False
        self._wake.set()
        return True

    def request_restart(self) -> bool:
        """Restart our engine, or start one after a stop or give-up. An attached engine is left alone."""
        if self.status.state is EngineState.READY and not self.status.owned:
            return False
        self._restart = True
        self._want_running = True
        self._crashes = 0
        self._wake.set()
        return True

    async def shutdown(self, stop_engine: bool, leaving_reason: str | None = None) -> None:
        """Leave: stop our engine (SIGTERM, then SIGKILL after the grace period) unless detaching.

        With `leaving_reason` (the TUI leaves unasked: hang-up, SIGTERM) the engine is told first,
        so its log says why it stops or stays.
        """
        self._closing = True
        self.detached = not stop_engine
        self._wake.set()
        proc = self.process
        if leaving_reason is not None:
            ours_running = proc is not None and proc.returncode is None
            await self._say_leaving(leaving_reason, stopping=stop_engine and ours_running)
        if proc is not None and proc.returncode is None and stop_engine:
            self._publish(EngineState.STOPPING, message="stopping the engine")
            await proc.stop(self.opts.stop_grace)
            self._publish(EngineState.STOPPED, pid=None, message="engine stopped")
        elif proc is not None and proc.returncode is None and self.opts.exit_with_parent:
            try:
                proc.release(self.opts.paths.runtime_dir)
            except OSError as e:
                self._publish(self.status.state, message=f"could not detach from the engine: {e}")
        await self._close_clients()

    async def _say_leaving(self, reason: str, stopping: bool) -> None:
        api = self.api
        if api is None:
            return
        try:
            await api.say_leaving(reason, os.getpid(), stopping)
        except ApiError as e:  # the goodbye is a courtesy; leaving must not wait on a busy engine
            self._publish(self.status.state, message=f"could not tell the engine why we leave: {e}")

    def kill_now(self) -> None:
        """Synchronous last resort at interpreter exit (never after a detach)."""
        if self.process is not None and not self.detached:
            self.process.kill_now()

    # ---- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """The loop; whichever way it ends (close, cancellation), its HTTP sessions are closed."""
        try:
            while not self._closing:
                if not self._want_running:
                    await self._wait_wake(None)
                    continue
                plan = await self._locate()
                if plan.kind == "wait":
                    await self._wait_wake(plan.delay)
                    continue
                if plan.kind == "spawn" and not await self._spawn():
                    continue
                outcome = await self._follow(plan)
                await self._after(outcome)
        finally:
            await self._close_clients()

    async def _close_clients(self) -> None:
        api, self.api = self.api, None
        if api is not None:
            await api.close()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _wait_wake(self, delay: float | None) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)

    def _publish(self, state: EngineState, **changes: Any) -> None:
        self.status = replace(self.status, state=state, **changes)
        self._on_status(self.status)

    def _listen_config(self) -> tuple[str, int, Path | None]:
        """Host, port and socket override from the config file, tolerating a broken file."""
        return listen_settings(self.opts.config_path)

    def _client(self, base: str) -> ManagementClient:
        if self.api is None or self.api.base != base:
            old = self.api
            self.api = ManagementClient(base, self.opts.paths.management_key_file)
            if old is not None:
                task = asyncio.ensure_future(old.close())
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        return self.api

    async def _locate(self) -> _Plan:
        host, port, sock = self._listen_config()
        base = base_url(host, port)
        predicted = sock or self.opts.paths.events_socket(port)
        if self.process is not None and self.process.returncode is None:
            return _Plan("attach", predicted, base)  # our engine still runs: just reconnect
        if port == 0:
            return _Plan("spawn", predicted, "")
        holder = None if port_is_free(host, port) else port_holder(port)
        suspect = holder is not None and holder.pid is not None and not runs_engine(holder.pid)
        if self.status.state is not EngineState.BLOCKED:  # while blocked, the reason stays on screen
            self._publish(EngineState.LOCATING, message=f"looking for an engine on {host}:{port}", owned=False)
        client = self._client(base)
        probe = asyncio.ensure_future(client.status(limit=PROBE_TIMEOUT))
        if suspect and holder is not None:
            # A program that is no engine (by its command line) holds the port: unless it answers like an
            # engine at once, say who it is now rather than after the probes' timeouts.
            done, _ = await asyncio.wait({probe}, timeout=ENGINE_ANSWERS_WITHIN)
            if not done:
                self._publish_blocked(blocked_message(port, holder.describe()))
        try:
            st = await probe
        except ApiError as e:
            if e.status is None and port_is_free(host, port):
                if self.opts.attach_only:
                    return self._wait(EngineState.STOPPED, f"no engine serves this config on {host}:{port}")
                return _Plan("spawn", predicted, base)
            return await self._blocked(port, client)
        if not isinstance(st, dict) or not _same_file(st.get("config_path"), self.opts.config_path):
            other = st.get("config_path") if isinstance(st, dict) else None
            pid = st.get("pid") if isinstance(st, dict) else None
            return self._wait(
                EngineState.BLOCKED, f"port {port} is held by a ProxyPal engine (pid {pid}) serving {other}"
            )
        path = Path(st.get("events_socket") or predicted)
        return _Plan("attach", path, base)

    async def _blocked(self, port: int, client: ManagementClient) -> _Plan:
        holder = port_holder(port)
        try:
            await client.healthz(limit=PROBE_TIMEOUT)
            what = f"another ProxyPal engine, {holder.describe()}"
        except ApiError:
            what = holder.describe()
        return self._wait(EngineState.BLOCKED, blocked_message(port, what))

    def _wait(self, state: EngineState, message: str) -> _Plan:
        if state is EngineState.BLOCKED:
            self._publish_blocked(message)
        else:
            self._publish(state, message=message, pid=None, owned=False, retry_in=self.opts.relocate_delay)
        return _Plan("wait", delay=self.opts.relocate_delay)

    def _publish_blocked(self, message: str) -> None:
        """Once per reason: looking again finds the same holder, and the screen already says so."""
        if self.status.state is EngineState.BLOCKED and self.status.message == message:
            return
        self._publish(EngineState.BLOCKED, message=message, pid=None, owned=False, retry_in=self.opts.relocate_delay)

    async def _spawn(self) -> bool:
        parent = os.getpid() if self.opts.exit_with_parent else None
        argv = self.opts.command or engine_command(self.opts.config_path, parent)
        env = self.opts.env if self.opts.env is not None else dict(os.environ)
        try:
            self.process = await EngineProcess.spawn(argv, env, self._on_output)
        except OSError as e:
            self._publish(EngineState.FAILED, message=f"cannot start the engine: {e}", owned=False)
            self._want_running = False
            return False
        self._restart = False
        self._publish(
            EngineState.STARTING,
            owned=True,
            pid=self.process.pid,
            message="starting the engine",
            retry_in=None,
        )
        return True

    async def _follow(self, plan: _Plan) -> str:
        """Connect, wait for readiness, then follow events until something ends the session."""
        owned = self.process is not None and self.process.returncode is None
        timeout = self.opts.ready_timeout if owned else self.opts.attach_timeout
        deadline = self.opts.clock() + timeout
        hello: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        reader = asyncio.ensure_future(self._read_events(plan.socket_path, hello, deadline))
        waits: dict[str, asyncio.Future[Any]] = {"hello": hello, "reader": reader}
        try:
            first = await self._race(waits, owned, timeout)
            if first != "hello":
                return self._not_ready(first, owned)
            ready = await self._check_health(plan.base, hello.result(), owned, deadline)
            if ready != "ok":
                return ready
            ready_at = self.opts.clock()
            outcome = await self._race({"reader": reader}, owned, None)
            if outcome == "crashed" and self.opts.clock() - ready_at >= self.opts.backoff.stable_after:
                self._crashes = 0
            return outcome
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await reader

    async def _race(self, waits: dict[str, asyncio.Future[Any]], owned: bool, limit: float | None) -> str:
        """Name of the first thing to finish: a wait, 'crashed', a control reason or 'timeout'."""
        tasks = dict(waits)
        if owned and self.process is not None:
            tasks["crashed"] = asyncio.ensure_future(self.process.wait())
        try:
            while True:
                wake = asyncio.ensure_future(self._wake.wait())
                try:
                    done, _ = await asyncio.wait(
                        [*tasks.values(), wake], timeout=limit, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    wake.cancel()
                if self._closing:
                    return "closing"
                if not done:
                    return "timeout"
                for name in ("crashed", *waits):
                    if tasks.get(name) in done:
                        return name
                self._wake.clear()
                reason = self._wake_reason()
                if reason != "wake":
                    return reason
        finally:
            crashed = tasks.get("crashed")
            if crashed is not None and not crashed.done():
                crashed.cancel()

    def _wake_reason(self) -> str:
        if self._closing:
            return "closing"
        if self._restart:
            return "restart"
        return "stop" if not self._want_running else "wake"

    def _not_ready(self, first: str, owned: bool) -> str:
        if first in ("crashed", "closing", "restart", "stop"):
            return first
        if owned:
            why = "did not say hello in time" if first == "timeout" else "closed its event socket before hello"
            self._publish(self.status.state, message=f"the engine {why}")
            return "unready"
        return "lost"

    async def _read_events(self, path: Path | None, hello: asyncio.Future[dict[str, Any]], deadline: float) -> None:
        stream = EventStream(path or "")
        while True:
            try:
                await stream.connect()
                await stream.ask_team()
                break
            except (OSError, TimeoutError):
                if self.opts.clock() > deadline:
                    raise
                await asyncio.sleep(self.opts.poll)
        try:
            async for batch in stream.batches():
                for ev in batch:
                    if ev.get("type") == "hello" and not hello.done():
                        hello.set_result(ev)
                self.pump.push(batch)
        finally:
            await stream.close()

    async def _check_health(self, base: str, hello_event: dict[str, Any], owned: bool, deadline: float) -> str:
        hello = Hello.from_dict(hello_event)
        listen = hello.listen
        if not base and ":" in listen:  # port 0 in the config: only the engine knows its port
            host, _, port = listen.rpartition(":")
            base = base_url(host.strip("[]"), int(port))
        client = self._client(base)
        while True:
            try:
                await client.healthz()
                break
            except ApiError:
                if self.opts.clock() > deadline:
                    return "unready" if owned else "lost"
                await asyncio.sleep(self.opts.poll)
        uptime = 0.0
        with contextlib.suppress(ApiError, TypeError, ValueError):
            st = await client.status()
            if isinstance(st, dict) and st.get("uptime_s") is not None:
                uptime = float(st["uptime_s"])
        self._publish(
            EngineState.READY,
            owned=owned,
            pid=hello.pid or None,
            listen=listen or None,
            version=hello.version or None,
            uptime_s=uptime,
            message="attached to a running engine" if not owned else "engine ready",
            log_tail=(),
            retry_in=None,
        )
        return "ok"

    async def _after(self, outcome: str) -> None:
        proc = self.process
        if self._closing:
            return
        if outcome in ("crashed", "unready") and proc is not None:
            if outcome == "unready":
                await proc.stop(self.opts.stop_grace)
            await self._crashed(proc)
        elif outcome == "lost":
            self._publish(EngineState.DISCONNECTED, message="lost the engine; looking again", pid=None)
            await self._wait_wake(self.opts.relocate_delay)
        elif outcome in ("stop", "restart") and proc is not None and proc.returncode is None:
            self._publish(EngineState.STOPPING, message="stopping the engine")
            await proc.stop(self.opts.stop_grace)
            self.process = None
            self._publish(EngineState.STOPPED, pid=None, message="engine stopped", uptime_s=None)
        elif outcome == "reader" and proc is not None:
            # The socket closed under our engine: either it is dying (a crash) or it dropped us.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 1.0)
            if proc.returncode is not None:
                await self._crashed(proc)
            else:
                self._publish(EngineState.DISCONNECTED, message="event socket closed; reconnecting")
        elif outcome == "reader":
            self._publish(EngineState.DISCONNECTED, message="lost the engine; looking again", pid=None)
            await self._wait_wake(self.opts.relocate_delay)
        self._restart = False

    async def _crashed(self, proc: EngineProcess) -> None:
        code = await proc.wait()
        self.process = None
        self._crashes += 1
        tail = tuple(list(proc.tail)[-CRASH_TAIL:])
        b = self.opts.backoff
        if self._crashes >= b.max_crashes:
            self._want_running = False
            last = f"last exit code {code}" if code >= 0 else f"last {exit_words(code)}"
            msg = f"the engine crashed {self._crashes} times in a row ({last}); gave up"
            self._publish(EngineState.FAILED, message=msg, log_tail=tail, crashes=self._crashes, pid=None)
            return
        delay = b.delay(self._crashes)
        self._publish(
            EngineState.CRASHED,
            message=f"the engine {exit_words(code)}",
            log_tail=tail,
            crashes=self._crashes,
        )
        msg = f"crash {self._crashes}/{b.max_crashes}: restarting in {delay:.1f}s"
        self._publish(EngineState.RESTARTING, message=msg, retry_in=delay, pid=None, uptime_s=None)
        await self._wait_wake(delay)


def exit_words(code: int) -> str:
    """How a process ended, as a person reads it: "was killed by SIGKILL (signal 9)" or "exited with code 3"."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "an unknown signal"
        return f"was killed by {name} (signal {-code})"
    return f"exited with code {code}"


def _same_file(reported: Any, ours: Path) -> bool:
    if not reported:
        return False
    theirs = Path(str(reported))
    try:
        return theirs.resolve() == ours.resolve() or (theirs.exists() and theirs.samefile(ours))
    except OSError:
        return False
