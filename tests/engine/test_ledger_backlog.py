"""The ledger's backlog bound and journal replay, on real SQLite files, real journal files and a
real filesystem that fills up (a small tmpfs)."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from pathlib import Path

import pytest

from proxy_engine.usage.ledger import CostLedger
from tests.tmpfs import fill, small_tmpfs


def _record(i: int, client: str = "laptop", cost: float = 0.01) -> dict:
    return {"id": f"r{i:06d}", "ts_start": time.time(), "client": client, "status": 200, "stream": False,
            "latency_ms": 1.0, "input_tokens": 10, "output_tokens": 5, "cost_usd": cost, "attempts": 1,
            "error": {"code": "x", "message": "y"} if i % 7 == 0 else None}  # fmt: skip


def _ids(db: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM requests ORDER BY id")]


def _segments(journal: Path) -> list[Path]:
    return sorted(journal.glob("*/*.jsonl"))


def _crash(ledger: CostLedger) -> None:
    """What a kill leaves: nothing more committed, and the process's fds (so its flock) gone."""
    assert ledger._task is not None and ledger._conn is not None
    ledger._task.cancel()
    ledger.journal.close(remove=False)
    ledger._conn.close()


def _append_bytes(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


async def test_over_the_bound_journaled_rows_leave_memory_and_are_written_later(tmp_path, caplog):
    db_dir, journal = tmp_path / "db", tmp_path / "journal"
    with small_tmpfs(db_dir, "2m"):
        ledger = CostLedger(db_dir / "usage.db", journal, max_backlog=100)
        await ledger.open()
        fill(db_dir / "filler")
        with caplog.at_level(logging.WARNING, "proxy_engine"):
            for i in range(300):
                ledger.append(_record(i))
            assert await ledger.flush() is False
        health = ledger.health()
        assert health["ok"] is False and health["backlog"] == 300 and health["dropped"] == 0
        assert "database or disk is full" in health["last_error"]
        assert "200 rows moved to the journal only" in caplog.text
        assert "DROPPED" not in caplog.text
        for i in range(300, 350):  # more arrive while the disk is full
            ledger.append(_record(i))
        (db_dir / "filler").unlink()
        assert await ledger.flush() is True
        assert _ids(db_dir / "usage.db") == [f"r{i:06d}" for i in range(350)]
        health = ledger.health()
        assert health["ok"] is True and health["backlog"] == 0 and health["dropped"] == 0
        assert health["journal_failed"] == 0, "the journal had room all along"
        assert [p.name for p in _segments(journal)] == ["live.jsonl"]
        await ledger.close()
    assert not _segments(journal), "a clean close removes the run's journal"


async def test_rows_in_neither_sqlite_nor_journal_are_dropped_and_counted(tmp_path, caplog):
    disk = tmp_path / "disk"
    with small_tmpfs(disk, "2m"):
        ledger = CostLedger(disk / "usage.db", disk / "journal", max_backlog=100)
        await ledger.open()
        fill(disk / "filler")
        with caplog.at_level(logging.WARNING, "proxy_engine"):
            for i in range(300):
                ledger.append(_record(i))
            assert await ledger.flush() is False
        health = ledger.health()
        assert health["dropped"] == 200 and health["backlog"] == 100 and health["journal_failed"] == 300
        assert "200 rows DROPPED" in caplog.text
        (disk / "filler").unlink()
        assert await ledger.flush() is True
        assert _ids(disk / "usage.db") == [f"r{i:06d}" for i in range(200, 300)], "the newest rows are kept"
        assert ledger.health()["ok"] is True, "the journal is probed and works again"
        await ledger.close()


async def test_replay_after_a_crash_is_idempotent_and_counts_toward_budgets(tmp_path):
    db, journal = tmp_path / "usage.db", tmp_path / "journal"
    crashed = CostLedger(db, journal)
    await crashed.open()
    for i in range(40):
        crashed.append(_record(i, cost=0.5))
    _crash(crashed)
    _append_bytes(_segments(journal)[0], b'{"id":"torn","ts_sta')  # a write cut short by the kill
    assert _ids(db) == []

    again = CostLedger(db, journal)
    await again.open()
    assert _ids(db) == [f"r{i:06d}" for i in range(40)]
    assert await again.spend_by_client(0.0) == {"laptop": pytest.approx(20.0)}
    assert len(list(journal.iterdir())) == 1, "the dead run's directory was adopted and removed"
    _crash(again)  # again, after the replay committed

    third = CostLedger(db, journal)
    await third.open()
    assert _ids(db) == [f"r{i:06d}" for i in range(40)], "no row twice"
    await third.close()


async def test_a_live_engines_journal_is_not_adopted(tmp_path):
    journal = tmp_path / "journal"
    first = CostLedger(tmp_path / "usage.db", journal, flush_interval=60)
    await first.open()
    first.append(_record(1))
    second = CostLedger(tmp_path / "usage.db", journal)
    await second.open()
    assert first.journal.dir is not None and first.journal.dir.is_dir()
    assert _ids(tmp_path / "usage.db") == [], "the live engine's row is its own to commit"
    await second.close()
    await first.close()
    assert _ids(tmp_path / "usage.db") == ["r000001"]
    assert oct(os.stat(journal).st_mode & 0o777) == "0o700"
