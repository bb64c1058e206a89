"""A taken port is refused at once, naming the process that holds it, before anything else starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

from tests.engine_harness import SECRET_ENV


def test_serve_on_a_taken_port_names_the_holder_and_starts_nothing() -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    holder.setblocking(False)
    port = holder.getsockname()[1]
    home = Path(tempfile.mkdtemp(prefix="pp-port-"))
    (home / "config.yaml").write_text(f"port: {port}\n")
    env = {**os.environ, "PROXYPAL_HOME": str(home), **SECRET_ENV}
    env.pop("PROXYPAL_CONFIG", None)
    try:
        done = subprocess.run([sys.executable, "-m", "proxy_engine", "serve"], env=env, capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        assert done.returncode == 3, done.stderr
        assert f"port {port} is in use by {psutil.Process().name()} (pid {os.getpid()})" in done.stderr
        assert "change `port:`" in done.stderr
        assert "listening" not in done.stderr  # no misleading line before the refusal
        assert not list((home / "run").glob("*.sock")) if (home / "run").exists() else True
        try:
            holder.accept()
            raise AssertionError("serve connected to the holder instead of only asking who it is")
        except BlockingIOError:
            pass
    finally:
        holder.close()
