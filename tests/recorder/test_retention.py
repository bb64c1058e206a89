"""Retention by age and size, on the real store, and run in the background by a running engine."""

from __future__ import annotations

import gzip
import json
import os
import stat
import time
from pathlib import Path

from proxy_engine.recorder.store import CaptureStore
from tests.engine_harness import EngineProcess, free_port
from tests.recorder.helpers import ENV, MSG, client, recorder_config, wait_capture


def _doc(rid: str, ts: float, body: str = "x") -> dict:
    return {"id": rid, "ts": ts, "meta": {"status": 500, "reason": "error"},
            "stages": [{"stage": "client_request", "body": body}]}  # fmt: skip


def test_prune_by_age_then_by_size_oldest_first(tmp_path: Path) -> None:
    store = CaptureStore(tmp_path / "captures")
    now = time.time()
    ids = [f"{i:016x}" for i in range(6)]
    sizes = {}
    for i, rid in enumerate(ids):  # ids[0] is the oldest
        sizes[rid] = store.put(_doc(rid, now - 1000 + i * 100, os.urandom(200).hex()))
    assert store.totals() == (6, sum(sizes.values()))
    assert store.prune(max_bytes=10**9, max_age_s=850, now=now) == 2  # ids[0], ids[1] are older than 850 s
    assert store.get(ids[0]) is None and store.get(ids[1]) is None and store.get(ids[2]) is not None
    keep = sizes[ids[4]] + sizes[ids[5]]
    assert store.prune(max_bytes=keep, max_age_s=10**6, now=now) == 2
    assert [r["id"] for r in store.listing()] == [ids[5], ids[4]]
    assert sorted(p.name for p in store.root.glob("*.json.gz")) == [f"{ids[4]}.json.gz", f"{ids[5]}.json.gz"]
    store.close()


def test_store_files_are_private_and_compressed(tmp_path: Path) -> None:
    store = CaptureStore(tmp_path / "state" / "captures")
    store.put(_doc("00000000000000aa", time.time(), "hello " * 1000))
    store.close()
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    for f in store.root.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    f = store.root / "00000000000000aa.json.gz"
    assert f.stat().st_size < 1000, "6 KB of text is stored compressed"
    assert json.loads(gzip.decompress(f.read_bytes()))["stages"][0]["body"] == "hello " * 1000


def test_a_running_engine_prunes_old_captures_in_the_background(fakes) -> None:
    port = free_port()
    cfg = recorder_config(port, *fakes, recorder="{mode: all, max_age_days: 0.00002, prune_every_s: 0.2}")  # ~1.7 s
    with EngineProcess(cfg, port, env=ENV) as eng, client(eng) as http:
        r = http.post("/v1/chat/completions", json={"model": "openai/gpt-4o", "messages": MSG})
        rid = r.headers["X-ProxyPal-Request-Id"]
        wait_capture(eng, rid)
        deadline = time.monotonic() + 20
        while eng.api("GET", f"/v0/requests/{rid}/capture").status_code != 404:
            assert time.monotonic() < deadline, "the capture outlived its max age"
            time.sleep(0.2)
        status = eng.api("GET", "/v0/status").json()["recorder"]
        assert status["pruned"] >= 1 and status["captures"] == 0
        assert not list((eng.home / "state" / "captures").glob("*.json.gz"))
