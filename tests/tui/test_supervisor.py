"""Supervision with real processes and sockets: spawn, ready, crash/backoff/give-up, stop, attach, ports."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from proxy_engine.paths import Paths
from proxypal_tui.core.api import ManagementClient
from proxypal_tui.core.engine_state import Backoff, EngineState, EngineStatus
from proxypal_tui.core.supervisor import EngineSupervisor, SupervisorOptions
from tests.tui.conftest import scripted, wait_for

REPO = Path(__file__).resolve().parents[2]
FAKE = [sys.executable, "-m", "tests.tui.fake_engine_proc", "serve", "--config"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    def __init__(self) -> None:
        self.statuses: list[EngineStatus] = []
        self.events: list[dict[str, Any]] = []
        self.sup: EngineSupervisor | None = None

    def status(self, s: EngineStatus) -> None:
        self.statuses.append(s)

    def batch(self, events: list[dict[str, Any]]) -> None:
        self.events.extend(events)
        assert self.sup is not None
        asyncio.get_running_loop().call_soon(self.sup.pump.done)

    @property
    def states(self) -> list[EngineState]:
        return [s.state for s in self.statuses]

    @property
    def last(self) -> EngineStatus:
        return self.statuses[-1]


def write_config(paths: Paths, port: int) -> None:
    paths.config_file.write_text(f"port: {port}\nhost: 127.0.0.1\n")


def make(paths: Paths, mode: str = "ok", **opts: Any) -> tuple[EngineSupervisor, Recorder]:
    env = dict(os.environ, FAKE_ENGINE_MODE=mode, PYTHONPATH=str(REPO))
    options = SupervisorOptions(
        config_path=paths.config_file,
        paths=paths,
        command=[*FAKE, str(paths.config_file)],
        env=env,
        ready_timeout=15.0,
        stop_grace=2.0,
        backoff=Backoff(base=0.05, cap=0.2, max_crashes=3),
        relocate_delay=0.2,
        **opts,
    )
    rec = Recorder()
    sup = EngineSupervisor(options, rec.status, rec.batch)
    rec.sup = sup
    return sup, rec


@pytest.fixture
async def running() -> AsyncIterator[list[asyncio.Task[None]]]:
    tasks: list[asyncio.Task[None]] = []
    yield tasks
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_spawn_waits_for_hello_and_healthz_then_quit_stops_it(home: Paths, running: list) -> None:
    write_config(home, free_port())
    sup, rec = make(home)
    running.append(asyncio.ensure_future(sup.run()))
    await wait_for(lambda: rec.states and rec.last.state is EngineState.READY, within=20)
    assert rec.states[:2] == [EngineState.LOCATING, EngineState.STARTING]
    assert rec.last.owned and rec.last.pid == sup.process.pid
    assert rec.events[0]["type"] == "hello"  # readiness came with the snapshot
    assert len(rec.events[0]["snapshot"]["recent"]) == 5
    pid = sup.process.pid
    await sup.shutdown(stop_engine=True)
    assert rec.states[-2:] == [EngineState.STOPPING, EngineState.STOPPED]
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


async def test_repeated_crashes_back_off_then_give_up_with_last_log_lines(home: Paths, running: list) -> None:
    write_config(home, free_port())
    sup, rec = make(home, mode="crash")
    running.append(asyncio.ensure_future(sup.run()))
    await wait_for(lambda: rec.statuses and rec.last.state is EngineState.FAILED, within=20)
    crashed = [s for s in rec.statuses if s.state is EngineState.CRASHED]
    restarting = [s for s in rec.statuses if s.state is EngineState.RESTARTING]
    assert len(crashed) == 2 and [s.retry_in for s in restarting] == [0.05, 0.1]  # exponential
    assert "crashed 3 times" in rec.last.message and "exit code 3" in rec.last.message
    assert "fatal: boom while loading the config" in rec.last.log_tail
    # It stays down until asked: no fourth start.
    await asyncio.sleep(0.3)
    assert rec.states.count(EngineState.STARTING) == 3


async def test_crash_after_ready_restarts_and_reconnects_events(home: Paths, running: list) -> None:
    write_config(home, free_port())
    sup, rec = make(home, mode="crash_after")
    running.append(asyncio.ensure_future(sup.run()))
    await wait_for(lambda: rec.states.count(EngineState.READY) >= 2, within=30)
    ready = [s for s in rec.statuses if s.state is EngineState.READY]
    assert ready[0].pid != ready[1].pid
    crash = next(s for s in rec.statuses if s.state is EngineState.CRASHED)
    assert "exited with code 4" in crash.message and "fatal: lost my mind after start" in crash.log_tail
    assert [e["type"] for e in rec.events].count("hello") >= 2  # a fresh hello after the restart
    await sup.shutdown(stop_engine=True)


async def test_engine_ignoring_sigterm_is_killed_after_the_grace_period(home: Paths, running: list) -> None:
    write_config(home, free_port())
    sup, rec = make(home, mode="ignore_term")
    sup.opts.stop_grace = 0.3
    running.append(asyncio.ensure_future(sup.run()))
    await wait_for(lambda: rec.statuses and rec.last.state is EngineState.READY, within=20)
    proc = sup.process
    await sup.shutdown(stop_engine=True)
    assert proc.returncode == -9  # SIGKILL


async def test_detach_leaves_the_engine_running(home: Paths, running: list) -> None:
    port = free_port()
    write_config(home, port)
    sup, rec = make(home)
    running.append(asyncio.ensure_future(sup.run()))
    await wait_for(lambda: rec.statuses and rec.last.state is EngineState.READY, within=20)
    proc = sup.process
    await sup.shutdown(stop_engine=False)
    sup.kill_now()  # the interpreter-exit fallback must respect the detach too
    await asyncio.sleep(0.2)
    assert proc.returncode is None
    client = ManagementClient(f"http://127.0.0.1:{port}")
    assert (await client.healthz())["ok"] is True
    await client.close()
    await proc.stop(2.0)  # the test started it (through the supervisor): the test cleans up


async def test_attaches_to_an_engine_serving_this_config_and_never_stops_it(home: Paths, running: list) -> None:
    thread = scripted(home)
    try:
        sup, rec = make(home)
        running.append(asyncio.ensure_future(sup.run()))
        await wait_for(lambda: rec.statuses and rec.last.state is EngineState.READY, within=10)
        assert rec.last.owned is False and sup.process is None
        assert rec.last.uptime_s == 754.0  # the engine's own uptime, from /v0/status
        assert sup.request_stop() is False and sup.request_restart() is False
        await sup.shutdown(stop_engine=True)
        client = ManagementClient(f"http://127.0.0.1:{thread.engine.port}")
        assert (await client.healthz())["ok"] is True
        await client.close()
    finally:
        thread.stop()


async def test_lost_attached_engine_is_looked_for_again(home: Paths, running: list) -> None:
    thread = scripted(home)
    sup, rec = make(home, attach_only=True)
    running.append(asyncio.ensure_future(sup.run()))
    await wait_for(lambda: rec.statuses and rec.last.state is EngineState.READY, within=10)
    thread.stop()
    await wait_for(lambda: EngineState.DISCONNECTED in rec.states, within=10)
    await wait_for(lambda: rec.last.state is EngineState.STOPPED, within=10)
    assert "no engine serves this config" in rec.last.message
    await sup.shutdown(stop_engine=True)


async def test_port_held_by_another_program_is_reported_not_killed(home: Paths, running: list) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    write_config(home, port)
    # Something that accepts and hangs up: not an engine.
    listener.setblocking(False)
    sup, rec = make(home)
    running.append(asyncio.ensure_future(sup.run()))
    try:
        await wait_for(lambda: rec.statuses and rec.last.state is EngineState.BLOCKED, within=15)
        assert f"pid {os.getpid()}" in rec.last.message and psutil.Process().name() in rec.last.message
        assert sup.process is None  # nothing spawned
        assert listener.fileno() != -1 and port == listener.getsockname()[1]  # still ours, still open
    finally:
        await sup.shutdown(stop_engine=True)
        listener.close()


async def test_a_known_holder_is_reported_at_once_and_the_reason_stays(home: Paths, running: list) -> None:
    """A port held by a program that is no engine is named before the HTTP probes (which wait for their
    timeouts) end, and looking again while blocked never replaces the reason with "looking for an engine"."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    port = listener.getsockname()[1]
    write_config(home, port)
    probes: list[socket.socket] = []

    def probed() -> int:
        """Connections the supervisor made (accepted here and never answered, like a program that is no server)."""
        with contextlib.suppress(BlockingIOError):
            while True:
                probes.append(listener.accept()[0])
        return len(probes)

    class ProbeCounting(Recorder):
        """Counts the supervisor's connections at the moment it first says "blocked"."""

        probes_when_blocked: int | None = None

        def status(self, s: EngineStatus) -> None:
            if s.state is EngineState.BLOCKED and self.probes_when_blocked is None:
                self.probes_when_blocked = probed()
            super().status(s)

    options = make(home)[0].opts  # the usual options, with a recorder that counts
    rec = ProbeCounting()
    sup = rec.sup = EngineSupervisor(options, rec.status, rec.batch)
    running.append(asyncio.ensure_future(sup.run()))
    try:
        await wait_for(lambda: EngineState.BLOCKED in rec.states, within=15)
        # Said while the first probe still waited for an answer; without the early word the status probe
        # and then the /healthz probe would both have timed out first.
        assert rec.probes_when_blocked == 1
        await wait_for(lambda: probed() >= 6, within=30)  # three rounds of looking again
        assert rec.states == [EngineState.LOCATING, EngineState.BLOCKED], "the reason was said once and stayed"
        assert f"pid {os.getpid()}" in rec.last.message and "change `port:`" in rec.last.message
    finally:
        await sup.shutdown(stop_engine=True)
        for conn in probes:
            conn.close()
        listener.close()


async def test_port_held_by_an_engine_with_another_config(home: Paths, tmp_path: Path, running: list) -> None:
    thread = scripted(home)
    try:
        other = tmp_path / "other.yaml"
        other.write_text(f"port: {thread.engine.port}\n")
        options = dict(config_path=other)
        sup, rec = make(home)
        sup.opts.config_path = options["config_path"]
        running.append(asyncio.ensure_future(sup.run()))
        await wait_for(lambda: rec.statuses and rec.last.state is EngineState.BLOCKED, within=10)
        assert "held by a ProxyPal engine" in rec.last.message and str(home.config_file) in rec.last.message
        await sup.shutdown(stop_engine=True)
    finally:
        thread.stop()
