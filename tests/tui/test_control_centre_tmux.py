"""Issue #15: the control centre a user trusts all day, driven as a user does, in tmux.

Each test types into a real `proxypal-tui` (fresh PROXYPAL_HOME, engine on a free port, a fake OpenAI
upstream) with tmux send-keys, reads the screen with capture-pane, and asserts the files on disk.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.fakes import FakeOpenAI, FakeServerThread
from tests.fakes.script import Usage
from tests.tui.terminal_host import TmuxHost, engine_child, gone, prepare_home, wait_until

READY = "● ready"
STARTUP_S = 40  # a cold start on a busy two-core machine; the usual is a few seconds
SCREEN_S = 10


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    with FakeServerThread(FakeOpenAI()) as fake:
        yield fake


@contextmanager
def running_tui(tmp_path: Path, upstream: FakeOpenAI, extra_config: str = "") -> Iterator[tuple[TmuxHost, Path, int]]:
    """A ready TUI in tmux (120x40), its PROXYPAL_HOME and proxy port; what it started is stopped afterwards."""
    home = tmp_path / "home"
    env, port = prepare_home(home, upstream.base_url, upstream.api_key)
    with (home / "config.yaml").open("a") as f:
        f.write(extra_config)
    host = TmuxHost(env, tmp_path / "tmux.sock", cols=120, rows=40)
    pids: list[int] = []
    try:
        host.wait_for(READY, STARTUP_S)
        tui_pid = host.tui_pid()
        assert tui_pid is not None
        pids.append(tui_pid)
        engine = engine_child(tui_pid)
        if engine is not None:
            pids.append(engine)
        yield host, home, port
    finally:
        host.cleanup(*pids)


@pytest.fixture
def tui(tmp_path: Path, upstream: FakeOpenAI) -> Iterator[tuple[TmuxHost, Path]]:
    with running_tui(tmp_path, upstream) as (host, home, _port):
        yield host, home


def open_config(host: TmuxHost, home: Path) -> None:
    host.press("c")
    host.wait_for(str(home / "config.yaml"), SCREEN_S)


def test_escape_leaves_the_config_editor_and_shortcuts_work_again(tui) -> None:
    host, home = tui
    config = home / "config.yaml"
    before = config.read_bytes()
    open_config(host, home)
    host.press("e", "Escape")
    time.sleep(0.5)  # a person pauses after escape; ESC then `d` at once reads as alt+d
    host.press("d")
    host.wait_for("ProxyPal — Dashboard", SCREEN_S)
    assert config.read_bytes() == before
    # Back in Config the editor is not focused: `r` switches screens instead of typing.
    open_config(host, home)
    host.press("r")
    host.wait_for("ProxyPal — Requests", SCREEN_S)
    assert config.read_bytes() == before


def test_an_outside_edit_shows_in_a_clean_editor(tui) -> None:
    host, home = tui
    config = home / "config.yaml"
    open_config(host, home)
    subprocess.run(["sed", "-i", "s/^host: 127.0.0.1$/host: 127.0.0.1  # edited-outside/", str(config)], check=True)
    screen = host.wait_for("edited-outside", SCREEN_S)
    assert "The file changed on disk" in screen
    assert "Saved" not in screen


def test_ctrl_s_never_overwrites_an_outside_edit_and_the_choice_works(tui) -> None:
    host, home = tui
    config = home / "config.yaml"
    open_config(host, home)
    host.press("e", "C-Home")
    host.type_text("# mine")
    host.press("Enter")
    host.wait_for("# mine", SCREEN_S)
    subprocess.run(["sed", "-i", "s/^host: 127.0.0.1$/host: 127.0.0.1  # theirs/", str(config)], check=True)
    theirs = config.read_bytes()
    host.press("C-s")
    host.wait_for("Reload theirs", SCREEN_S)  # the diff is offered (the poll may have offered it first)
    assert config.read_bytes() == theirs
    host.press("m")  # keep mine: the editor keeps its text, nothing is written yet
    assert wait_until(lambda: "Reload theirs" not in host.screen_text(), within=SCREEN_S), host.screen_text()
    assert config.read_bytes() == theirs
    host.press("C-s")
    assert wait_until(lambda: config.read_bytes().startswith(b"# mine\n"), within=SCREEN_S), host.screen_text()
    host.wait_for("Saved", SCREEN_S)
    # Another outside edit, more local edits, and this time the file's text wins.
    subprocess.run(["sed", "-i", "s/^# mine$/# theirs again/", str(config)], check=True)
    host.press("End")
    host.type_text(" local")
    host.wait_for("Reload theirs", SCREEN_S)
    host.press("t")
    assert "# theirs again" in host.wait_for("reloaded from disk", SCREEN_S)
    assert b"local" not in config.read_bytes()
    assert "local" not in host.screen_text()


def test_logs_show_each_engine_line_once_and_filter_stderr_by_level(tui) -> None:
    host, home = tui
    config = home / "config.yaml"
    with config.open("a") as f:
        f.write("# touched, so the engine logs a reload while its events are connected\n")
    host.press("l")
    screen = host.wait_for("config reloaded", SCREEN_S)
    assert screen.count("config reloaded") == 1, screen
    assert screen.count("proxy_engine.app: engine") == 1, screen
    host.press("f")  # info → warning: the stderr warning stays, the info lines go
    screen = host.wait_for("level ≥ warning", SCREEN_S)
    assert "encrypted file chosen by PROXYPAL_SECRET_BACKEND" in screen
    assert "listening on" not in screen and "config reloaded" not in screen


def test_budget_alert_toasts_name_their_threshold(tmp_path: Path, upstream: FakeOpenAI) -> None:
    """$0.20 a request against a $0.50 daily budget: the second crosses 50%, the third 100%."""
    upstream.reset()
    upstream.script(usage=Usage(input_tokens=100, output_tokens=100))
    extra = (
        "prices: {gpt-4o-mini: {input_per_mtok: 1000, output_per_mtok: 1000}}\n"
        "budgets: {daily_usd: 0.5, alert_at: [0.5, 1.0]}\n"
    )
    with running_tui(tmp_path, upstream, extra) as (host, _home, port):
        for i in range(3):
            r = httpx.post(
                f"http://127.0.0.1:{port}/v1/chat/completions",
                json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"hi {i}"}]},
                timeout=30,
            )
            assert r.status_code == 200, r.text
        screen = host.wait_for("Budget alert: 100%", SCREEN_S)
        assert "Budget alert: 50%" in screen, screen


def test_after_a_detach_proxypal_engine_stop_ends_the_engine_and_keeps_its_ledger(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    with running_tui(tmp_path, upstream) as (host, home, port):
        tui_pid = host.tui_pid()
        assert tui_pid is not None
        engine = engine_child(tui_pid)
        assert engine is not None
        for i in range(2):
            r = httpx.post(
                f"http://127.0.0.1:{port}/v1/chat/completions",
                json={"model": "gpt-4o", "messages": [{"role": "user", "content": f"hello {i}"}]},
                timeout=30,
            )
            assert r.status_code == 200, r.text
        host.press("C-d")
        host.wait_for(f"The engine keeps running (pid {engine}). Stop it with: proxypal-engine stop", SCREEN_S)
        assert wait_until(lambda: gone(tui_pid), within=SCREEN_S)
        assert not gone(engine)
        refused = httpx.post(f"http://127.0.0.1:{port}/v0/shutdown", timeout=10)
        assert refused.status_code == 401 and not gone(engine)
        env = dict(host.env)
        done = subprocess.run(
            [sys.executable, "-m", "proxy_engine", "stop"], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert f"stopping the engine (pid {engine})" in done.stdout and "stopped" in done.stdout
        assert wait_until(lambda: gone(engine), within=SCREEN_S)
        with sqlite3.connect(home / "data" / "usage.db") as db:
            assert db.execute("SELECT status, model FROM requests").fetchall() == [(200, "gpt-4o")] * 2
        again = subprocess.run(
            [sys.executable, "-m", "proxy_engine", "stop"], env=env, capture_output=True, text=True, timeout=60
        )
        assert again.returncode == 1 and "no engine answers" in again.stderr


def test_a_killed_engine_leaves_its_signal_in_logs_and_its_requests_in_the_feed(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    with running_tui(tmp_path, upstream) as (host, _home, port):
        tui_pid = host.tui_pid()
        assert tui_pid is not None
        first = engine_child(tui_pid)
        assert first is not None
        for i in range(2):
            r = httpx.post(
                f"http://127.0.0.1:{port}/v1/chat/completions",
                json={"model": "gpt-4o", "messages": [{"role": "user", "content": f"hello {i}"}]},
                timeout=30,
            )
            assert r.status_code == 200, r.text
        host.press("r")
        host.wait_for("2 kept", SCREEN_S)
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: (e := engine_child(tui_pid)) is not None and e != first, within=STARTUP_S)
        host.wait_for(READY, STARTUP_S)
        assert "2 kept" in host.wait_for("2 kept", SCREEN_S)  # rebuilt from the ledger, not lost
        host.press("Escape")
        time.sleep(0.5)  # a person pauses after escape; ESC then `l` at once reads as alt+l
        host.press("l")
        host.wait_for("was killed by SIGKILL (signal 9)", SCREEN_S)
