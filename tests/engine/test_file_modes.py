"""Issue #17, item 6: whatever command runs first in a fresh home, what ProxyPal creates there is the user's alone.

Each entry command runs as a real subprocess under a permissive umask (022), in a PROXYPAL_HOME that does
not exist yet; then every file must be 0600-ish (no group/other bits) and every directory 0700-ish.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.engine_harness import SECRET_ENV, EventSubscriber, free_port

REPO = Path(__file__).resolve().parents[2]


def _env(home: Path, tool_home: Path) -> dict[str, str]:
    env = dict(os.environ, PROXYPAL_HOME=str(home), HOME=str(tool_home), PYTHONPATH=str(REPO), **SECRET_ENV)
    env.pop("PROXYPAL_CONFIG", None)
    return env


def _run(env: dict[str, str], *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *argv], env=env, input=stdin, capture_output=True, text=True,
                          timeout=60, umask=0o022)  # fmt: skip


def _exposed(home: Path) -> list[str]:
    """Entries under home (home included) that group or others can read, write or enter."""
    out: list[str] = []
    if not home.exists():
        return out
    for path in [home, *home.rglob("*")]:
        mode = path.lstat().st_mode
        if stat.S_IMODE(mode) & 0o077:
            out.append(f"{oct(stat.S_IMODE(mode))} {path.relative_to(home.parent)}")
    return out


def _serve(env: dict[str, str], home: Path) -> None:
    """Serve with no config file at all, answer a request (a ledger row), feed a subscriber, then SIGTERM."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "proxy_engine", "serve", "--port", str(port)], env=env,
                            stderr=subprocess.PIPE, umask=0o022)  # fmt: skip
    try:
        deadline = time.time() + 20
        while True:
            assert proc.poll() is None and time.time() < deadline, "engine did not start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        key = (home / "data" / "management.key").read_text().strip()
        auth = {"Authorization": "Bearer " + key}
        sock = httpx.get(f"http://127.0.0.1:{port}/v0/status", headers=auth).json()["events_socket"]
        sub = EventSubscriber(sock)
        sub.wait_for("hello")
        r = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={"model": "nope", "messages": []})
        assert r.status_code == 404
        sub.wait_for("request.finished")
        rows = httpx.get(f"http://127.0.0.1:{port}/v0/requests", headers=auth).json()["requests"]
        assert rows, "the ledger (and its -wal) was written"
        sub.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        assert proc.stderr is not None
        proc.stderr.close()


ENGINE = ("-m", "proxy_engine")
FIRST_COMMANDS = {
    "login": (*ENGINE, "login", "openai", "--api-key-stdin"),
    "auth-status": (*ENGINE, "auth", "status"),
    "check-config": (*ENGINE, "check-config"),
    "tail": (*ENGINE, "tail"),
    "logout": (*ENGINE, "logout", "openai"),
    "version": (*ENGINE, "version"),
    "tools-apply": ("-m", "proxypal_tui.tools", "apply", "claude-code", "--home", "{tool_home}"),
}


@pytest.mark.parametrize("name", list(FIRST_COMMANDS))
def test_whatever_command_runs_first_nothing_in_the_home_is_readable_by_others(tmp_path, name):
    """The first command decides how the home's folders are made; the engine then fills them."""
    home, tool_home = tmp_path / "pp" / "home", tmp_path / "user"
    tool_home.mkdir()
    env = _env(home, tool_home)
    _run(env, *(a.format(tool_home=tool_home) for a in FIRST_COMMANDS[name]), stdin="sk-file-mode-test-key\n")
    assert _exposed(tmp_path / "pp") == [], f"after {name}"
    _serve(env, home)
    assert _exposed(tmp_path / "pp") == [], f"after {name}, then serve"


def test_serve_first_in_a_fresh_home_keeps_ledger_logs_socket_and_key_private(tmp_path):
    home = tmp_path / "pp" / "home"
    _serve(_env(home, tmp_path), home)
    names = {p.name for p in home.rglob("*")}
    assert {"usage.db", "management.key", "engine.log"} <= names
    assert _exposed(tmp_path / "pp") == []


def test_the_tui_first_run_config_is_private(tmp_path):
    from proxypal_tui.core.configfile import ensure_config

    old = os.umask(0o022)
    try:
        assert ensure_config(tmp_path / "pp" / "config" / "config.yaml")
    finally:
        os.umask(old)
    assert _exposed(tmp_path / "pp") == []
