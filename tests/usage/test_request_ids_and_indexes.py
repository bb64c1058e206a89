"""Request ids sort by time and stay unique across processes; old ids still name their rows and captures;
the session and member indexes hold only the rows that have one, replace older full ones, and are the
ones SQLite's planner picks for the queries that read them."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from proxy_engine.members.usage import _BY_MEMBER
from proxy_engine.record import RequestRecord
from proxy_engine.recorder.store import CaptureStore, valid_id
from proxy_engine.request_ids import is_request_id, new_request_id
from proxy_engine.usage.ledger import CostLedger
from proxy_engine.usage.sessions import query_session_requests

_OLD_ID = "9c9a9caa6e639c85"  # 16 random hex digits, as every ledger written before held
# The ledger as an engine before the partial indexes left it: full indexes on session and member.
_OLD_LEDGER = """
CREATE TABLE requests (
  id TEXT PRIMARY KEY, ts_start REAL NOT NULL, client TEXT, agent TEXT, dialect_in TEXT, dialect_out TEXT,
  model_requested TEXT, provider TEXT, model TEXT, stream INTEGER, status INTEGER, latency_ms REAL, ttfb_ms REAL,
  input_tokens INTEGER, output_tokens INTEGER, cache_read_tokens INTEGER, cache_write_tokens INTEGER,
  cost_usd REAL, attempts INTEGER, error TEXT, credential TEXT, session TEXT, paid_fallback INTEGER, member TEXT,
  team TEXT);
CREATE INDEX requests_ts ON requests(ts_start);
CREATE INDEX requests_session ON requests(session, ts_start);
CREATE INDEX requests_member ON requests(member, ts_start);
INSERT INTO requests (id, ts_start, client, model, status, session, member)
  VALUES ('9c9a9caa6e639c85', 100.0, 'laptop', 'gpt-4o', 200, 's-old', 'k-old');
"""


def test_ids_are_hex_and_sort_in_the_order_requests_started() -> None:
    ts = time.time()
    ids = [new_request_id(ts + i / 1000) for i in range(0, 5000, 7)]
    assert all(len(i) == 32 and is_request_id(i) for i in ids)
    assert ids == sorted(ids)
    assert int(ids[0][:12], 16) == int(ts * 1000), "the first 12 digits are the start in Unix milliseconds"
    rec = RequestRecord("openai_chat", "codex/1.0")
    assert rec.id[:12] == new_request_id(rec.ts_start)[:12] and is_request_id(rec.id)


_MAKE_IDS = "from proxy_engine.request_ids import new_request_id as n; print(' '.join(n(1.8e9) for _ in range(20000)))"


def test_ids_made_in_one_millisecond_by_separate_processes_never_collide() -> None:
    """`serve --workers N` and team replicas make ids at once; the random bits alone keep them apart."""
    procs = [subprocess.run([sys.executable, "-c", _MAKE_IDS], capture_output=True, text=True, check=True)
             for _ in range(2)]  # fmt: skip
    ids = [i for p in procs for i in p.stdout.split()]
    assert len(ids) == 40000 and len(set(ids)) == 40000
    assert {i[:12] for i in ids} == {f"{int(1.8e9 * 1000):012x}"}


def test_a_forked_process_never_repeats_its_parents_ids() -> None:
    """Random parts are read from os.urandom in batches; a fork must not hand out the parent's rest."""
    new_request_id(1.8e9)  # the batch is read
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, then gone without running the test session's exit handlers
        os.write(write, " ".join(new_request_id(1.8e9) for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as f:
        child = set(f.read().split())
    parent = {new_request_id(1.8e9) for _ in range(50)}
    assert len(child) == 50 and not child & parent


def test_capture_names_accept_new_and_old_ids_and_nothing_else(tmp_path: Path) -> None:
    new = new_request_id(time.time())
    assert valid_id(new) and valid_id(_OLD_ID)
    for bad in ("../etc/passwd", new.upper(), new[:-1], _OLD_ID + "0", "", new + "\n"):
        assert not valid_id(bad), bad
    store = CaptureStore(tmp_path / "captures")
    for rid in (new, _OLD_ID):
        store.put({"format": "proxypal-capture/1", "id": rid, "ts": time.time(), "meta": {}})
        assert store.get(rid)["id"] == rid


def _plan(conn: sqlite3.Connection, sql: str, *args: object) -> str:
    return " | ".join(row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", args))


async def test_an_old_ledger_trades_its_full_indexes_for_partial_ones_that_the_queries_use(tmp_path: Path) -> None:
    db = tmp_path / "usage.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(_OLD_LEDGER)
    ledger = CostLedger(db, tmp_path / "journal")
    await ledger.open()
    try:
        for i in range(50):
            rec = RequestRecord("anthropic", "claude-cli/2.0")
            rec.session = "s-1" if i % 10 == 0 else None
            rec.member = "k-1" if i % 5 == 0 else None
            rec.status = 200
            ledger.append(rec.as_dict())
        assert await ledger.flush()
    finally:
        await ledger.close()
    with sqlite3.connect(db) as conn:
        indexes = dict(
            conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'requests'")
        )
        assert "requests_session" not in indexes and "requests_member" not in indexes
        assert indexes["requests_session_set"].endswith("WHERE session IS NOT NULL")
        assert indexes["requests_member_set"].endswith("WHERE member IS NOT NULL")
        assert conn.execute("SELECT count(*) FROM requests INDEXED BY requests_session_set WHERE session = 's-1'"
                            ).fetchone() == (5,)  # fmt: skip
        assert conn.execute("SELECT count(*) FROM requests INDEXED BY requests_member_set WHERE member IS NOT NULL"
                            ).fetchone() == (11,)  # fmt: skip
        sessions = "SELECT * FROM requests WHERE session = ? ORDER BY ts_start DESC LIMIT ?"
        assert "USING INDEX requests_session_set (session=?)" in _plan(conn, sessions, "s-1", 10)
        one_member = _BY_MEMBER.format(only="AND member = ?")  # `GET /v0/members/{id}/usage`
        assert "INDEX requests_member_set (member=? AND ts_start>?)" in _plan(conn, one_member, 0.0, "k-1")
        # The old row, with its 16-digit id, is still there and still found by its session.
    assert [r["id"] for r in query_session_requests(db, "s-old")] == [_OLD_ID]
