"""Issue #15: adding an API key with no OS keyring and no PROXYPAL_PASSPHRASE, in a real terminal (tmux).

The first try fails (the encrypted file needs a passphrase); the dialog then offers a passphrase for
this session or the opt-in key file. Either way the key ends up stored (`proxypal-engine auth status
--json`) and a request through the proxy reaches the fake upstream with it. The passphrase is never
in a file under the home, in the engine log or in any process's argv.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.fakes import FakeOpenAI, FakeServerThread
from tests.tui.terminal_host import REPO, TmuxHost, engine_child, prepare_home, wait_until

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

READY = "● ready"
STARTUP_S = 40  # a cold start on a busy two-core machine
STEP_S = 30
PASSPHRASE = "tmux-session-Passphrase-91f2e"


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    with FakeServerThread(FakeOpenAI()) as fake:
        yield fake


@pytest.fixture
def no_keyring(tmp_path: Path, upstream: FakeOpenAI) -> Iterator[tuple[TmuxHost, Path, dict[str, str], int]]:
    """A ready TUI whose OpenAI provider has no key yet, on a machine with no keyring and no passphrase."""
    home = tmp_path / "home"
    env, port = prepare_home(home, upstream.base_url, upstream.api_key)
    (home / "config.yaml").write_text(
        f'port: {port}\nhost: 127.0.0.1\nproviders:\n  openai: {{base_url: "{upstream.base_url}"}}\n'
    )
    for name in ("PROXYPAL_PASSPHRASE", "PROXYPAL_SECRET_BACKEND", "UPSTREAM_KEY"):
        env.pop(name, None)
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    host = TmuxHost(env, tmp_path / "tmux.sock", cols=120, rows=40)
    pids: list[int] = []
    try:
        host.wait_for(READY, STARTUP_S)
        tui_pid = host.tui_pid()
        assert tui_pid is not None
        pids.append(tui_pid)
        yield host, home, env, port
    finally:
        if pids:
            engine = engine_child(pids[0])
            if engine is not None:
                pids.append(engine)
        host.cleanup(*pids)


def first_try_fails(host: TmuxHost, key: str) -> None:
    """Providers, `a`, paste the key for openai: refused for want of a passphrase, with two ways on."""
    host.press("p")
    host.wait_for("Secrets:", STEP_S)
    host.press("a")
    screen = host.wait_for("Add an API key", STEP_S)
    assert "openai" in screen
    host.type_text(key)
    host.press("Enter")
    screen = host.wait_for("No OS keyring here", STEP_S)
    assert "PROXYPAL_PASSPHRASE" in screen and "Create key file" in screen
    assert key not in screen


def auth_status(home: Path, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "proxy_engine", "--config", str(home / "config.yaml"), "auth", "status", "--json"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def proxied_reply(port: int) -> httpx.Response:
    """A chat request through the proxy, retried while the engine (re)loads the key."""
    answer: list[httpx.Response] = []

    def ok() -> bool:
        try:
            reply = httpx.post(
                f"http://127.0.0.1:{port}/v1/chat/completions",
                json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
                timeout=10,
            )
        except httpx.TransportError:
            return False
        answer[:] = [reply]
        return reply.status_code == 200

    wait_until(ok, within=STEP_S)
    assert answer, "the proxy never answered"
    return answer[0]


def header(host: TmuxHost) -> str:
    """The top of the screen (title and the Providers store note), wrapping undone."""
    return " ".join(" ".join(host.screen_text().splitlines()[:5]).split())


def files_under(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        if path.is_file() and not path.is_socket():
            yield path


def test_a_session_passphrase_stores_the_key_and_the_engine_uses_it(no_keyring, upstream: FakeOpenAI) -> None:
    host, home, env, port = no_keyring
    first_try_fails(host, upstream.api_key)

    host.type_text(PASSPHRASE)
    host.press("Enter")
    screen = host.wait_for("Stored the openai key", STEP_S)
    assert PASSPHRASE not in screen

    status = auth_status(home, env | {"PROXYPAL_PASSPHRASE": PASSPHRASE})
    assert "openai" in status["api_keys"] and "passphrase" in status["backend"]

    reply = proxied_reply(port)
    assert reply.status_code == 200, reply.text
    assert upstream.last_request.headers.get("authorization") == f"Bearer {upstream.api_key}"
    assert wait_until(lambda: "AES-256-GCM, passphrase" in header(host), within=STEP_S), host.screen_text()

    # Memory and the environment of its children only: no file, no log line, no argv holds it.
    tui_pid = host.tui_pid()
    assert tui_pid is not None and engine_child(tui_pid) is not None
    for proc in psutil.process_iter(["cmdline"]):
        assert PASSPHRASE not in " ".join(proc.info.get("cmdline") or [])
    logs = list(files_under(home / "state" / "logs")) or list(home.rglob("*.log"))
    assert logs, "the engine wrote no log"
    for path in files_under(home):
        assert PASSPHRASE.encode() not in path.read_bytes(), path


def test_the_opt_in_key_file_stores_the_key_and_the_engine_uses_it(no_keyring, upstream: FakeOpenAI) -> None:
    host, home, env, port = no_keyring
    first_try_fails(host, upstream.api_key)

    host.press("Tab", "Tab", "Enter")  # past "Use passphrase" to "Create key file"
    host.wait_for("Stored the openai key", STEP_S)

    status = auth_status(home, env)  # no passphrase anywhere: the key file opens the store
    assert "openai" in status["api_keys"] and "key file" in status["backend"]
    key_files = [p for p in files_under(home) if p.name.endswith(".key")]
    assert key_files and all(stat.S_IMODE(os.stat(p).st_mode) == 0o600 for p in key_files)

    reply = proxied_reply(port)
    assert reply.status_code == 200, reply.text
    assert upstream.last_request.headers.get("authorization") == f"Bearer {upstream.api_key}"
    # The Providers header (its first lines, whatever the wrapping) says what opens the secrets now.
    assert wait_until(lambda: "AES-256-GCM, key file" in header(host), within=STEP_S), host.screen_text()
