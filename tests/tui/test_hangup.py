"""The TUI leaves cleanly when its terminal goes away (issue #18): SIGHUP, a closed pty, tmux, SIGTERM.

Each test runs the real `proxypal-tui` in a real terminal with a fresh PROXYPAL_HOME whose config points
at a fake OpenAI upstream, waits for the status bar to say the engine it started is ready, sends
requests through that engine, and then takes the terminal away. Within seconds no TUI and no engine
may be left, the ledger must hold the requests, and the engine log must say why it stopped.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from proxypal_tui.hangup import ExitCode
from tests.fakes import FakeOpenAI, FakeServerThread
from tests.tui.terminal_host import REPO, PtyHost, TmuxHost, engine_child, gone, prepare_home, wait_until

READY = "● ready"
WENT_AWAY = "the control centre (pid {pid}) went away"
STARTUP_S = 40  # a cold start on a busy two-core machine; the usual is a few seconds
GONE_S = 10  # the engine's stop grace (5 s) is the longest step of leaving


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    with FakeServerThread(FakeOpenAI()) as fake:
        yield fake


@pytest.fixture
def home_env(tmp_path: Path, upstream: FakeOpenAI) -> tuple[Path, dict[str, str], int]:
    home = tmp_path / "home"
    env, port = prepare_home(home, upstream.base_url, upstream.api_key)
    return home, env, port


def send_requests(port: int, n: int = 3) -> None:
    for i in range(n):
        r = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": f"hello {i}"}]},
            timeout=30,
        )
        assert r.status_code == 200, r.text


def ledger_rows(home: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(home / "data" / "usage.db") as db:
        return db.execute("SELECT status, model FROM requests").fetchall()


def engine_log(home: Path) -> str:
    return (home / "state" / "logs" / "engine.log").read_text(encoding="utf-8")


def start_in_pty(env: dict[str, str], *args: str, controlling: bool = True) -> tuple[PtyHost, int]:
    host = PtyHost(env, *args, controlling=controlling)
    try:
        assert wait_until(lambda: READY in host.screen_text(), within=STARTUP_S), host.screen_text()[-2000:]
        engine = engine_child(host.proc.pid)
        assert engine is not None, "the TUI says ready but has no engine child"
    except BaseException:
        host.cleanup(*filter(None, [engine_child(host.proc.pid)]))
        raise
    return host, engine


@pytest.mark.parametrize("controlling", [True, False], ids=["hangup-signal", "eof-only"])
def test_closing_the_pty_stops_the_tui_and_its_engine(home_env, controlling: bool) -> None:
    """With the pty as controlling terminal the kernel sends SIGHUP (and SIGCONT); without, only EOF/EIO."""
    home, env, port = home_env
    host, engine = start_in_pty(env, controlling=controlling)
    try:
        send_requests(port)
        host.close_terminal()
        assert host.proc.wait(GONE_S) == ExitCode.HANGUP
        assert wait_until(lambda: gone(engine), within=GONE_S), "the engine outlived the hang-up"
        assert ledger_rows(home) == [(200, "gpt-4o")] * 3
        log = engine_log(home)
        assert WENT_AWAY.format(pid=host.proc.pid) in log and "it is stopping this engine" in log
        if not controlling:
            assert "its terminal closed" in log
    finally:
        host.cleanup(engine)


def test_killing_the_tmux_session_stops_the_tui_and_its_engine(home_env, tmp_path: Path) -> None:
    """The user's case: the TUI typed into a shell in tmux, and the tmux session is killed."""
    home, env, port = home_env
    host = TmuxHost(env, tmp_path / "tmux.sock")
    tui = engine = None
    try:
        assert wait_until(lambda: READY in host.screen_text(), within=STARTUP_S), host.screen_text()
        tui = host.tui_pid()
        assert tui is not None
        engine = engine_child(tui)
        assert engine is not None
        send_requests(port)
        host.kill_session()
        assert wait_until(lambda: gone(tui), within=GONE_S), "proxypal-tui outlived its tmux session"
        assert wait_until(lambda: gone(engine), within=GONE_S), "the engine outlived the tmux session"
        assert len(ledger_rows(home)) == 3
        assert WENT_AWAY.format(pid=tui) in engine_log(home)
    finally:
        host.cleanup(*filter(None, [tui, engine]))


@pytest.mark.parametrize(
    ("sig", "code", "why"),
    [
        (signal.SIGTERM, ExitCode.TERMINATED, "it was sent SIGTERM"),
        (signal.SIGHUP, ExitCode.HANGUP, "its terminal hung up (SIGHUP)"),
    ],
    ids=["sigterm", "sighup-live-terminal"],
)
def test_a_signal_leaves_like_quit_and_restores_the_terminal(home_env, sig: int, code: ExitCode, why: str) -> None:
    """`kill PID` (or `kill -HUP PID`) with the terminal still there: the same orderly exit, terminal restored."""
    home, env, port = home_env
    host, engine = start_in_pty(env)
    try:
        send_requests(port, 2)
        os.kill(host.proc.pid, sig)
        assert host.proc.wait(GONE_S) == code
        assert wait_until(lambda: gone(engine), within=GONE_S)
        assert len(ledger_rows(home)) == 2
        log = engine_log(home)
        assert f"{WENT_AWAY.format(pid=host.proc.pid)}: {why}; it is stopping this engine" in log
        host.stop_reading()
        assert b"\x1b[?1049l" in host.raw_output(), "Textual's own exit left the alternate screen"
    finally:
        host.cleanup(engine)


def test_keep_engine_survives_a_hangup(home_env) -> None:
    home, env, port = home_env
    host, engine = start_in_pty(env, "--keep-engine")
    try:
        send_requests(port, 1)
        host.close_terminal()
        assert host.proc.wait(GONE_S) == ExitCode.HANGUP
        assert WENT_AWAY.format(pid=host.proc.pid) in engine_log(home)
        assert "this engine keeps running" in engine_log(home)
        assert not gone(engine)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        assert len(ledger_rows(home)) == 1
        os.kill(engine, signal.SIGTERM)  # ours to stop: this test started it (through the TUI)
        assert wait_until(lambda: gone(engine), within=GONE_S)
    finally:
        host.cleanup(engine)


WEDGED = """
import asyncio, threading
from proxypal_tui.hangup import TerminalGuard

async def main():
    guard = TerminalGuard(asyncio.get_running_loop(), lambda d: print("left", flush=True), 0.5)
    guard.install()
    print("ready", flush=True)
    lock = threading.Lock()
    lock.acquire()
    lock.acquire()  # the event loop is blocked for good, as it was behind a dead terminal's output queue

asyncio.run(main())
"""


def test_a_wedged_event_loop_still_ends_on_sigterm_with_its_code() -> None:
    """The orphans of #18 ignored SIGTERM because the handler needed the (blocked) event loop."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WEDGED],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == ExitCode.TERMINATED
        assert proc.stdout.read() == "", "the app's own leave cannot have run on a blocked loop"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()  # type: ignore[union-attr]


def test_ctrl_z_and_fg_still_resume_and_q_still_quits(home_env) -> None:
    """The guard passes a SIGCONT with a live terminal on to Textual: a suspended TUI comes back."""
    home, env, _port = home_env
    host, engine = start_in_pty(env)
    try:
        tui = psutil.Process(host.proc.pid)
        os.kill(tui.pid, signal.SIGTSTP)  # what Ctrl+Z sends
        assert wait_until(lambda: tui.status() == psutil.STATUS_STOPPED, within=GONE_S)
        drawn = len(host.raw_output())
        os.kill(tui.pid, signal.SIGCONT)  # what `fg` sends
        assert wait_until(lambda: b"\x1b[?1049h" in host.raw_output()[drawn:], within=GONE_S), "no redraw on resume"
        os.write(host.master, b"q")
        assert host.proc.wait(GONE_S) == ExitCode.OK
        assert wait_until(lambda: gone(engine), within=GONE_S)
        assert "went away" not in engine_log(home)
    finally:
        host.cleanup(engine)
