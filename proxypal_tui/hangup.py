"""Leaving when the terminal goes away: SIGHUP, SIGTERM, or a terminal that closed without a signal.

Why this is more than a signal handler: when a terminal hangs up, the kernel (or the shell) sends
SIGHUP *and* SIGCONT. Textual's Linux driver treats SIGCONT as "resumed from Ctrl+Z" and restarts its
output thread on the dead terminal; that thread dies on EIO, and the UI's next writes block the event
loop for good, so even SIGTERM was never handled. The guard therefore

- swaps the dead terminal for /dev/null, so Textual's own orderly shutdown runs to the end;
- does not pass on a SIGCONT that came with a hang-up;
- notices a terminal that closed without any signal (EOF/EIO: POLLHUP on the tty);
- asks the app to leave, as `q` would, with an exit code that says why;
- ends the process anyway if that orderly exit has not finished in time. An engine started with
  `--exit-with-parent` then stops itself, gracefully.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from types import FrameType
from typing import Any

STDIO = (0, 1, 2)
_LOST = select.POLLHUP | select.POLLERR


class ExitCode(IntEnum):
    """`proxypal-tui` exit statuses; the signal ones follow the shell's 128 + signal number."""

    OK = 0  # quit or detach
    USAGE = 2  # bad arguments or settings
    HANGUP = 129  # SIGHUP, or the terminal closed (end of input, I/O error)
    TERMINATED = 143  # SIGTERM


EXIT_CODES_HELP = """exit status:
  0    quit (q) or detach (ctrl+d)
  2    bad arguments or settings
  129  the terminal went away (SIGHUP, or the terminal closed: end of input / I/O error)
  143  SIGTERM
  On 129 and 143 the TUI leaves as on `q`: it stops the engine it started (not with --keep-engine)."""


@dataclass(frozen=True)
class Departure:
    """Why the TUI leaves without being asked from its own keyboard."""

    code: ExitCode
    reason: str  # the word sent to the engine: hangup, terminal_lost, terminated


HANGUP = Departure(ExitCode.HANGUP, "hangup")
TERMINAL_LOST = Departure(ExitCode.HANGUP, "terminal_lost")
TERMINATED = Departure(ExitCode.TERMINATED, "terminated")


def _terminal_fds() -> list[int]:
    return [fd for fd in STDIO if _isatty(fd)]


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


class TerminalGuard:
    """Turns SIGHUP, SIGTERM and a vanished terminal into one call of `on_leave`, at most once.

    Install it from the main thread with the app's loop running. `on_leave` runs on that loop.
    `deadline_s` bounds the orderly exit that follows; after it the process exits with the code.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_leave: Callable[[Departure], None],
        deadline_s: float,
    ) -> None:
        self._loop = loop
        self._on_leave = on_leave
        self._deadline_s = deadline_s
        self._fds: list[int] = []
        self._previous: dict[int, Any] = {}
        self._left = threading.Lock()  # acquired once, never released: the first departure wins
        self._released = threading.Lock()  # the same for swapping out the terminal
        self._watcher: threading.Thread | None = None
        self._deadline: threading.Thread | None = None

    # ---- install -------------------------------------------------------------------------------

    def install(self) -> None:
        """Take SIGHUP, SIGTERM and SIGCONT, and watch the terminal, for the rest of the process.

        There is no uninstall: the terminal can still hang up while Textual restores it after the
        app has unmounted, and the watcher is a daemon thread that ends with the process.
        """
        self._fds = _terminal_fds()
        for sig, handler in (
            (signal.SIGHUP, self._on_hangup_signal),
            (signal.SIGTERM, self._on_term_signal),
            (signal.SIGCONT, self._on_continue_signal),
        ):
            self._previous[sig] = signal.signal(sig, handler)
        if self._fds:
            self._watcher = threading.Thread(target=self._watch, name="proxypal-terminal-watch", daemon=True)
            self._watcher.start()

    # ---- the three ways in ----------------------------------------------------------------------

    def _on_hangup_signal(self, _sig: int, _frame: FrameType | None) -> None:
        if self.terminal_gone():
            self._release_terminal()
        self._leave(HANGUP)

    def _on_term_signal(self, _sig: int, _frame: FrameType | None) -> None:
        self._leave(TERMINATED)

    def _on_continue_signal(self, sig: int, frame: FrameType | None) -> None:
        """A SIGCONT that comes with a hang-up is not a resume: Textual must not restart on a dead tty."""
        if self._released.locked() or self.terminal_gone():
            self._release_terminal()
            return
        previous = self._previous.get(signal.SIGCONT)
        if callable(previous):
            previous(sig, frame)

    def _watch(self) -> None:
        poller = select.poll()
        for fd in self._fds:
            poller.register(fd, _LOST)  # POLLHUP/POLLERR only: reading stays Textual's job
        watched = set(self._fds)
        while watched:
            events = poller.poll()
            if any(mask & _LOST for fd, mask in events if fd in watched):
                self._release_terminal()
                self._leave(TERMINAL_LOST)
                return
            for fd, mask in events:
                if mask & select.POLLNVAL:  # closed under us: nothing left to watch there
                    poller.unregister(fd)
                    watched.discard(fd)

    # ---- what they do -------------------------------------------------------------------------

    def terminal_gone(self) -> bool:
        """True when a terminal we started on has hung up (a hung-up tty polls as HUP|ERR at once)."""
        if not self._fds:
            return False
        poller = select.poll()
        for fd in self._fds:
            poller.register(fd, _LOST)
        try:
            return any(mask & _LOST for _fd, mask in poller.poll(0))
        except OSError:
            return True

    def _release_terminal(self) -> None:
        """Point the terminal's fds at /dev/null: writes vanish and reads end at once, so Textual's
        threads finish. (Not a pipe nobody writes: Textual's reader may already have been told the
        old fd is readable, and would then block on the pipe for good.)"""
        if not self._released.acquire(blocking=False):
            return
        null = os.open(os.devnull, os.O_RDWR)
        try:
            for fd in self._fds:
                os.dup2(null, fd)
        finally:
            os.close(null)

    def _leave(self, departure: Departure) -> None:
        if not self._left.acquire(blocking=False):
            return
        self._arm_deadline(departure.code)
        with contextlib.suppress(RuntimeError):  # the loop already closed: the deadline ends the process
            self._loop.call_soon_threadsafe(self._on_leave, departure)

    def _arm_deadline(self, code: ExitCode) -> None:
        self._deadline = threading.Thread(
            target=exit_after, args=(self._deadline_s, int(code)), name="proxypal-exit-deadline", daemon=True
        )
        self._deadline.start()


def exit_after(seconds: float, code: int) -> None:
    """Last resort for a wedged exit: end the process without further cleanup.

    Runs in a daemon thread, so a normal exit that finishes first simply never gets here.
    """
    threading.Event().wait(seconds)
    os._exit(code)
