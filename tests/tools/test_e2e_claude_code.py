"""End to end: `tools apply claude-code` in a temporary HOME, then a separate process that knows only that
HOME reads ~/.claude/settings.json like Claude Code and reaches the real engine, which answers from a fake
Anthropic upstream (a real local HTTP server speaking the Messages wire format)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.anthropic_fake import FakeAnthropic
from tests.fakes.thread import FakeServerThread

REPO = Path(__file__).resolve().parents[2]
CLIENT = Path(__file__).with_name("claude_like_client.py")
UPSTREAM_MODEL = "claude-sonnet-4-6"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def upstream() -> Iterator[FakeAnthropic]:
    with FakeServerThread(FakeAnthropic(known_models=[UPSTREAM_MODEL])) as fake:
        yield fake


def _config(upstream: FakeAnthropic, port: int, clients: str = "[]") -> str:
    return (
        f"port: {port}\nhost: 127.0.0.1\n"
        f"providers:\n  anthropic: {{base_url: '{upstream.base_url}', api_key: env:FAKE_ANTHROPIC_KEY}}\n"
        f"models:\n  Smart: {{anthropic: {UPSTREAM_MODEL}}}\n"
        f"clients: {clients}\n"
    )


class Engine:
    """`python -m proxy_engine serve` as a child process; stopped by its own PID."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        self._log = log.open("wb")
        cmd = [sys.executable, "-m", "proxy_engine", "serve"]
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"engine exited early:\n{Path(self._log.name).read_text()}"
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("engine never answered /healthz")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def _base_env(pp_home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROXYPAL_", "ANTHROPIC_"))}
    env.update({"PROXYPAL_HOME": str(pp_home), "PYTHONPATH": str(REPO)})
    env.update(extra or {})
    return env


def _run_client(home: Path) -> subprocess.CompletedProcess[str]:
    # Only HOME: whatever the client learns about the proxy comes from the files apply wrote.
    return subprocess.run(
        [sys.executable, str(CLIENT)], env={"HOME": str(home)}, capture_output=True, text=True, timeout=60
    )


def _apply(env: dict[str, str], home: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "proxypal_tui.tools", "apply", "claude-code", "--home", str(home)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr


def test_claude_code_reaches_engine_with_loopback_placeholder_key(tmp_path: Path, upstream: FakeAnthropic) -> None:
    pp_home, home = tmp_path / "proxypal", tmp_path / "home"
    pp_home.mkdir()
    home.mkdir()
    port = _free_port()
    (pp_home / "config.yaml").write_text(_config(upstream, port))
    env = _base_env(pp_home, {"FAKE_ANTHROPIC_KEY": upstream.api_key})
    _apply(env, home)
    engine = Engine(env, port, tmp_path / "engine.log")
    try:
        engine.wait_ready()
        r = _run_client(home)
    finally:
        engine.stop()
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert answer["base_url"].rstrip("/") == f"http://127.0.0.1:{port}"
    assert answer["model"] == "Smart"
    assert answer["text"] == f"Hello from {UPSTREAM_MODEL}!"
    sent = upstream.requests_to("/v1/messages")[-1]
    assert sent.json["model"] == UPSTREAM_MODEL
    presented = sent.headers.get("x-api-key") or sent.headers.get("authorization", "").removeprefix("Bearer ")
    assert presented == upstream.api_key, "the engine must send its own upstream key, not the client's"


def test_claude_code_uses_its_own_enforced_client_key(tmp_path: Path, upstream: FakeAnthropic) -> None:
    """With `clients:` configured and the engine already running, apply creates keyring:client-claude-code
    and registers it in the config; the engine reloads, accepts that key (it shares the keyring), and still
    rejects a wrong one."""
    pp_home, home = tmp_path / "proxypal", tmp_path / "home"
    pp_home.mkdir()
    home.mkdir()
    port = _free_port()
    config = pp_home / "config.yaml"
    config.write_text(_config(upstream, port, "\n  - {name: ci, key: env:CI_CLIENT_KEY}"))
    env = _base_env(
        pp_home,
        {
            "FAKE_ANTHROPIC_KEY": upstream.api_key,
            "CI_CLIENT_KEY": "ci-key-not-used-by-claude",
            "PYTHON_KEYRING_BACKEND": "tests.tools.keyring_file_backend.JsonFileKeyring",
            "PROXYPAL_TEST_KEYRING": str(tmp_path / "keyring.json"),
        },
    )
    engine = Engine(env, port, tmp_path / "engine.log")
    try:
        engine.wait_ready()
        _apply(env, home)
        key = json.loads((home / ".claude" / "settings.json").read_text())["env"]["ANTHROPIC_AUTH_TOKEN"]
        assert json.loads((tmp_path / "keyring.json").read_text())["proxypal/client-claude-code"] == key
        assert "{name: claude-code, key: keyring:client-claude-code}" in config.read_text()
        _wait_accepted(port, key)
        r = _run_client(home)
        wrong = _ask(port, "wrong-key")
    finally:
        engine.stop()
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["text"] == f"Hello from {UPSTREAM_MODEL}!"
    assert wrong.status_code == 401


def _ask(port: int, key: str) -> httpx.Response:
    return httpx.post(
        f"http://127.0.0.1:{port}/v1/messages",
        headers={"Authorization": f"Bearer {key}", "anthropic-version": "2023-06-01"},
        json={"model": "Smart", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )


def _wait_accepted(port: int, key: str, timeout: float = 15.0) -> None:
    """The engine picks up the new client from the saved config on its own (hot reload)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _ask(port, key).status_code == 200:
            return
        time.sleep(0.2)
    raise AssertionError("the engine never accepted the new client key")


def test_enforced_key_without_any_os_keyring(tmp_path: Path, upstream: FakeAnthropic) -> None:
    pp_home, home = tmp_path / "proxypal", tmp_path / "home"
    pp_home.mkdir()
    home.mkdir()
    port = _free_port()
    (pp_home / "config.yaml").write_text(_config(upstream, port, "\n  - {name: ci, key: env:CI_CLIENT_KEY}"))
    env = _base_env(
        pp_home,
        {
            "FAKE_ANTHROPIC_KEY": upstream.api_key,
            "CI_CLIENT_KEY": "ci-key",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        },
    )
    _apply(env, home)
    assert (pp_home / "data" / "client-keys" / "client-claude-code").exists()
    engine = Engine(env, port, tmp_path / "engine.log")
    try:
        engine.wait_ready()
        r = _run_client(home)
    finally:
        engine.stop()
    assert r.returncode == 0, r.stderr[-500:]
