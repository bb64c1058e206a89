"""PostgreSQL gets the same partial session/member indexes as SQLite, and an older team ledger's full ones
are replaced when a replica opens it (a real server from `tests/servers/`; skipped without one)."""

from __future__ import annotations

from tests.team.stores import opened, pg_fetch


async def test_an_older_postgres_ledger_trades_its_full_indexes_for_partial_ones(postgres_url, tmp_path):
    async with opened("postgres", tmp_path / "first", postgres_url):
        pass
    # As an engine before this change left it: full indexes under the old names.
    for sql in ("DROP INDEX requests_session_set", "DROP INDEX requests_member_set",
                "CREATE INDEX requests_session ON requests(session, ts_start)",
                "CREATE INDEX requests_member ON requests(member, ts_start)"):  # fmt: skip
        await pg_fetch(postgres_url, sql)
    async with opened("postgres", tmp_path / "second", postgres_url) as (_, ledger):
        ledger.append({"id": "9c9a9caa6e639c85", "ts_start": 100.0, "status": 200, "session": "s-1", "member": "k"})
        ledger.append({"id": "0" * 32, "ts_start": 101.0, "status": 200})
        assert await ledger.flush()
    found = {r["indexname"]: r["indexdef"] for r in await pg_fetch(
        postgres_url, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'requests'")}  # fmt: skip
    assert "requests_session" not in found and "requests_member" not in found
    assert found["requests_session_set"].endswith("WHERE (session IS NOT NULL)")
    assert found["requests_member_set"].endswith("WHERE (member IS NOT NULL)")
    rows = await pg_fetch(postgres_url, "SELECT id FROM requests WHERE session = 's-1'")
    assert [r["id"] for r in rows] == ["9c9a9caa6e639c85"]
