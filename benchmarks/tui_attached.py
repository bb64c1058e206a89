"""Benchmark: engine throughput with and without the real TUI attached.

Two identical engines (the real `proxypal-engine serve`, each with its own home and port) proxy to
one fast local upstream (the pieces of benchmarks/proxy_bench.py). The real `proxypal-tui --attach`
runs in a tmux pane (a real terminal) attached to engine A, showing the Requests screen, the
heaviest view; engine B has no subscriber (with --raw, engine C has a bare `tail --json` one).
Measured batches alternate between the engines, many times, in rotating order, so the load of
other programs on the machine hits every condition alike. Each request makes engine A emit
request.started, request.finished and stats events to the TUI.

Reports, per condition: requests/s, engine CPU ms per request (all engine threads, from
schedstat), the drop against engine B, and the TUI's own CPU while A is busy.

    python benchmarks/tui_attached.py                       # openai_chat stream, 20 rounds x 1000
    python benchmarks/tui_attached.py --raw --scenario "openai_chat json"

Not a test. The target (issue 4): under 5% drop in engine throughput while the TUI is attached.
On a machine with few cores the TUI competes with the engines and the load generator for CPU;
that is part of what is measured.
"""

# Polling a terminal and a port is the point here: ruff: noqa: ASYNC110

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from proxy_bench import (  # noqa: E402  (the upstream and the load generator are shared)
    SCENARIOS,
    UPSTREAM,
    Tally,
    batch,
    cpu_s,
    engine_config,
    free_port,
    one,
    wait_port,
)

SESSION = f"pp-tui-bench-{os.getpid()}"


class AttachedTui:
    """`proxypal-tui --attach` in a detached tmux session (a real pty) that this benchmark owns."""

    def __init__(self, home: str, size: tuple[int, int]) -> None:
        self.home = home
        self.size = size
        self.pid: int | None = None

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout

    def start(self) -> None:
        cmd = f"exec env PROXYPAL_HOME={self.home} {sys.executable} -m proxypal_tui --attach"
        w, h = self.size
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", SESSION, "-x", str(w), "-y", str(h), cmd], check=True, cwd=REPO
        )
        deadline = time.monotonic() + 30
        while "ready" not in self._tmux("capture-pane", "-p", "-t", SESSION):
            if time.monotonic() > deadline:
                raise RuntimeError("the TUI did not attach:\n" + self._tmux("capture-pane", "-p", "-t", SESSION))
            time.sleep(0.1)
        self.pid = int(self._tmux("list-panes", "-t", SESSION, "-F", "#{pane_pid}").split()[0])
        self._tmux("send-keys", "-t", SESSION, "r")  # the live feed: the most drawing per event
        time.sleep(1.5)  # let its start-up work (usage and auth loads, first paints) finish first

    def cpu_s(self) -> float:
        return cpu_s(psutil.Process(self.pid)) if self.pid else 0.0

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", SESSION)

    def stop(self) -> None:
        if self.pid is None:
            return
        self._tmux("send-keys", "-t", SESSION, "q")  # attached: quitting leaves the engine alone
        deadline = time.monotonic() + 10
        while psutil.pid_exists(self.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._tmux("kill-session", "-t", SESSION)  # only our own session, by name
        self.pid = None


SINK = """
import socket, sys
from proxy_engine.paths import resolve_paths
s = socket.socket(socket.AF_UNIX)
s.connect(str(resolve_paths().events_socket(int(sys.argv[1]))))
while s.recv(1 << 20):
    pass
"""


@dataclass
class Engine:
    label: str
    home: str
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def ps(self) -> psutil.Process:
        return psutil.Process(self.proc.pid)


def start_engine(label: str, up_port: int) -> Engine:
    port = free_port()
    home = tempfile.mkdtemp(prefix="pp-tui-bench-")
    Path(home, "config.yaml").write_text(engine_config(port, up_port))
    env = dict(os.environ, PROXYPAL_HOME=home, BK="bench-key", PROXYPAL_LOG_LEVEL="warning")
    env.pop("PROXYPAL_CONFIG", None)
    cmd = [sys.executable, "-m", "proxy_engine", "serve"]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return Engine(label, home, port, proc)


async def measure(path: str, body: bytes, engines: list[Engine], tui: AttachedTui, args: argparse.Namespace):
    tallies = {e.label: Tally() for e in engines}
    rounds: dict[str, list[float]] = {e.label: [] for e in engines}
    tui_busy = tui_idle = 0.0
    conn = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=conn) as session:
        for e in engines:
            for _ in range(50):  # warm-up, not measured
                await one(session, f"http://127.0.0.1:{e.port}{path}", body)
        for r in range(args.rounds):
            order = engines[r % len(engines) :] + engines[: r % len(engines)]
            for e in order:
                t = Tally()
                t0 = tui.cpu_s()
                await batch(session, f"http://127.0.0.1:{e.port}{path}", body, args.requests, args.concurrency, e.ps, t)
                spent = tui.cpu_s() - t0
                if e is engines[0]:
                    tui_busy += spent
                else:
                    tui_idle += spent
                agg = tallies[e.label]
                agg.n, agg.elapsed, agg.cpu_s = agg.n + t.n, agg.elapsed + t.elapsed, agg.cpu_s + t.cpu_s
                rounds[e.label].append(t.rps)
            line = "  ".join(f"{e.label} {rounds[e.label][-1]:5.0f}" for e in engines)
            print(f"  round {r + 1:>2}: req/s  {line}", flush=True)
    return tallies, rounds, tui_busy, tui_idle


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="openai_chat stream", help="a proxy_bench scenario name")
    ap.add_argument("--requests", type=int, default=1000, help="requests per batch")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--size", default="120x40", help="the TUI's terminal size")
    ap.add_argument("--raw", action="store_true", help="also an engine with a bare `tail --json` subscriber")
    ap.add_argument("--sink", action="store_true",
                    help="also an engine whose subscriber only reads and discards bytes: the engine-side cost "
                         "without a second busy process on the machine")  # fmt: skip
    args = ap.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is needed to run the TUI in a real terminal", file=sys.stderr)
        return 2
    scenario = next(s for s in SCENARIOS if s.name == args.scenario)
    up_port = free_port()
    upstream = subprocess.Popen([sys.executable, "-c", UPSTREAM, str(up_port), str(HERE)])
    engines: list[Engine] = []
    tail: subprocess.Popen[bytes] | None = None
    sink: subprocess.Popen[bytes] | None = None
    w, h = (int(x) for x in args.size.split("x"))
    tui: AttachedTui | None = None
    try:
        wait_port(up_port, upstream)
        labels = ["TUI attached", "no TUI"] + (["raw tail"] if args.raw else []) + (["byte sink"] if args.sink else [])
        engines = [start_engine(label, up_port) for label in labels]
        tui = AttachedTui(engines[0].home, (w, h))
        tui.start()
        if args.raw:
            env = dict(os.environ, PROXYPAL_HOME=engines[2].home)
            cmd = [sys.executable, "-m", "proxy_engine", "tail", "--json"]
            tail = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL)
        if args.sink:
            eng = engines[labels.index("byte sink")]
            env = dict(os.environ, PROXYPAL_HOME=eng.home)
            sink = subprocess.Popen([sys.executable, "-c", SINK, str(eng.port)], env=env, cwd=REPO)
        path, body = scenario.engine_request()
        print(
            f"{scenario.name}: {args.rounds} rounds x {args.requests} requests per engine, "
            f"concurrency {args.concurrency}, {os.cpu_count()} cores, TUI at {args.size}\n"
        )
        tallies, rounds, tui_busy, tui_idle = asyncio.run(measure(path, body, engines, tui, args))
        screen = tui.screen()
    finally:
        if tui is not None:
            tui.stop()
        for p in [tail, sink, *(e.proc for e in engines), upstream]:
            if p is not None:
                p.terminate()
                p.wait(10)
    base = tallies["no TUI"]
    med_base = statistics.median(rounds["no TUI"])
    print(f"\n{'condition':<14}{'req/s':>8}{'median':>8}{'cpu ms/req':>12}{'drop':>8}{'median drop':>13}{'cpu/req':>9}")
    for name, t in tallies.items():
        med = statistics.median(rounds[name])
        row = f"{name:<14}{t.rps:>8.0f}{med:>8.0f}{t.cpu_ms:>12.3f}"
        if t is not base:
            drop = (base.rps - t.rps) / base.rps * 100
            cpu_up = (t.cpu_ms - base.cpu_ms) / base.cpu_ms * 100
            row += f"{drop:>+7.1f}%{(med_base - med) / med_base * 100:>+12.1f}%{cpu_up:>+8.1f}%"
        print(row)
    busy_s = tallies["TUI attached"].elapsed
    idle_s = sum(t.elapsed for name, t in tallies.items() if name != "TUI attached")
    print(f"\nTUI CPU: {tui_busy / busy_s * 100:.0f}% of a core while its engine is busy, "
          f"{tui_idle / idle_s * 100:.0f}% while it is idle")  # fmt: skip
    seen = [ln for ln in screen.splitlines() if "kept" in ln or "ready" in ln]
    print("TUI at the end:", " | ".join(ln.strip() for ln in seen)[:200])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
