"""Journal lines are the row's values as a JSON array; an engine killed with older lines on disk (JSON
objects, or arrays from before a column was added) gets every one of them into the ledger, exact."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from proxy_engine.record import RequestRecord
from proxy_engine.usage.ledger import COLUMNS, CostLedger, from_row
from proxy_engine.usage.tokens import Usage


def _finished(session: str | None) -> dict:
    rec = RequestRecord("anthropic", "claude-cli/2.0 (external, cli)")
    rec.client, rec.model_requested, rec.session = "laptop ✓", "Smart", session
    rec.provider, rec.provider_kind, rec.model, rec.dialect_out = "anthropic", "anthropic", "claude-sonnet-4-6", "x"
    rec.usage, rec.cost_usd, rec.status, rec.attempts = Usage(120, 30, 100, 7), 0.0123, 200, 1
    rec.fail(529, "upstream_overloaded", 'the upstream said "busy"\n')
    return rec.as_dict()


async def test_array_lines_older_object_lines_and_short_arrays_all_replay_exact(tmp_path: Path) -> None:
    db, journal = tmp_path / "usage.db", tmp_path / "journal"
    crashed = CostLedger(db, journal)
    await crashed.open()
    new = [_finished("s-1"), _finished(None)]
    for d in new:
        crashed.append(d)
    live = next(journal.glob("*/live.jsonl"))
    lines = live.read_bytes().splitlines()
    assert [json.loads(line)[0] for line in lines] == [d["id"] for d in new], "one array line per record"
    # An older engine's lines in the same segment: an object, and an array from before `member` and `team`.
    old_object, short_array = _finished("s-2"), _finished(None)
    old_object["id"], short_array["id"] = "9c9a9caa6e639c85", "0123456789abcdef"
    short = [short_array.get(c) for c in COLUMNS[: COLUMNS.index("member")]]
    with live.open("ab") as f:
        f.write(json.dumps(old_object).encode() + b"\n" + json.dumps(short).encode() + b"\n")
    # Killed (no await since the appends, so no batch ran): nothing committed, the fds and flock gone.
    assert crashed._task is not None and crashed._conn is not None
    crashed._task.cancel()
    crashed.journal.close(remove=False)
    crashed._conn.close()

    again = CostLedger(db, journal)
    await again.open()
    await again.close()
    with sqlite3.connect(db) as conn:
        rows = {r[0]: from_row(r) for r in conn.execute(f"SELECT {','.join(COLUMNS)} FROM requests")}
    for d in (*new, old_object):
        assert rows[d["id"]] == {c: d[c] for c in COLUMNS}
    assert rows["0123456789abcdef"] == {c: None if c in ("member", "team") else short_array[c] for c in COLUMNS}
