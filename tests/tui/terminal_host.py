"""Hosts for the real `proxypal-tui` in a real terminal: a plain pseudo-terminal, or a tmux session.

Both give the TUI a fresh PROXYPAL_HOME whose config points at a fake upstream, find the engine it
starts, and can make its terminal go away the way users lose theirs.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]
TUI = [sys.executable, "-m", "proxypal_tui"]
# The child makes the pty its controlling terminal, then becomes the TUI (same pid).
WITH_CTTY = "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); os.execv(sys.argv[1], sys.argv[1:])"
ROWS, COLS = 30, 100
_ESCAPES = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|[ -/]*[0-~])")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until(predicate: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def prepare_home(home: Path, upstream_base: str, upstream_key: str) -> tuple[dict[str, str], int]:
    """A private PROXYPAL_HOME with a config for one fake OpenAI upstream; the env and the proxy port."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    port = free_port()
    config = home / "config.yaml"
    config.write_text(
        f"port: {port}\nhost: 127.0.0.1\n"
        f'providers:\n  openai: {{base_url: "{upstream_base}", api_key: env:UPSTREAM_KEY}}\n'
    )
    os.chmod(config, 0o600)
    env = dict(
        os.environ,
        PROXYPAL_HOME=str(home),
        PYTHONPATH=str(REPO),
        UPSTREAM_KEY=upstream_key,
        PROXYPAL_SECRET_BACKEND="file",
        PROXYPAL_PASSPHRASE="hangup-test-passphrase",
        TERM="xterm-256color",
    )
    for name in ("PROXYPAL_CONFIG", "TMUX", "TMUX_PANE", "TEXTUAL_DRIVER"):
        env.pop(name, None)
    return env, port


def engine_child(tui_pid: int) -> int | None:
    """The engine this TUI started (its child running proxy_engine), if it has one yet."""
    try:
        children = psutil.Process(tui_pid).children()
    except psutil.NoSuchProcess:
        return None
    for child in children:
        try:
            if "proxy_engine" in child.cmdline():
                return child.pid
        except psutil.NoSuchProcess:
            continue
    return None


class PtyHost:
    """`proxypal-tui` on a pseudo-terminal this test owns; closing the master is the hang-up."""

    def __init__(self, env: dict[str, str], *args: str, controlling: bool = True) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        argv = [sys.executable, "-c", WITH_CTTY, *TUI, *args] if controlling else [*TUI, *args]
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO, start_new_session=True
        )
        os.close(slave)
        self.output = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._drain, name="pty-drain", daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        """Read everything the TUI writes (a full pty would block it); stop before the master closes."""
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self.output += data

    def screen_text(self) -> str:
        with self._lock:
            raw = bytes(self.output)
        return _ESCAPES.sub(b"", raw).decode("utf-8", "replace")

    def raw_output(self) -> bytes:
        with self._lock:
            return bytes(self.output)

    def close_terminal(self) -> None:
        """Close the master side, as a terminal emulator or sshd does when its window or link goes away."""
        self._stop.set()
        self._reader.join()
        os.close(self.master)
        self.master = -1

    def stop_reading(self) -> None:
        self._stop.set()
        self._reader.join()

    def cleanup(self, *pids: int) -> None:
        """Kill what a failed test left behind: only this host's processes."""
        for pid in (self.proc.pid, *pids):
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait(5)
        if self.master != -1:
            self.stop_reading()
            os.close(self.master)
            self.master = -1


class TmuxHost:
    """`proxypal-tui` typed into an interactive shell in a tmux session on a private tmux server."""

    def __init__(self, env: dict[str, str], socket_path: Path, *args: str, cols: int = COLS, rows: int = ROWS) -> None:
        self.env = env
        self.socket = socket_path
        self.tmux("new-session", "-d", "-s", "pp", "-x", str(cols), "-y", str(rows), "bash --norc --noprofile -i")
        self.shell_pid = int(self.tmux("display-message", "-p", "-t", "pp", "#{pane_pid}").strip())
        command = " ".join([*TUI, *args])
        self.tmux("send-keys", "-t", "pp", f"cd {REPO} && {command}", "Enter")

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", str(self.socket), "-f", "/dev/null", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=10,
        )
        if done.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {done.stderr.strip()}")
        return done.stdout

    def tui_pid(self) -> int | None:
        """The shell's one child: the command typed into it."""
        try:
            children = psutil.Process(self.shell_pid).children()
        except psutil.NoSuchProcess:
            return None
        return children[0].pid if len(children) == 1 else None

    def screen_text(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "pp")

    def press(self, *keys: str) -> None:
        """tmux key names, one keystroke each: "Escape", "C-s", "Enter", "d"."""
        for key in keys:
            self.tmux("send-keys", "-t", "pp", key)

    def type_text(self, text: str) -> None:
        """Literal text, as if typed."""
        self.tmux("send-keys", "-t", "pp", "-l", text)

    def wait_for(self, needle: str, within: float) -> str:
        """The screen once it shows `needle`; fails with the screen as it is when it never does."""
        if not wait_until(lambda: needle in self.screen_text(), within=within):
            raise AssertionError(f"{needle!r} never showed:\n{self.screen_text()}")
        return self.screen_text()

    def kill_session(self) -> None:
        self.tmux("kill-session", "-t", "pp")

    def cleanup(self, *pids: int) -> None:
        for pid in pids:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
        subprocess.run(["tmux", "-S", str(self.socket), "kill-server"], capture_output=True, timeout=10)
