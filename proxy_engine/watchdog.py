"""Exit with the parent: an engine the TUI started must not outlive a TUI that was killed (SIGKILL, OOM).

`serve --exit-with-parent PID` starts a `ParentWatch`. It is a daemon thread rather than an asyncio
task so it needs no hook inside the server and covers the whole run, from before the event loop
exists to the last cleanup step. About once a second it asks whether the parent is still there
(one `getppid()` call when the parent is our direct parent, a psutil lookup otherwise). When the
parent is gone the engine sends itself SIGTERM, so the usual graceful shutdown runs: in-flight
streams drain and the ledger is flushed. If that shutdown hangs, SIGKILL follows after a while.

A parent that leaves on purpose (the TUI's detach key) writes a release note first
(`release_note(runtime_dir, engine_pid)`); a watch that finds the note keeps the engine running.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import psutil

log = logging.getLogger("proxy_engine.watchdog")

POLL_S = 1.0
HARD_STOP_AFTER_S = 120.0  # graceful shutdown is bounded by shutdown_grace_s; this only catches a hang


def release_note(runtime_dir: Path, engine_pid: int) -> Path:
    """The file a parent writes before it exits on purpose, so the engine it started keeps running."""
    return runtime_dir / f"engine-{engine_pid}.released"


def _terminate_self() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class ParentWatch:
    """Watches one parent process; calls `on_gone` once when it disappears (unless released)."""

    def __init__(
        self,
        parent_pid: int,
        runtime_dir: Path,
        *,
        poll_s: float = POLL_S,
        hard_stop_after_s: float = HARD_STOP_AFTER_S,
        on_gone: Callable[[], None] = _terminate_self,
        on_hang: Callable[[], None] = _kill_self,
    ) -> None:
        self.parent_pid = parent_pid
        self.note = release_note(runtime_dir, os.getpid())
        self.poll_s = poll_s
        self.hard_stop_after_s = hard_stop_after_s
        self._on_gone = on_gone
        self._on_hang = on_hang
        self._stop = threading.Event()
        self._direct = os.getppid() == parent_pid
        self._started_at = self._create_time(parent_pid)
        self._thread = threading.Thread(target=self._run, name="proxypal-parent-watch", daemon=True)

    @staticmethod
    def _create_time(pid: int) -> float | None:
        try:
            return psutil.Process(pid).create_time()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return None

    def parent_alive(self) -> bool:
        if self._direct:
            # An orphan is re-parented (to init or a subreaper): the cheapest exact test there is.
            return os.getppid() == self.parent_pid
        try:
            proc = psutil.Process(self.parent_pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return False
            # The same pid with another start time is a new process that reused the number.
            return self._started_at is None or proc.create_time() == self._started_at
        except psutil.NoSuchProcess:
            return False
        except psutil.AccessDenied:
            return True  # it exists; we just may not look at it

    def start(self) -> ParentWatch:
        if self._started_at is None and not self._direct:
            log.warning("parent process %d is already gone; stopping", self.parent_pid)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _released(self) -> bool:
        try:
            self.note.unlink()
        except FileNotFoundError:
            return False
        except OSError as e:
            log.warning("cannot remove the release note %s: %s", self.note, e)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            if self.parent_alive():
                continue
            if self._released():
                log.info("parent %d detached; the engine keeps running", self.parent_pid)
                return
            log.warning("parent %d is gone; shutting down", self.parent_pid)
            self._on_gone()
            if not self._stop.wait(self.hard_stop_after_s):
                log.error("graceful shutdown did not finish in %.0f s; killing the engine", self.hard_stop_after_s)
                self._on_hang()
            return
