"""The bare pass-through plus the least any recording proxy must do: what is left for everything else.

`proxy_bench.py --recording-floor` runs this next to the bare floor and the engine. Per request it
also reads the model from the JSON body, reads the usage from the reply (the whole JSON reply, or
the stream events that name `usage`/`usageMetadata`), journals one JSON line with one `os.write`,
and inserts the row into SQLite in batches on a worker thread (the engine's own ledger schema).
No routing, credentials, events, metrics, budgets, quotas, captures or translation.

    python benchmarks/recording_floor.py PORT UPSTREAM_PORT [asyncio|uvloop] DIR
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

UP = "http://127.0.0.1:" + sys.argv[2]
DIR = Path(sys.argv[4])
COLUMNS = ("id", "ts_start", "client", "agent", "dialect_in", "dialect_out", "model_requested", "provider",
           "model", "stream", "status", "latency_ms", "ttfb_ms", "input_tokens", "output_tokens", "cost_usd",
)  # fmt: skip
INSERT = f"INSERT OR IGNORE INTO requests ({','.join(COLUMNS)}) VALUES ({','.join('?' * len(COLUMNS))})"
USAGE_KEYS = (b'"usage"', b'"usageMetadata"')


def _open_db() -> sqlite3.Connection:
    conn = sqlite3.connect(DIR / "floor.db", check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    cols = ", ".join(f"{c} TEXT" if c != "id" else "id TEXT PRIMARY KEY" for c in COLUMNS)
    conn.execute(f"CREATE TABLE IF NOT EXISTS requests ({cols})")
    conn.execute("CREATE INDEX IF NOT EXISTS requests_ts ON requests(ts_start)")
    return conn


def _usage(data: bytes) -> dict | None:
    """The usage object of a whole reply or of the stream events that carry one (the last one wins)."""
    found = None
    for line in data.split(b"\n"):
        if any(k in line for k in USAGE_KEYS):
            text = line[5:] if line.startswith(b"data:") else line
            try:
                obj = json.loads(text)
            except ValueError:
                continue
            if isinstance(obj, dict):
                found = obj.get("usage") or obj.get("usageMetadata") or (obj.get("message") or {}).get("usage")
    return found


async def start(app: web.Application) -> AsyncIterator[None]:
    app["s"] = aiohttp.ClientSession()
    app["db"] = await asyncio.to_thread(_open_db)
    app["fd"] = os.open(DIR / "journal.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    app["pending"] = []
    app["writer"] = asyncio.create_task(_writer(app))
    yield
    app["writer"].cancel()
    await app["s"].close()


async def _writer(app: web.Application) -> None:
    while True:
        await asyncio.sleep(0.5)
        pending = app["pending"]
        rows = pending[:]
        del pending[:]  # the app is started: its keys cannot be rebound
        if rows:
            await asyncio.to_thread(_commit, app["db"], rows)


def _commit(conn: sqlite3.Connection, rows: list[tuple]) -> None:
    with conn:
        conn.executemany(INSERT, rows)


async def proxy(request: web.Request) -> web.StreamResponse:
    t0, ts = time.perf_counter(), time.time()
    body = await request.read()
    model = json.loads(body).get("model")
    headers = {"Content-Type": "application/json", "Authorization": "Bearer k"}
    async with request.app["s"].post(UP + request.path_qs, data=body, headers=headers) as up:
        resp = web.StreamResponse(status=up.status)
        resp.content_type = up.content_type
        await resp.prepare(request)
        ttfb, usage = None, None
        async for chunk in up.content.iter_any():
            if ttfb is None:
                ttfb = time.perf_counter() - t0
            if any(k in chunk for k in USAGE_KEYS):
                usage = _usage(chunk) or usage
            await resp.write(chunk)
        usage = usage or {}
        rec = {"id": os.urandom(8).hex(), "ts_start": ts, "client": "local", "agent": request.headers.get("User-Agent"),
               "dialect_in": "x", "dialect_out": "x", "model_requested": model, "provider": "p", "model": model,
               "stream": False, "status": up.status, "latency_ms": round((time.perf_counter() - t0) * 1000, 2),
               "ttfb_ms": ttfb, "input_tokens": usage.get("prompt_tokens") or usage.get("input_tokens"),
               "output_tokens": usage.get("completion_tokens") or usage.get("output_tokens"), "cost_usd": 0.0,
        }  # fmt: skip
        os.write(request.app["fd"], json.dumps(rec).encode() + b"\n")
        request.app["pending"].append(tuple(rec.values()))
        await resp.write_eof()
        return resp


def main() -> None:
    app = web.Application()
    app.cleanup_ctx.append(start)
    app.router.add_post("/{tail:.*}", proxy)
    loop = None
    if len(sys.argv) > 3 and sys.argv[3] == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None, loop=loop)


if __name__ == "__main__":
    main()
