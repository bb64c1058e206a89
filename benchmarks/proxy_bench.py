"""Proxy overhead benchmark: the engine against a bare aiohttp pass-through, on one fast local upstream.

Reports per target and scenario: requests/s, proxy CPU ms per request (user+sys of the proxy process
divided by requests), p50/p99 added latency over calling the upstream directly, streaming time to
first byte, and peak RSS. Not a test: run `python benchmarks/proxy_bench.py [--requests N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import aiohttp
import psutil

CHAT_JSON = json.dumps(
    {"id": "c1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
     "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello " * 40}, "finish_reason": "stop"}],
     "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160}}
).encode()  # fmt: skip


def _chunk(content: str | None, finish: str | None = None, usage: dict | None = None) -> bytes:
    choices = [] if usage else [{"index": 0, "delta": {"content": content} if content else {}, "finish_reason": finish}]
    obj = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini", "choices": choices}
    if usage:
        obj["usage"] = usage
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


STREAM_EVENTS = [_chunk("tok ") for _ in range(20)] + [
    _chunk(None, "stop"),
    _chunk(None, usage={"prompt_tokens": 120, "completion_tokens": 20, "total_tokens": 140}),
    b"data: [DONE]\n\n",
]

UPSTREAM = textwrap.dedent(
    """
    import sys
    from aiohttp import web
    sys.path.insert(0, sys.argv[2])
    from proxy_bench import CHAT_JSON, STREAM_EVENTS

    async def chat(request):
        body = await request.json()
        if not body.get("stream"):
            return web.Response(body=CHAT_JSON, content_type="application/json")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for ev in STREAM_EVENTS:
            await resp.write(ev)
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
    """
)

# The Python floor: ~40 lines, one shared ClientSession, streams bytes through unchanged.
BARE = textwrap.dedent(
    """
    import sys
    import aiohttp
    from aiohttp import web

    UP = "http://127.0.0.1:" + sys.argv[2]

    async def start(app):
        app["s"] = aiohttp.ClientSession()
        yield
        await app["s"].close()

    async def proxy(request):
        body = await request.read()
        headers = {"Content-Type": "application/json", "Authorization": "Bearer k"}
        async with request.app["s"].post(UP + request.path, data=body, headers=headers) as up:
            resp = web.StreamResponse(status=up.status)
            resp.content_type = up.content_type
            await resp.prepare(request)
            async for chunk in up.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
            return resp

    app = web.Application()
    app.cleanup_ctx.append(start)
    app.router.add_post("/{tail:.*}", proxy)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
    """
)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened")


async def one(session, url, body, stream) -> tuple[float, float]:
    t0 = time.perf_counter()
    async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
        first = None
        async for _ in r.content.iter_any():
            if first is None:
                first = time.perf_counter()
        if r.status != 200:
            raise RuntimeError(f"status {r.status}")
    end = time.perf_counter()
    return (end - t0) * 1000, ((first or end) - t0) * 1000


async def load(url: str, body: bytes, stream: bool, n: int, concurrency: int) -> dict:
    lat, ttfb = [], []
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as session:
        for _ in range(20):  # warm-up
            await one(session, url, body, stream)
        queue = iter(range(n))

        async def worker():
            for _ in queue:
                a, b = await one(session, url, body, stream)
                lat.append(a)
                ttfb.append(b)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    lat.sort()
    ttfb.sort()
    return {"rps": n / elapsed, "lat": lat, "ttfb": ttfb}


def pct(xs: list[float], p: float) -> float:
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def measure(proc: psutil.Process | None, url, body, stream, n, conc) -> dict:
    cpu0 = proc.cpu_times() if proc else None
    res = asyncio.run(load(url, body, stream, n, conc))
    if proc:
        cpu1 = proc.cpu_times()
        res["cpu_ms"] = ((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) * 1000 / n
        res["rss_mib"] = proc.memory_info().rss / 2**20
        with open(f"/proc/{proc.pid}/status") as f:
            hwm = next(line for line in f if line.startswith("VmHWM"))
        res["peak_rss_mib"] = int(hwm.split()[1]) / 1024
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    here = str(Path(__file__).parent)
    up_port, bare_port, eng_port = free_port(), free_port(), free_port()
    home = tempfile.mkdtemp(prefix="pp-bench-")
    Path(home, "config.yaml").write_text(
        f"port: {eng_port}\nproviders:\n  openai: {{base_url: 'http://127.0.0.1:{up_port}/v1', api_key: env:BK}}\n"
        "models:\n  Rush: {openai: gpt-4o-mini}\n"
    )
    env = dict(os.environ, PROXYPAL_HOME=home, BK="bench-key", PROXYPAL_LOG_LEVEL="warning")
    procs = [
        subprocess.Popen([sys.executable, "-c", UPSTREAM, str(up_port), here]),
        subprocess.Popen([sys.executable, "-c", BARE, str(bare_port), str(up_port)]),
        subprocess.Popen([sys.executable, "-m", "proxy_engine", "serve"], env=env, stderr=subprocess.DEVNULL),
    ]
    try:
        for p in (up_port, bare_port, eng_port):
            wait_port(p)
        bare, eng = psutil.Process(procs[1].pid), psutil.Process(procs[2].pid)
        chat = {"model": "Rush", "messages": [{"role": "user", "content": "hello " * 50}]}
        scenarios = [
            ("chat json", "/v1/chat/completions", chat, False),
            ("chat stream", "/v1/chat/completions", {**chat, "stream": True}, True),
        ]
        translated = {"model": "Rush", "max_tokens": 100, "stream": True,
                      "messages": [{"role": "user", "content": "hello " * 50}]}  # fmt: skip
        n, c = args.requests, args.concurrency
        print(f"{n} requests per run, concurrency {c}, {os.cpu_count()} cores\n")
        header = f"{'scenario':<28}{'target':<8}{'req/s':>8}{'cpu ms/req':>12}{'p50 +ms':>9}{'p99 +ms':>9}"
        print(header + f"{'ttfb +ms':>10}{'peak RSS':>10}")
        for name, path, body, stream in scenarios:
            raw = json.dumps(body).encode()
            direct_body = json.dumps({**body, "model": "gpt-4o-mini"}).encode()
            direct = measure(None, f"http://127.0.0.1:{up_port}{path}", direct_body, stream, n, c)
            for label, proc, port, b in (("bare", bare, bare_port, direct_body), ("engine", eng, eng_port, raw)):
                r = measure(proc, f"http://127.0.0.1:{port}{path}", b, stream, n, c)
                add50 = pct(r["lat"], 0.5) - pct(direct["lat"], 0.5)
                add99 = pct(r["lat"], 0.99) - pct(direct["lat"], 0.99)
                print(f"{name:<28}{label:<8}{r['rps']:>8.0f}{r['cpu_ms']:>12.3f}{add50:>9.2f}{add99:>9.2f}"
                      f"{pct(r['ttfb'], 0.5) - pct(direct['ttfb'], 0.5):>10.2f}{r['peak_rss_mib']:>9.1f}M")  # fmt: skip
        r = measure(eng, f"http://127.0.0.1:{eng_port}/v1/messages", json.dumps(translated).encode(), True, n, c)
        print(f"{'anthropic->openai stream':<28}{'engine':<8}{r['rps']:>8.0f}{r['cpu_ms']:>12.3f}{'':>9}{'':>9}"
              f"{'':>10}{r['peak_rss_mib']:>9.1f}M  (ttfb p50 {pct(r['ttfb'], 0.5):.2f} ms)")  # fmt: skip
        print(f"\nengine ledger rows: {count_rows(home)}")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
    return 0


def count_rows(home: str) -> int:
    import sqlite3

    time.sleep(0.6)
    with sqlite3.connect(Path(home, "data", "usage.db")) as db:
        return db.execute("SELECT count(*) FROM requests").fetchone()[0]


if __name__ == "__main__":
    raise SystemExit(main())
