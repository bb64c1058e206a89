"""A real Redis for tests: `redis-server` on a free loopback port, no persistence, in a temp dir."""

from __future__ import annotations

import shutil
import signal
import socket
import tempfile
from pathlib import Path

from tests.servers.binaries import redis_server_bin
from tests.servers.process import ServerProcess, free_port


def _command(port: int, *words: str) -> bytes:
    """One RESP command over a fresh connection; the raw reply's first line."""
    payload = f"*{len(words)}\r\n".encode() + b"".join(f"${len(w)}\r\n{w}\r\n".encode() for w in words)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(payload)
        return s.recv(256).split(b"\r\n", 1)[0]


class RedisServer:
    """`start()`, `stop()` and `start()` again on the same port (empty again: nothing is saved)."""

    def __init__(self, binary: Path | None = None) -> None:
        found = binary or redis_server_bin()
        if found is None:
            raise FileNotFoundError("redis-server not found")
        self.binary = found
        self.root = Path(tempfile.mkdtemp(prefix="pp-redis-"))
        self.port = free_port()
        self._process = ServerProcess("redis-server", self.root / "redis.log")

    @property
    def running(self) -> bool:
        return self._process.running

    @property
    def pid(self) -> int | None:
        return self._process.proc.pid if self._process.proc else None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if self.running:
            return
        argv = [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(self.root), "--daemonize", "no"]  # fmt: skip
        self._process.spawn(argv, None, self._ready, timeout=30)

    def _ready(self) -> bool:
        try:
            return _command(self.port, "PING") == b"+PONG"
        except OSError:
            return False

    def stop(self) -> None:
        self._process.stop(signal.SIGTERM)

    def ensure_running(self) -> None:
        if not self.running:
            self.start()

    def flush_all(self) -> None:
        reply = _command(self.port, "FLUSHALL")
        if reply != b"+OK":
            raise RuntimeError(f"FLUSHALL answered {reply!r}")

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
