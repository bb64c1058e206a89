"""Benchmark: the TUI under a flood of engine events.

A producer *process* serves the engine's event protocol on a real Unix socket (and the management
API on 127.0.0.1) and writes synthetic events at --rate per second for --seconds. The app runs
headless (Textual's run_test) attached to it, on the Requests screen (the heaviest view) with
periodic switches to the Dashboard. Every --key-every seconds a key is pressed and the time until
its action has run is measured. Memory (RSS of this process) is sampled throughout.

    python benchmarks/tui_feed.py                 # 1,000 events/s for 60 s
    python benchmarks/tui_feed.py --rate 2000 --seconds 20
"""

# Polling loops and small file reads are the point here (measuring latency), not a flaw:
# ruff: noqa: ASYNC110, ASYNC240

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from proxy_engine.paths import resolve_paths  # noqa: E402
from proxy_engine.protocol import encode_event  # noqa: E402

# ---- producer process -------------------------------------------------------------------------


async def produce(config: Path, rate: int, seconds: float, ready_file: Path) -> None:
    from tests.tui.feed_script import demo_script, record
    from tests.tui.standin import ScriptedEngine

    paths = resolve_paths(config)
    import yaml

    port = int(yaml.safe_load(config.read_text())["port"])
    script = demo_script(n=50, now=time.time())
    script.ts = 0.0
    engine = ScriptedEngine(paths, port, script)
    await engine.start()
    ready_file.write_text("ready")
    while not engine.subscribers:
        await asyncio.sleep(0.01)
    tick = 0.01
    per_tick = max(2, rate * tick)
    sent = 0
    start = time.perf_counter()
    i = 0
    next_stats = start
    while (now := time.perf_counter()) - start < seconds:
        due = int((now - start) * rate) - sent
        chunks = []
        while due > 0:
            i += 1
            rid = f"bench-{i}"
            chunks.append(
                encode_event(
                    "request.started",
                    {
                        "id": rid,
                        "model_requested": "Smart",
                        "provider": "anthropic",
                        "model": "claude-opus-4-5",
                        "client": "bench",
                        "stream": True,
                    },
                )
            )
            rec = record(i % 1000, now=time.time())
            rec["id"] = rid
            rec["ts_start"] = time.time()
            chunks.append(encode_event("request.finished", rec))
            due -= 2
            sent += 2
        if now >= next_stats:
            chunks.append(encode_event("stats", script.stats | {"requests": i}))
            chunks.append(encode_event("log", {"level": "info", "logger": "bench", "message": f"{sent} events sent"}))
            sent += 2
            next_stats = now + 0.5
        if chunks:
            data = b"".join(chunks)
            for w in list(engine.subscribers):
                w.write(data)
                await w.drain()
        await asyncio.sleep(max(0.0, tick - (time.perf_counter() - now)))
    elapsed = time.perf_counter() - start
    ready_file.write_text(json.dumps({"sent": sent, "elapsed": elapsed, "per_tick": per_tick}))
    await asyncio.sleep(3600)  # the benchmark stops this process when it is done


# ---- the app side -----------------------------------------------------------------------------


async def run_app(
    config: Path, seconds: float, key_every: float, result_file: Path, trace: bool = False
) -> dict[str, Any]:
    from proxypal_tui.app import ProxyPalApp
    from proxypal_tui.core.engine_state import RunningEngine
    from proxypal_tui.core.settings import TuiSettings
    from proxypal_tui.options import AppOptions
    from proxypal_tui.screens.dashboard import DashboardScreen
    from proxypal_tui.screens.requests import RequestsScreen

    paths = resolve_paths(config)
    app = ProxyPalApp(
        AppOptions(config_path=config, paths=paths, attach_only=True, settings=TuiSettings(), watch_themes=False)
    )
    me = psutil.Process()
    rss: list[tuple[float, int]] = []
    blocks: list[int] = []
    key_ms: list[float] = []
    switch_ms: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        deadline = time.monotonic() + 30
        while app.engine_status.state is not RunningEngine.READY:
            if time.monotonic() > deadline:
                raise SystemExit("the app never attached to the producer")
            await asyncio.sleep(0.05)
        await pilot.press("r")
        start = time.monotonic()
        tracing: list[Any] = []
        if trace:
            import tracemalloc

            tracemalloc.start(12)
        last_key = start
        n = 0
        while True:
            now = time.monotonic()
            if now - start > seconds and result_file.read_text().startswith("{"):
                break
            if now - start > seconds + 30:
                break
            if now - last_key >= key_every:
                last_key = now
                n += 1
                if n % 5 == 0:  # a screen switch and back: compose + redraw under load
                    target, back = ("d", DashboardScreen), ("r", RequestsScreen)
                    for key, cls in (target, back):
                        t0 = time.perf_counter()
                        press = asyncio.ensure_future(pilot.press(key))
                        while not isinstance(app.screen, cls):
                            await asyncio.sleep(0.0005)
                        switch_ms.append((time.perf_counter() - t0) * 1000)
                        await press
                else:
                    before = app.feed_paused
                    t0 = time.perf_counter()
                    press = asyncio.ensure_future(pilot.press("space"))
                    while app.feed_paused == before:
                        await asyncio.sleep(0.0005)
                    key_ms.append((time.perf_counter() - t0) * 1000)
                    await press
                rss.append((now - start, me.memory_info().rss))
                blocks.append(sys.getallocatedblocks())
                if trace and len(tracing) < 2 and now - start > seconds * (0.3 + 0.6 * len(tracing)):
                    import tracemalloc

                    tracing.append(tracemalloc.take_snapshot())
            await asyncio.sleep(0.01)
        if len(tracing) == 2:
            for stat in tracing[1].compare_to(tracing[0], "lineno")[:15]:
                print(stat)
                for line in stat.traceback.format()[-1:]:
                    print("   ", line)
        seen = app.live.events_seen
        dropped_engine = app.live.dropped_by_engine
        dropped_ui = app.supervisor.pump.dropped
        received = app.supervisor.pump.received
        kept = len(app.live.feed)
    return {
        "events_handled": seen,
        "events_received": received,
        "dropped_by_engine": dropped_engine,
        "dropped_in_tui": dropped_ui,
        "feed_kept": kept,
        "key_ms": key_ms,
        "switch_ms": switch_ms,
        "rss": rss,
        "blocks": blocks,
    }


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=int, default=1000, help="events per second")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--key-every", type=float, default=1.0, help="seconds between measured key presses")
    ap.add_argument("--trace-memory", action="store_true", help="print where memory grew (tracemalloc)")
    ap.add_argument("--producer", nargs=3, metavar=("CONFIG", "READY_FILE", "RATE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.producer:
        config, ready, rate = args.producer
        asyncio.run(produce(Path(config), int(rate), args.seconds, Path(ready)))
        return 0

    home = Path(tempfile.mkdtemp(prefix="pp-bench-"))
    os.environ["PROXYPAL_HOME"] = str(home)
    config = home / "config.yaml"
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config.write_text(f"port: {port}\nhost: 127.0.0.1\nproviders:\n  anthropic: {{api_key: env:X}}\n")
    ready = home / "producer.state"
    ready.write_text("")
    producer = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--seconds",
            str(args.seconds),
            "--producer",
            str(config),
            str(ready),
            str(args.rate),
        ],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    try:
        while ready.read_text() == "":
            if producer.poll() is not None:
                raise SystemExit("the producer died")
            time.sleep(0.05)
        result = asyncio.run(run_app(config, args.seconds, args.key_every, ready, args.trace_memory))
    finally:
        producer.terminate()
        producer.wait(10)
    produced = json.loads(ready.read_text()) if ready.read_text().startswith("{") else {}
    rss = result["rss"]
    mb = [r / 1_048_576 for _, r in rss]
    third = max(1, len(mb) // 3)
    print(
        f"events sent        : {produced.get('sent')} in {produced.get('elapsed', 0):.1f}s "
        f"({produced.get('sent', 0) / max(produced.get('elapsed', 1), 1e-9):.0f}/s)"
    )
    print(f"events handled     : {result['events_handled']} (received {result['events_received']})")
    print(f"dropped            : engine {result['dropped_by_engine']}, tui {result['dropped_in_tui']}")
    print(f"feed kept (bounded): {result['feed_kept']}")
    k, s = result["key_ms"], result["switch_ms"]
    for label, xs in (("key -> action (ms) ", k), ("screen switch (ms) ", s)):
        top = max(xs, default=0)
        print(f"{label}: n={len(xs)} p50={pct(xs, 0.5):.1f} p95={pct(xs, 0.95):.1f} max={top:.1f}")
    if mb:
        marks = [f"{t:.0f}s:{r / 1_048_576:.0f}" for t, r in rss[:: max(1, len(rss) // 8)]]
        print(f"RSS timeline (MB)  : {' '.join(marks)}")
        step = max(1, len(result["blocks"]) // 8)
        print(f"Python blocks (k)  : {' '.join(f'{b // 1000}' for b in result['blocks'][::step])}")
        print(
            f"RSS (MB)           : first third avg {statistics.mean(mb[:third]):.1f}, "
            f"last third avg {statistics.mean(mb[-third:]):.1f}, max {max(mb):.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
