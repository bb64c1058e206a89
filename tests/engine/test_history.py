"""GET /v0/history: figures computed from the ledger file, over days the engine was not even running."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from proxy_engine.usage.ledger import CostLedger
from tests.engine_harness import EngineProcess, fakes_config, free_port

TODAY = datetime.now().replace(hour=12, minute=0, second=0, microsecond=0)
DAYS = [TODAY - timedelta(days=n) for n in (9, 8, 1)]


def _record(i: int, when: datetime, provider: str, client: str, status: int, latency: float, cost: float) -> dict:
    return {"id": f"h{i:04d}", "ts_start": when.timestamp() + i, "client": client, "provider": provider,
            "model": f"{provider}-m", "model_requested": "Smart", "status": status, "latency_ms": latency,
            "input_tokens": 100, "output_tokens": 10, "cost_usd": cost, "stream": 0, "attempts": 1}  # fmt: skip


def _rows() -> list[dict]:
    """Day 0: 20 openai calls, latencies 10..200 ms, 2 errors; day 1: 3 anthropic; day 2: one of each."""
    rows = [_record(i, DAYS[0], "openai", "laptop", 500 if i < 2 else 200, 10.0 * (i + 1), 0.01) for i in range(20)]
    rows += [_record(20 + i, DAYS[1], "anthropic", "ci", 200, 50.0, 0.5) for i in range(3)]
    rows += [_record(30, DAYS[2], "openai", "laptop", 429, 5.0, 0.0)]
    rows += [_record(31, DAYS[2], "anthropic", "laptop", 200, 70.0, 0.25)]
    return rows


async def _write_ledger(home: Path) -> None:
    ledger = CostLedger(home / "data" / "usage.db", home / "data" / "journal")
    await ledger.open()
    for r in _rows():
        ledger.append(r)
    await ledger.close()


def test_history_by_day_provider_and_client_from_the_ledger(fakes):
    home = Path(tempfile.mkdtemp(prefix="pp-hist-"))
    (home / "data").mkdir(mode=0o700)
    asyncio.run(_write_ledger(home))
    port = free_port()
    with EngineProcess(fakes_config(port, *fakes), port, home=str(home)) as eng:
        days = eng.api("GET", "/v0/history", params={"by": "day"}).json()["rows"]
        assert [d["period"] for d in days] == [d.strftime("%Y-%m-%d") for d in DAYS]
        first = days[0]
        assert (first["requests"], first["errors"], first["success_rate"]) == (20, 2, 0.9)
        assert (first["input_tokens"], first["output_tokens"], round(first["cost_usd"], 6)) == (2000, 200, 0.2)
        assert first["p95_latency_ms"] == 190.0  # the 19th of 20 sorted latencies

        by_provider = eng.api("GET", "/v0/history", params={"by": "month", "group": "provider"}).json()["rows"]
        totals: dict[str, list[float]] = {}
        for r in by_provider:
            t = totals.setdefault(r["provider"], [0, 0.0])
            t[0] += r["requests"]
            t[1] += r["cost_usd"]
        assert {p: (n, round(c, 6)) for p, (n, c) in totals.items()} == {"openai": (21, 0.2), "anthropic": (4, 1.75)}

        frm = DAYS[2].strftime("%Y-%m-%d")
        by_client = eng.api("GET", "/v0/history", params={"group": "client", "from": frm}).json()["rows"]
        assert [(r["client"], r["requests"], r["success_rate"]) for r in by_client] == [("laptop", 2, 0.5)]

        for bad in ({"by": "year"}, {"group": "colour"}, {"from": "yesterday"}, {"from": "10", "to": "5"}):
            r = eng.api("GET", "/v0/history", params=bad)
            assert r.status_code == 400 and "error" in r.json()
        assert httpx.get(eng.url + "/v0/history").status_code == 401
