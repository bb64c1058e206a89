"""The Members screen against the real engine: a member key made through /v0/keys and used once shows up
with its team, request, spend against its budget and model, read from the engine's ledger."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from textual.widgets import DataTable

from proxy_engine.paths import Paths
from proxypal_tui.screens.members import MembersScreen
from tests.fakes import FakeOpenAI
from tests.fakes.script import Usage
from tests.tui.conftest import until_ready, wait_for
from tests.tui.test_integration_engine import engine_app, upstream  # noqa: F401  (the fixture, by name)


def _make_member_and_call(listen: str, key_file: Path) -> dict:
    admin = {"Authorization": "Bearer " + key_file.read_text().strip()}
    made = httpx.post(f"http://{listen}/v0/keys", headers=admin, timeout=10,
                      json={"name": "alice", "team": "platform", "monthly_budget_usd": 1.0}).json()  # fmt: skip
    r = httpx.post(f"http://{listen}/v1/chat/completions", headers={"Authorization": f"Bearer {made['key']}"},
                   json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, timeout=20)  # fmt: skip
    assert r.status_code == 200, r.text
    return made


async def test_the_members_screen_reads_the_engine(home: Paths, upstream: FakeOpenAI) -> None:  # noqa: F811
    upstream.script(text="hi", usage=Usage(input_tokens=100_000, output_tokens=10_000))
    app = engine_app(home, upstream)
    async with app.run_test(size=(100, 30)) as pilot:
        await until_ready(app, pilot, within=60)
        made = await asyncio.to_thread(_make_member_and_call, app.engine_status.listen,
                                       home.management_key_file)  # fmt: skip
        await pilot.press("m")
        assert isinstance(app.screen, MembersScreen)
        await wait_for(lambda: any(m.requests == 1 for m in app.session.members.members), pilot, within=15)
        member = app.session.members.members[0]
        assert (member.id, member.name, member.team, member.budget_usd) == (made["id"], "alice", "platform", 1.0)
        assert member.spend_usd > 0 and member.models == ("gpt-4o",) and member.last_seen is not None
        app.redraw_now()
        table = app.screen.query_one("#members-table", DataTable)
        row = [str(c) for c in table.get_row(made["id"])]
        assert row[:2] == ["alice", "platform"] and row[3].endswith("%") and row[6] == "gpt-4o"
        await pilot.press("q")
