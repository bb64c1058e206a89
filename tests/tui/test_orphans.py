"""No orphan engines: an engine the TUI started follows the TUI out, even when the TUI is SIGKILLed.

The parent here is `tests.tui.parent_proc`, which starts the real engine through the TUI's own
supervisor (the same command line, `--exit-with-parent` included). The engine's watchdog notices the
parent is gone and runs the normal SIGTERM shutdown, which removes the event socket on the way out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from proxy_engine import watchdog
from proxy_engine.paths import Paths
from proxypal_tui.core import process
from tests.tui.conftest import REPO


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until(predicate, within: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def start_parent(paths: Paths, *extra: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    paths.config_file.write_text(f"port: {port}\nhost: 127.0.0.1\n")
    parent = subprocess.Popen(
        [sys.executable, "-m", "tests.tui.parent_proc", str(paths.config_file), *extra],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    line = parent.stdout.readline()
    assert line.startswith("ready "), f"the stand-in TUI said {line!r}"
    return parent, int(line.split()[1])


@pytest.fixture
def cleanup() -> list[int]:
    pids: list[int] = []
    yield pids
    for pid in pids:  # only processes this test started, and only if a failed test left them
        if not gone(pid):
            os.kill(pid, signal.SIGKILL)


def test_engine_exits_when_the_tui_is_sigkilled(home: Paths, cleanup: list[int]) -> None:
    parent, engine_pid = start_parent(home)
    cleanup += [parent.pid, engine_pid]
    cmdline = psutil.Process(engine_pid).cmdline()
    assert cmdline[cmdline.index("--exit-with-parent") + 1] == str(parent.pid)
    sock = next(home.runtime_dir.glob("events-*.sock"))
    parent.kill()
    parent.wait(5)
    parent.stdout.close()  # type: ignore[union-attr]
    assert wait_until(lambda: gone(engine_pid), within=8), "the engine outlived its SIGKILLed parent"
    assert not sock.exists()  # the graceful path ran (SIGKILL would have left the socket behind)


def test_a_detached_engine_outlives_the_tui(home: Paths, cleanup: list[int]) -> None:
    parent, engine_pid = start_parent(home, "detach")
    cleanup.append(engine_pid)
    note = process.release_note(home.runtime_dir, engine_pid)
    assert parent.wait(10) == 0
    parent.stdout.close()  # type: ignore[union-attr]
    assert note.exists()
    # The watchdog consumes the note when it sees the parent gone, and leaves the engine alone.
    assert wait_until(lambda: not note.exists(), within=8)
    time.sleep(0.3)
    assert not gone(engine_pid)
    os.kill(engine_pid, signal.SIGTERM)
    assert wait_until(lambda: gone(engine_pid), within=10)


def test_tui_and_engine_agree_on_the_release_note(tmp_path: Path) -> None:
    assert process.release_note(tmp_path, 4242) == watchdog.release_note(tmp_path, 4242)


def test_keep_engine_spawns_without_the_parent_watch(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    assert "--exit-with-parent" not in process.engine_command(config)
    argv = process.engine_command(config, 1234)
    assert argv[-2:] == ["--exit-with-parent", "1234"]
