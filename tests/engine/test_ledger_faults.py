"""Nothing recorded is lost: the real engine under load through kill -9, a full disk and SIGTERM.

Each test drives concurrent clients against a fast fake upstream and learns every completed
request's id from `X-ProxyPal-Request-Id`; the ledger must then hold a row for each of them.
"""

from __future__ import annotations

import collections
import contextlib
import signal
import sqlite3
import stat
import threading
import time
from pathlib import Path

import httpx

from tests.engine_harness import EngineProcess, fakes_config, free_port
from tests.tmpfs import fill, small_tmpfs

CLIENTS = 6
PER_CLIENT = 150  # an upper bound: the load stops earlier when the engine goes away
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


class Load:
    """Concurrent clients in threads; `completed` holds the ids of good replies that arrived whole,
    `answered` those of every reply that arrived whole (a shutdown's 503 or error event included)."""

    def __init__(self, url: str, per_client: int = PER_CLIENT) -> None:
        self.url = url + "/v1/chat/completions"
        self.per_client = per_client
        self.completed: list[str] = []
        self.answered: list[str] = []
        self.failed = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(CLIENTS)]

    def start(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def join(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        for t in self._threads:
            t.join(max(0.1, deadline - time.time()))
        assert not any(t.is_alive() for t in self._threads), "load did not finish in time"

    def _client(self, i: int) -> None:
        with httpx.Client(timeout=10) as client:
            for n in range(self.per_client):
                if self.stop.is_set():
                    return
                try:
                    rid, good = self._one(client, stream=(i + n) % 2 == 0)
                except httpx.HTTPError:
                    with self._lock:
                        self.failed += 1
                    if self.stop.is_set():
                        return
                    continue
                with self._lock:
                    self.answered.append(rid)
                    if good:
                        self.completed.append(rid)

    def _one(self, client: httpx.Client, stream: bool) -> tuple[str, bool]:
        with client.stream("POST", self.url, json={**BODY, "stream": stream}) as r:
            body = r.read()  # raises when the connection drops before the reply is whole
        good = r.status_code == 200 and ((b"[DONE]" in body) if stream else (b"Hello from" in body))
        # Only a draining engine answers anything else here: a 503, or a stream ended by an error event.
        assert good or b"server_shutdown" in body or b"shutting down" in body, body
        return r.headers["X-ProxyPal-Request-Id"], good


def _start(cfg: str, port: int, home: str) -> tuple[EngineProcess, collections.deque[str]]:
    """An engine and the stderr lines the harness drains from it (a full pipe would stall its logging)."""
    eng = EngineProcess(cfg, port, home=home).start()
    return eng, eng.stderr_lines


def _ledger_ids(home: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(home / "data" / "usage.db")) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM requests")}


def _wait(pred, timeout: float = 20.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def _run_dirs(home: Path) -> list[Path]:
    return [d for d in (home / "data" / "journal").iterdir() if d.is_dir()]


def test_kill_9_under_load_loses_no_completed_request(fakes, tmp_path):
    """Two rounds of load and kill -9 on one home, then a restart: every completed reply has its row."""
    home = tmp_path
    port = free_port()
    cfg = fakes_config(port, *fakes)
    completed: set[str] = set()
    only_journaled: set[str] = set()  # completed, but not in SQLite when the engine died
    for _ in range(2):
        eng, _ = _start(cfg, port, str(home))
        load = Load(eng.url).start()
        assert _wait(lambda load=load: len(load.completed) >= 200, 60), f"only {len(load.completed)} completed"
        [run] = _run_dirs(home)  # an earlier dead run's directory was adopted at start-up
        assert stat.S_IMODE(run.stat().st_mode) == 0o700
        assert stat.S_IMODE((run / "live.jsonl").stat().st_mode) == 0o600
        eng.stop(signal.SIGKILL)
        load.stop.set()
        load.join()
        completed |= set(load.completed)
        only_journaled |= set(load.completed) - _ledger_ids(home)
    eng, _ = _start(cfg, port, str(home))
    try:
        after = _ledger_ids(home)
        print(f"kill -9 (2 rounds): completed={len(completed)} only_in_journal_at_kill={len(only_journaled)} "
              f"rows_after_restart={len(completed & after)} total_rows={len(after)}")  # fmt: skip
        assert only_journaled, "the kills should have left completed rows only in the journal"
        assert completed <= after, f"{len(completed - after)} completed requests have no ledger row"
        assert len(_run_dirs(home)) == 1, "the dead runs' journals were replayed and removed"
        assert eng.api("GET", "/v0/status").json()["ledger"]["ok"] is True
    finally:
        eng.stop()
    assert _ledger_ids(home) == after, "a clean stop adds nothing and replays nothing twice"


def test_sigterm_under_load_records_every_completed_request(fakes, tmp_path):
    home = tmp_path
    port = free_port()
    eng, _ = _start(fakes_config(port, *fakes), port, str(home))
    load = Load(eng.url).start()
    assert _wait(lambda: len(load.completed) >= 200, 60)
    refused = httpx.post(eng.url + "/v1/chat/completions", json={**BODY, "model": "nope"}, timeout=10)
    assert refused.status_code == 404 and refused.headers["X-ProxyPal-Request-Id"]
    assert eng.stop(signal.SIGTERM) == 0
    load.stop.set()
    load.join()
    completed, answered, rows = set(load.completed), set(load.answered), _ledger_ids(home)
    print(f"SIGTERM: completed={len(completed)} answered={len(answered)} rows={len(rows)} "
          f"completed_with_rows={len(completed & rows)}")  # fmt: skip
    assert completed <= rows
    # Calls the drain ended (503 or a closing error event) reached their clients whole, and are recorded too.
    assert rows == answered | {refused.headers["X-ProxyPal-Request-Id"]}, "an error reply names its row too"
    assert not _run_dirs(home), "a clean shutdown commits everything and removes its journal"


def test_full_disk_keeps_serving_reports_and_writes_everything_later(fakes, tmp_path):
    home = tmp_path
    data = home / "data"
    port = free_port()
    with small_tmpfs(data, "4m"):
        eng, logs = _start(fakes_config(port, *fakes), port, str(home))
        try:
            sub = eng.subscribe()
            assert sub.wait_for("hello")["snapshot"]["stats"]["ledger"]["ok"] is True
            warm = Load(eng.url, per_client=5).start()
            warm.join()
            assert _wait(lambda: eng.api("GET", "/v0/status").json()["ledger"]["backlog"] == 0)
            fill(data / "filler")
            load = Load(eng.url, per_client=60).start()
            load.join()
            assert load.failed == 0 and len(load.completed) == CLIENTS * 60, "requests succeed on a full disk"
            ledger = eng.api("GET", "/v0/status").json()["ledger"]
            print(f"full disk: completed={len(load.completed)} status.ledger={ledger}")
            assert ledger["ok"] is False and ledger["backlog"] > 0 and ledger["last_error"]
            assert ledger["journal_failed"] > 0 and ledger["dropped"] == 0
            assert _wait(lambda: any("ledger write failed" in line for line in logs)), "said loudly, in the log"
            assert sub.wait_for("stats", lambda e: not e["ledger"]["ok"])["ledger"]["backlog"] > 0
            (data / "filler").unlink()
            assert _wait(lambda: eng.api("GET", "/v0/status").json()["ledger"]["backlog"] == 0, 30)
            ledger = eng.api("GET", "/v0/status").json()["ledger"]
            assert ledger["ok"] is True and ledger["dropped"] == 0
            sub.wait_for("stats", lambda e: e["ledger"]["ok"] and e["ledger"]["backlog"] == 0)
            sub.close()
            rows = _ledger_ids(home)
            print(f"full disk after freeing: completed={len(load.completed)} "
                  f"rows={len(set(load.completed) & rows)}")  # fmt: skip
            assert set(load.completed) <= rows
            assert set(warm.completed) <= rows
        finally:
            eng.stop()
