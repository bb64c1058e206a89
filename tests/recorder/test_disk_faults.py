"""A full or read-only capture directory: every request still succeeds, and the drops are reported."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from proxy_engine.paths import make_private_dirs
from proxy_engine.recorder.capture import Capture, Limits
from proxy_engine.recorder.store import CaptureStore
from proxy_engine.recorder.writer import CaptureWriter, Retention
from tests.engine_harness import EngineProcess, free_port
from tests.recorder.helpers import ENV, MSG, client, recorder_config
from tests.tmpfs import fill, small_tmpfs

N = 6


def _run_requests_and_read_status(fakes, home: Path) -> dict:
    port = free_port()
    with EngineProcess(recorder_config(port, *fakes), port, env=ENV, home=str(home)) as eng, client(eng) as http:
        for i in range(N):
            body = {"model": "openai/gpt-4o", "messages": MSG, "stream": i % 2 == 0}
            r = http.post("/v1/chat/completions", json=body)
            assert r.status_code == 200, r.text
        deadline = time.monotonic() + 15
        while True:
            rec = eng.api("GET", "/v0/status").json()["recorder"]
            if rec["dropped_write_failed"] >= N or time.monotonic() > deadline:
                return rec
            time.sleep(0.1)


def test_full_capture_disk(fakes, tmp_path: Path) -> None:
    home = tmp_path / "home"
    make_private_dirs(home / "state")
    with small_tmpfs(home / "state" / "captures", "64k") as mnt:
        fill(mnt / "filler")
        rec = _run_requests_and_read_status(fakes, home)
    assert rec["dropped_write_failed"] == N and rec["written"] == 0 and rec["dropped"] == N
    assert "No space left" in rec["last_error"] or "full" in rec["last_error"], rec["last_error"]


def test_read_only_capture_dir(fakes, tmp_path: Path) -> None:
    home = tmp_path / "home"
    make_private_dirs(home / "state")
    with small_tmpfs(home / "state" / "captures", "1m") as mnt:
        r = subprocess.run(["mount", "-o", "remount,ro", str(mnt)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot remount read-only: {r.stderr.strip()}")
        rec = _run_requests_and_read_status(fakes, home)
    assert rec["dropped_write_failed"] == N and rec["written"] == 0
    assert "Read-only" in rec["last_error"] or "readonly" in rec["last_error"].lower(), rec["last_error"]


def test_a_full_queue_drops_and_counts_without_waiting(tmp_path: Path) -> None:
    """The writer is not started: the queue fills and every further capture is dropped at once."""
    writer = CaptureWriter(CaptureStore(tmp_path / "c"), queue_size=2, retention=Retention(1 << 20, 3600, 60))
    for _ in range(5):
        writer.offer(Capture(Limits(100, 100)), {"id": "0" * 16})
    assert writer.queued == 2 and writer.counts.dropped_queue_full == 3
