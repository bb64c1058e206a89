"""The status bar's engine CPU/RSS covers the engine's worker processes (`serve --workers N`)."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from proxypal_tui.core.process import ProcessWatch

HOLD_MB = 64
PARENT = f"""
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "b = bytearray({HOLD_MB} << 20); b[::4096] = b'x' * len(b[::4096]); "
                          "import time; time.sleep(60)"])
print("started", flush=True)
time.sleep(60)
"""


def test_rss_of_a_supervisor_includes_its_workers() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None and parent.stdout.readline() == b"started\n"
        proc = psutil.Process(parent.pid)
        deadline = time.time() + 20
        while time.time() < deadline:
            kids = proc.children()
            if kids and kids[0].memory_info().rss > HOLD_MB << 20:
                break
            time.sleep(0.05)
        watch = ProcessWatch()
        usage = watch.sample(parent.pid)
        assert usage is not None
        assert usage.rss_bytes >= proc.memory_info().rss + (HOLD_MB << 20)
        assert watch.sample(parent.pid) is not None, "a second sample (with the child's CPU) works too"
    finally:
        for child in psutil.Process(parent.pid).children():
            child.kill()
        parent.kill()
        parent.wait(10)
