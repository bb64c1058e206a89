"""A real PostgreSQL cluster for tests: initdb in a temp dir, `postgres` on a free loopback port.

Trust auth for the test user `proxypal` on loopback only; the unix socket lives in the temp dir.
PostgreSQL refuses to run as root, so under root (CI) the cluster belongs to an unprivileged
user (`binaries.unprivileged_user`) and the temp dir is handed to it.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from tests.servers.binaries import postgres_bin_dir, unprivileged_user
from tests.servers.process import ServerProcess, free_port

USER = "proxypal"


class PostgresServer:
    """`start()`, `stop()` and `start()` again on the same port and data: what a fault test needs."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        found = bin_dir or postgres_bin_dir()
        if found is None:
            raise FileNotFoundError("PostgreSQL server binaries not found")
        self.bin = found
        self.user = unprivileged_user()
        self.root = Path(tempfile.mkdtemp(prefix="pp-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "run"
        self.port = free_port()
        self._process = ServerProcess("postgres", self.root / "postgres.log")
        self._initdb()

    def _initdb(self) -> None:
        self.sockets.mkdir(mode=0o700)
        if self.user is not None:
            pw = pwd.getpwnam(self.user)
            for p in (self.root, self.sockets):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        argv = [str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8",
                "--locale=C", "--no-sync"]  # fmt: skip
        r = subprocess.run(argv, capture_output=True, text=True, user=self.user, cwd=self.root)
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed: {r.stdout}{r.stderr}")
        with open(self.data / "pg_hba.conf", "w") as f:  # loopback only, trust for the test user
            f.write(f"local all {USER} trust\nhost all {USER} 127.0.0.1/32 trust\n")

    @property
    def running(self) -> bool:
        return self._process.running

    @property
    def pid(self) -> int | None:
        return self._process.proc.pid if self._process.proc else None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        if self.running:
            return
        argv = [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.sockets),
                "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off", "-c", "shared_buffers=32MB", "-c", "max_connections=200"]  # fmt: skip
        self._process.spawn(argv, self.user, self._ready)

    def _ready(self) -> bool:
        r = subprocess.run([str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER],
                           capture_output=True)  # fmt: skip
        return r.returncode == 0

    def stop(self) -> None:
        """Fast shutdown (SIGINT): open connections are ended, as when a database server goes away."""
        self._process.stop(signal.SIGINT)

    def ensure_running(self) -> None:
        """A fault test may have left it stopped."""
        if not self.running:
            self.start()

    def create_database(self, name: str | None = None) -> str:
        """A fresh, empty database; returns its URL."""
        name = name or f"t_{secrets.token_hex(6)}"
        r = subprocess.run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, name],
                           capture_output=True, text=True)  # fmt: skip
        if r.returncode != 0:
            raise RuntimeError(f"createdb failed: {r.stderr}")
        return self.url(name)

    def log_tail(self) -> str:
        from tests.servers.process import log_tail

        return log_tail(self._process.log_file)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
