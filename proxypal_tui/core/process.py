"""The engine as a child process, and facts about other processes (psutil).

Only an engine this module started is ever signalled; a program holding the port
is identified by name and pid, never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import socket
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from proxypal_tui.core.api import connect_host

TAIL_LINES = 200


def engine_command(config_path: Path, parent_pid: int | None = None) -> list[str]:
    """`proxypal-engine serve --config PATH`, run with this interpreter so venvs just work.

    With `parent_pid` the engine shuts itself down when that process dies, even by SIGKILL.
    """
    argv = [sys.executable, "-m", "proxy_engine", "serve", "--config", str(config_path)]
    if parent_pid is not None:
        argv += ["--exit-with-parent", str(parent_pid)]
    return argv


def release_note(runtime_dir: Path, engine_pid: int) -> Path:
    """Where a detaching TUI leaves word that its engine should keep running.

    The same name as `proxy_engine.watchdog.release_note` (a test checks they agree); the TUI
    may not import engine modules beyond the shared schema ones, so the name lives in both.
    """
    return runtime_dir / f"engine-{engine_pid}.released"


class EngineProcess:
    """A started engine: its output is drained into a bounded tail so pipes never block it."""

    def __init__(self, proc: asyncio.subprocess.Process, on_line: Callable[[str], None] | None = None) -> None:
        self.proc = proc
        self.pid = proc.pid
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._on_line = on_line
        self._readers = [
            asyncio.ensure_future(self._drain(stream)) for stream in (proc.stdout, proc.stderr) if stream is not None
        ]

    @classmethod
    async def spawn(
        cls, argv: list[str], env: dict[str, str] | None = None, on_line: Callable[[str], None] | None = None
    ) -> EngineProcess:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            # Own process group: terminal signals (Ctrl+C, SIGHUP) reach the TUI, which decides.
            start_new_session=True,
        )
        return cls(proc, on_line)

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line longer than the stream limit: skip it, keep draining
                continue
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip()
            self.tail.append(line)
            if self._on_line is not None:
                self._on_line(line)

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    async def wait(self) -> int:
        code = await self.proc.wait()
        # Let the readers collect the last words (a traceback) before anyone reads the tail.
        await asyncio.wait(self._readers, timeout=1.0)
        return code

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    async def stop(self, grace: float) -> int:
        """SIGTERM, then SIGKILL after `grace` seconds. Returns the exit code."""
        if self.proc.returncode is None:
            self._signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), grace)
            except TimeoutError:
                self._signal(signal.SIGKILL)
                await self.proc.wait()
        await asyncio.wait(self._readers, timeout=1.0)
        for task in self._readers:
            task.cancel()
        return self.proc.returncode if self.proc.returncode is not None else -1

    def release(self, runtime_dir: Path) -> None:
        """Let the engine outlive us: it was started with --exit-with-parent and would follow us out."""
        if self.proc.returncode is None:
            note = release_note(runtime_dir, self.pid)
            note.write_text(f"{os.getpid()}\n", encoding="utf-8")
            os.chmod(note, 0o600)

    def kill_now(self) -> None:
        """Last-resort synchronous stop (interpreter exit with the engine still running)."""
        if self.proc.returncode is None:
            self._signal(signal.SIGKILL)


@dataclass(frozen=True)
class PortHolder:
    pid: int | None
    name: str

    def describe(self) -> str:
        return f"{self.name} (pid {self.pid})" if self.pid else self.name


def port_is_free(host: str, port: int) -> bool:
    """Try to bind like the engine would; SO_REUSEADDR so TIME_WAIT leftovers don't count."""
    if port == 0:
        return True
    h = connect_host(host)
    family = socket.AF_INET6 if ":" in h else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((h, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def port_holder(port: int) -> PortHolder:
    """Who listens on `port`: name and pid when the OS lets us see them."""
    try:
        conns = psutil.net_connections(kind="inet")
    except (psutil.AccessDenied, PermissionError):
        return PortHolder(None, "another program (not visible to this user)")
    for conn in conns:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            if conn.pid is None:
                return PortHolder(None, "another program (not visible to this user)")
            try:
                return PortHolder(conn.pid, psutil.Process(conn.pid).name())
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                return PortHolder(conn.pid, "another program")
    return PortHolder(None, "another program")


def runs_engine(pid: int) -> bool:
    """Does that process run a ProxyPal engine (so its HTTP answer is worth waiting for)? Unknown counts as yes."""
    try:
        argv = " ".join(psutil.Process(pid).cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return True
    return "proxy_engine" in argv or "proxypal-engine" in argv


@dataclass(frozen=True)
class ProcessUsage:
    cpu_percent: float
    rss_bytes: int


class ProcessWatch:
    """CPU% between calls and RSS of one pid and its children (the workers of `serve --workers N`);
    None when it is gone or not ours to see."""

    def __init__(self) -> None:
        self._proc: psutil.Process | None = None
        self._children: dict[int, psutil.Process] = {}

    def sample(self, pid: int | None) -> ProcessUsage | None:
        if pid is None:
            self._proc = None
            return None
        try:
            if self._proc is None or self._proc.pid != pid:
                self._proc = psutil.Process(pid)
                self._proc.cpu_percent(None)  # prime: the first reading is always 0
                self._children = {}
            with self._proc.oneshot():
                usage = ProcessUsage(self._proc.cpu_percent(None), self._proc.memory_info().rss)
            children = self._proc.children(recursive=True)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            self._proc = None
            return None
        return self._with_children(usage, children)

    def _with_children(self, usage: ProcessUsage, children: list[psutil.Process]) -> ProcessUsage:
        """A child seen for the first time counts from the next sample (its CPU% needs a first reading)."""
        cpu, rss, known = usage.cpu_percent, usage.rss_bytes, {}
        for child in children:
            proc = self._children.get(child.pid, child)
            try:
                with proc.oneshot():
                    share = proc.cpu_percent(None)
                    rss += proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            cpu += share if child.pid in self._children else 0.0
            known[child.pid] = proc
        self._children = known
        return ProcessUsage(cpu, rss)
