"""`serve --workers N` scaling: requests/s and engine CPU per request for 1 and 2 workers.

Load comes from `wrk` (C, event loop; `apt-get install wrk`) with one keep-alive connection per
`--connections`, POSTing a non-streaming OpenAI chat request. The upstream is a minimal asyncio
protocol (no HTTP framework) answering a canned chat completion, so the load generator and the
upstream take as little CPU as they can. On a machine where they share cores with the engine,
requests/s says little about the engine alone, so two figures are reported per run:
- `req/s`: what wrk saw (everything competing for the same cores);
- `capacity`: requests / on-CPU seconds of the busiest engine process (user+system, all threads,
  warm-up excluded), i.e. the rate each engine process could sustain on a core of its own.
  With N workers, the busiest one saturates its core first, so an uneven spread of connections
  by the kernel counts against the figure. `cap. all` is stricter: all engine CPU (the supervisor's too: it relays and
  aggregates events) spread perfectly over N cores.
Scaling = capacity(2 workers) / capacity(1 worker). With `--pin`, worker i runs on core i.
With `--subscribe` an events subscriber stays attached (as the TUI does). Without one a single
engine encodes no events at all, while workers always forward theirs to the supervisor.
Not a test: `python benchmarks/workers_bench.py [--duration 10] [--connections 32] [--pin]`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

CHAT = json.dumps({"id": "c1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello " * 20},
                                "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32}}).encode()  # fmt: skip
BODY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})

UPSTREAM = r"""
import asyncio, sys
BODY = sys.argv[2].encode()
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY)
class Answer(asyncio.Protocol):
    def connection_made(self, t): self.t, self.buf = t, b""
    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0: return
            head = self.buf[:end].lower()
            i = head.find(b"content-length:")
            n = int(head[i + 15:head.find(b"\r\n", i) if head.find(b"\r\n", i) > 0 else None]) if i >= 0 else 0
            if len(self.buf) < end + 4 + n: return
            self.buf = self.buf[end + 4 + n:]
            self.t.write(HEAD + BODY)
async def main():
    server = await asyncio.get_running_loop().create_server(Answer, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    await server.serve_forever()
asyncio.run(main())
"""


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_healthy(port: int, proc: subprocess.Popen, path: str = "/healthz") -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("did not become healthy")


def cpu_s(procs: list[psutil.Process]) -> dict[int, float]:
    out = {}
    for p in procs:
        t = p.cpu_times()
        out[p.pid] = t.user + t.system
    return out


def subscribe(home: str, port: int) -> socket.socket:
    """A subscriber on the events socket, as the TUI is: the engine then encodes every event."""
    key = Path(home, "data", "management.key").read_text().strip()
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(f"GET /v0/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                  "Connection: close\r\n\r\n".encode())  # fmt: skip
        reply = b"".join(iter(lambda: s.recv(65536), b""))
    path = json.loads(reply.split(b"\r\n\r\n", 1)[1])["events_socket"]
    sub = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sub.connect(path)

    def read() -> None:
        with contextlib.suppress(OSError):
            while sub.recv(1 << 16):
                pass

    threading.Thread(target=read, daemon=True).start()
    return sub


def wrk(url: str, script: Path, connections: int, duration: int) -> tuple[int, float]:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    done = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{errors.group(1)} failed requests:\n{out}")
    return done, float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def run(workers: int, up_port: int, args: argparse.Namespace, script: Path) -> dict:
    port = free_port()
    home = tempfile.mkdtemp(prefix="pp-wbench-")
    Path(home, "config.yaml").write_text(f"port: {port}\nproviders:\n  openai: {{base_url: "
                                         f"'http://127.0.0.1:{up_port}/v1', api_key: env:BK}}\n")  # fmt: skip
    env = dict(os.environ, PROXYPAL_HOME=home, BK="bench-key")
    cmd = [sys.executable, "-m", "proxy_engine", "serve"] + (["--workers", str(workers)] if workers > 1 else [])
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
    drain = None
    try:
        wait_healthy(port, proc)
        sup = psutil.Process(proc.pid)
        engines = [c for c in sup.children() if "--worker-index" in c.cmdline()] if workers > 1 else [sup]
        while len(engines) < workers:
            time.sleep(0.1)
            engines = [c for c in sup.children() if "--worker-index" in c.cmdline()]
        drain = subscribe(home, port) if args.subscribe else None
        if args.pin:
            for i, p in enumerate(engines):
                p.cpu_affinity([i % (os.cpu_count() or 1)])
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        wrk(url, script, args.connections, 2)  # warm-up
        everyone = engines + ([sup] if workers > 1 else [])
        before = cpu_s(everyone)
        done, rps = wrk(url, script, args.connections, args.duration)
        after = cpu_s(everyone)
        used = {pid: after[pid] - before[pid] for pid in after}
        worker_cpu = [used[p.pid] for p in engines]
        supervisor = used[sup.pid] if workers > 1 else 0.0
        return {"workers": workers, "requests": done, "rps": rps, "worker_cpu_s": worker_cpu,
                "supervisor_cpu_s": supervisor,
                # The busiest worker saturates its core first: the rate then is done / its CPU seconds.
                "capacity": done / max(worker_cpu),
                # Stricter: every engine process (supervisor too) shares `workers` cores perfectly.
                "capacity_all": done * workers / (sum(worker_cpu) + supervisor)}  # fmt: skip
    finally:
        if drain is not None:
            drain.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        shutil.rmtree(home, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=int, default=10, help="seconds of measured load per run")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--pin", action="store_true", help="pin worker i to core i")
    ap.add_argument("--subscribe", action="store_true", help="keep an events subscriber attached, as the TUI does")
    ap.add_argument("--repeat", type=int, default=1, help="alternate 1 and 2 workers this many times")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    up_port = free_port()
    upstream = subprocess.Popen([sys.executable, "-c", UPSTREAM, str(up_port), CHAT.decode()])
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(BODY)}\n'
                'wrk.headers["Content-Type"] = "application/json"\n')  # fmt: skip
    script = Path(f.name)
    try:
        time.sleep(0.5)
        print(
            f"{os.cpu_count()} cores, {args.connections} connections, {args.duration} s per run, pin={args.pin}, "
            f"subscriber={args.subscribe}"
        )
        print(f"{'workers':>7}{'requests':>10}{'req/s':>9}{'worker cpu s':>22}{'superv. cpu s':>14}"
              f"{'cpu ms/req':>11}{'capacity/s':>11}{'cap. all/s':>11}")  # fmt: skip
        results: dict[int, list[dict]] = {1: [], 2: []}
        for _ in range(args.repeat):
            for n in (1, 2):
                r = run(n, up_port, args, script)
                results[n].append(r)
                per_req = 1000 * (sum(r["worker_cpu_s"]) + r["supervisor_cpu_s"]) / r["requests"]
                cpu = " ".join(f"{c:.2f}" for c in r["worker_cpu_s"])
                print(f"{n:>7}{r['requests']:>10}{r['rps']:>9.0f}{cpu:>22}{r['supervisor_cpu_s']:>14.2f}"
                      f"{per_req:>11.3f}{r['capacity']:>11.0f}{r['capacity_all']:>11.0f}")  # fmt: skip
        cap1, cap2 = (statistics.mean(r["capacity"] for r in results[n]) for n in (1, 2))
        all1, all2 = (statistics.mean(r["capacity_all"] for r in results[n]) for n in (1, 2))
        rps1, rps2 = (statistics.mean(r["rps"] for r in results[n]) for n in (1, 2))
        print(f"\nmeans over {args.repeat} run(s) each")
        print(f"scaling by capacity (busiest worker on a core of its own): {cap2 / cap1:.2f}x")
        print(f"scaling by capacity (all engine CPU, supervisor included, on 2 cores): {all2 / all1:.2f}x")
        print(f"scaling by wrk req/s on this machine (all sharing the cores): {rps2 / rps1:.2f}x")
    finally:
        upstream.terminate()
        upstream.wait(10)
        script.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
