"""Shared parts of the security tests: a listener that records every hit, and an engine on a chosen --host."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tests.engine_harness import EngineProcess


class RecordingListener:
    """A real HTTP server on 127.0.0.1 that answers every request 200 `{"ok": <ok>}` and remembers it.

    It stands in for Amp's servers, and for an HTTP proxy named by HTTP_PROXY (a proxy receives the
    absolute URL in the request line, which lands in `path`).
    """

    def __init__(self, ok: bool = True) -> None:
        self.hits: list[dict[str, Any]] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                listener.hits.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                      "body": body})  # fmt: skip
                data = json.dumps({"ok": ok}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_CONNECT = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RecordingListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class HostEngine(EngineProcess):
    """An engine started with `serve --host HOST` (the bind the file cannot change); traffic still goes to 127.0.0.1."""

    def __init__(self, config_text: str, port: int, host: str, **kw: Any) -> None:
        super().__init__(config_text, port, **kw)
        self.host = host

    def start(self) -> HostEngine:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "proxy_engine", "serve", "--host", self.host], env=self.env, stderr=subprocess.PIPE
        )
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"engine exited: {self.proc.stderr.read().decode()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("engine did not become healthy")
