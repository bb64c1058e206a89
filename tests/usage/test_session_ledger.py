"""Sessions in the SQLite ledger: the column and its index are added in place to older ledgers, and the
per-session queries (`GET /v0/sessions`, `/v0/requests?session=`) read what was written."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from proxy_engine.usage.ledger import CostLedger
from proxy_engine.usage.sessions import query_session_requests, query_sessions

# The ledger's first schema: no `credential`, no `session`.
_OLD_SCHEMA = """
CREATE TABLE requests (
  id TEXT PRIMARY KEY, ts_start REAL NOT NULL, client TEXT, agent TEXT, dialect_in TEXT, dialect_out TEXT,
  model_requested TEXT, provider TEXT, model TEXT, stream INTEGER, status INTEGER, latency_ms REAL, ttfb_ms REAL,
  input_tokens INTEGER, output_tokens INTEGER, cache_read_tokens INTEGER, cache_write_tokens INTEGER,
  cost_usd REAL, attempts INTEGER, error TEXT);
INSERT INTO requests (id, ts_start, client, agent, model, status, input_tokens, output_tokens)
  VALUES ('old-row', 100.0, 'laptop', 'aider', 'gpt-4o', 200, 10, 2);
"""


def _record(rid: str, ts: float, session: str | None, **kw: Any) -> dict[str, Any]:
    base = {"id": rid, "ts_start": ts, "client": "laptop", "agent": "claude-code", "dialect_in": "anthropic",
            "model_requested": "Smart", "provider": "anthropic", "model": "claude-sonnet-4-6", "stream": True,
            "status": 200, "latency_ms": 10.0, "input_tokens": 100, "output_tokens": 20, "cache_read_tokens": 0,
            "cache_write_tokens": 0, "cost_usd": 0.01, "attempts": 1, "error": None, "session": session}  # fmt: skip
    return {**base, **kw}


async def test_an_old_ledger_gains_the_session_column_and_its_index(tmp_path: Path) -> None:
    db = tmp_path / "usage.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(_OLD_SCHEMA)
    ledger = CostLedger(db, tmp_path / "journal")
    await ledger.open()
    try:
        ledger.append(_record("new-1", 200.0, "s-1"))
        ledger.append(_record("new-2", 300.0, "s-1", status=500, model="gpt-4o", cost_usd=None))
        ledger.append(_record("new-3", 250.0, "s-2", agent="codex"))
        ledger.append(_record("new-4", 400.0, None))
        assert await ledger.flush()
    finally:
        await ledger.close()
    with sqlite3.connect(db) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(requests)")}
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(requests)")}
    assert {"session", "credential"} <= columns
    assert "requests_session_set" in indexes

    sessions = query_sessions(db)
    assert [s["session"] for s in sessions] == ["s-1", "s-2"], "latest seen first; rows without a session are none"
    s1 = sessions[0]
    assert (s1["requests"], s1["errors"], s1["input_tokens"], s1["output_tokens"]) == (2, 1, 200, 40)
    assert s1["cost_usd"] == 0.01 and (s1["first_seen"], s1["last_seen"]) == (200.0, 300.0)
    assert sorted(s1["models"]) == ["claude-sonnet-4-6", "gpt-4o"]
    assert sessions[1]["agent"] == "codex"
    assert query_sessions(db, since=260.0)[0]["session"] == "s-1"
    assert len(query_sessions(db, limit=1)) == 1

    rows = query_session_requests(db, "s-1")
    assert [r["id"] for r in rows] == ["new-2", "new-1"] and all(r["session"] == "s-1" for r in rows)
    assert rows[0]["stream"] is True and rows[0]["error"] is None
    assert query_session_requests(db, "no-such-session") == []
    assert query_session_requests(tmp_path / "missing.db", "s-1") == [] and query_sessions(tmp_path / "x.db") == []
