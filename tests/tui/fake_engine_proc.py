"""A stand-in engine process for supervision tests (`python -m tests.tui.fake_engine_proc serve --config P`).

It serves the scripted engine (real socket, real HTTP) on the config's port, and misbehaves on
request through FAKE_ENGINE_MODE: `crash` (dies at start with a traceback-like stderr), `crash_after`
(dies 0.4 s after it is ready), `ignore_term` (ignores SIGTERM), `silent` (never opens its socket).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import yaml

from proxy_engine.paths import resolve_paths
from tests.tui.feed_script import demo_script
from tests.tui.standin import ScriptedEngine


async def serve(config: Path) -> int:
    mode = os.environ.get("FAKE_ENGINE_MODE", "ok")
    print(f"fake engine {os.getpid()} starting in mode {mode}", file=sys.stderr, flush=True)
    if mode == "crash":
        print("Traceback (most recent call last):", file=sys.stderr)
        print("fatal: boom while loading the config", file=sys.stderr, flush=True)
        return 3
    if mode == "ignore_term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    data = yaml.safe_load(await asyncio.to_thread(config.read_text)) or {}
    paths = resolve_paths(config)
    script = demo_script(n=5)
    script.pid = os.getpid()
    script.ts = 0.0
    engine = ScriptedEngine(paths, int(data.get("port", 8317)), script)
    if mode == "silent":
        await asyncio.sleep(3600)
        return 0
    stop = asyncio.Event()
    if mode != "ignore_term":
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await engine.start()
    print(f"serving on 127.0.0.1:{engine.port}", file=sys.stderr, flush=True)
    if mode == "crash_after":
        await asyncio.sleep(0.4)
        print("fatal: lost my mind after start", file=sys.stderr, flush=True)
        os._exit(4)
    await stop.wait()
    await engine.close()
    return 0


def main() -> int:
    args = sys.argv[1:]
    if args[:1] != ["serve"] or "--config" not in args:
        print("usage: serve --config PATH", file=sys.stderr)
        return 2
    return asyncio.run(serve(Path(args[args.index("--config") + 1])))


if __name__ == "__main__":
    raise SystemExit(main())
