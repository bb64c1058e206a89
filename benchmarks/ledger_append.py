"""Benchmark: the CPU cost on the event loop of recording one finished request.

`CostLedger.append` journals the record (JSON encode plus one `os.write` on an O_APPEND fd) and
queues its row; this measures that against queueing alone, and the worker thread's commit.

    python benchmarks/ledger_append.py
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from proxy_engine.record import RequestRecord
from proxy_engine.usage.ledger import CostLedger, to_row
from proxy_engine.usage.tokens import Usage

N = 20_000


def _record() -> dict[str, Any]:
    r = RequestRecord("openai_chat", "OpenAI/Python 1.99")
    r.client, r.model_requested, r.provider, r.model = "laptop", "Smart", "openai", "gpt-4o"
    r.stream, r.status, r.attempts, r.cost_usd = True, 200, 1, 0.0123
    r.usage = Usage(input_tokens=1234, output_tokens=567, cache_read_tokens=100, cache_write_tokens=0)
    return r.as_dict()


def _per_call_us(fn, records: list[dict[str, Any]]) -> float:
    t = time.process_time()
    for rec in records:
        fn(rec)
    return (time.process_time() - t) / len(records) * 1e6


async def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="pp-bench-"))
    try:
        ledger = CostLedger(home / "usage.db", home / "journal", flush_interval=3600)
        await ledger.open()
        records = [_record() for _ in range(N)]
        queue: list[Any] = []
        queued = _per_call_us(lambda r: queue.append((to_row(r), True)), records)
        appended = _per_call_us(ledger.append, records)
        t = time.process_time()
        await ledger.flush()
        commit = (time.process_time() - t) / N * 1e6
        print(f"per request on the loop: queue only {queued:.1f} us, journal + queue {appended:.1f} us "
              f"(journal {appended - queued:.1f} us); commit in the worker {commit:.1f} us/row")  # fmt: skip
        await ledger.close()
    finally:
        shutil.rmtree(home)


if __name__ == "__main__":
    asyncio.run(main())
