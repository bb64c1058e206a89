"""Runs the real engine as a subprocess against the fake upstreams, for end-to-end tests."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

import httpx

FAKE_KEYS = {"OK": "sk-fake-openai", "AK": "sk-ant-fake", "GK": "AIza-fake-gemini"}
# Engines under test never touch the developer's real keyring: their secrets live in an
# encrypted file inside their own PROXYPAL_HOME.
SECRET_ENV = {"PROXYPAL_SECRET_BACKEND": "file", "PROXYPAL_PASSPHRASE": "engine-test-passphrase"}


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fakes_config(port: int, fo, fa, fg, extra: str = "") -> str:
    return f"""port: {port}
providers:
  openai: {{base_url: "{fo.base_url}", api_key: env:OK}}
  anthropic: {{base_url: "{fa.base_url}", api_key: env:AK}}
  gemini: {{base_url: "{fg.base_url}", api_key: env:GK}}
models:
  Smart: {{anthropic: claude-sonnet-4-6, openai: gpt-4o}}
  Rush: ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"]
{extra}"""


class EngineProcess:
    """`with EngineProcess(config_text) as eng:` — a running engine with its own PROXYPAL_HOME."""

    def __init__(self, config_text: str, port: int, env: dict[str, str] | None = None, home: str | None = None):
        self.home = Path(home or tempfile.mkdtemp(prefix="pp-"))
        self.port = port
        self.config_path = self.home / "config.yaml"
        self.config_path.write_text(config_text)
        self.env = dict(os.environ, PROXYPAL_HOME=str(self.home), **FAKE_KEYS, **SECRET_ENV, **(env or {}))
        self.env.pop("PROXYPAL_CONFIG", None)
        self.proc: subprocess.Popen[bytes] | None = None
        # Read as it comes: an engine that logs a lot into a full pipe would block its event loop.
        self.stderr_lines: collections.deque[str] = collections.deque(maxlen=2000)
        # What runs: a subclass may give `--config` and `--port` instead (tests/team/replicas.py).
        self.argv = [sys.executable, "-m", "proxy_engine", "serve"]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> EngineProcess:
        self.proc = subprocess.Popen(self.argv, env=self.env, stderr=subprocess.PIPE)
        stream = self.proc.stderr
        assert stream is not None
        drain = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        drain.start()
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                drain.join(5)
                raise RuntimeError(f"engine exited: {''.join(self.stderr_lines)}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("engine did not become healthy")

    def _drain(self, stream: IO[bytes]) -> None:
        with contextlib.suppress(ValueError, OSError):
            for line in stream:
                self.stderr_lines.append(line.decode(errors="replace"))

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(15)
        finally:
            if self.proc.stderr:
                self.proc.stderr.close()

    def __enter__(self) -> EngineProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.stop()

    @property
    def management_key(self) -> str:
        return (self.home / "data" / "management.key").read_text().strip()

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": "Bearer " + self.management_key, **kw.pop("headers", {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=10, **kw)

    def clear_cooldowns(self) -> int:
        """Tests that script upstream errors leave cooldowns behind; a module-scoped engine clears them."""
        r = self.api("POST", "/v0/auth/cooldowns/clear", json={})
        r.raise_for_status()
        return r.json()["cleared"]

    def records(self, limit: int = 50) -> list[dict[str, Any]]:
        return self.api("GET", f"/v0/requests?limit={limit}").json()["requests"]

    def events_socket(self) -> str:
        return self.api("GET", "/v0/status").json()["events_socket"]

    def subscribe(self) -> EventSubscriber:
        return EventSubscriber(self.events_socket())


class EventSubscriber:
    """Reads events from the socket in a thread; `wait_for(type, pred)` returns the first match."""

    def __init__(self, path: str, read: bool = True):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        if read:
            self._thread = threading.Thread(target=self._read, daemon=True)
            self._thread.start()

    def _read(self) -> None:
        with self.sock.makefile("rb") as f:
            for line in f:
                with self._cond:
                    self.events.append(json.loads(line))
                    self._cond.notify_all()

    def wait_for(self, type_: str, pred=lambda e: True, timeout: float = 10) -> dict[str, Any]:
        deadline = time.time() + timeout
        with self._cond:
            while True:
                for e in self.events:
                    if e["type"] == type_ and pred(e):
                        return e
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError(f"no {type_} event; saw {[e['type'] for e in self.events]}")
                self._cond.wait(left)

    def close(self) -> None:
        self.sock.close()
