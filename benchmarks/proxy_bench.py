"""Proxy overhead benchmark: the engine against a bare aiohttp pass-through, on one fast local upstream.

The upstream answers in three wire formats (OpenAI chat, Anthropic messages, Gemini SSE), each with the
same 20-token reply. Per scenario and target it reports requests/s, proxy CPU ms per request (on-CPU time
of all the proxy's threads over the measured requests, warm-up excluded), the engine/bare CPU ratio, p50/p99
added latency over calling the upstream directly, streaming time to first byte, and peak RSS.
A translated scenario (client dialect -> upstream dialect) is compared with the bare proxy passing the same
upstream reply through unchanged: that ratio is what translation costs. Direct, bare and engine requests
alternate in rounds, so load from other programs on the machine hits all three alike.
With two or more cores the proxies (bare and engine, which never run at once) are pinned to the last core and
the upstream and this load generator to the others (`--no-pin` turns that off), so the proxy under test has a
core of its own and the generator's work never lands on its clock.
`--recorder-modes off,errors,all` runs one engine per flight-recorder mode side by side (same rounds), so
the recorder's CPU per request can be read against `off` and the bare floor in one run.
Not a test: `python benchmarks/proxy_bench.py [--requests N] [--rounds R] [--only NAME]
[--recorder-modes M,...] [--vary-usage] [--cold-prices] [--no-pin] [--bare-uvloop]`.
The bare floor runs on asyncio's own loop unless `--bare-uvloop`: the engine runs on uvloop (a dependency
where it exists), so the default ratio is against plain aiohttp, and `--bare-uvloop` against the same loop.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil

TOKENS = 20
TEXT = "hello " * 40
USAGE_IN, USAGE_OUT = 120, TOKENS


def _sse(obj: dict, event: str | None = None, nl: str = "\n") -> bytes:
    head = f"event: {event}{nl}" if event else ""
    return f"{head}data: {json.dumps(obj)}{nl}{nl}".encode()


# ---- OpenAI chat completions ----
CHAT_JSON = json.dumps(
    {"id": "c1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
     "choices": [{"index": 0, "message": {"role": "assistant", "content": TEXT}, "finish_reason": "stop"}],
     "usage": {"prompt_tokens": USAGE_IN, "completion_tokens": 40, "total_tokens": 160}}
).encode()  # fmt: skip


def _chunk(content: str | None, finish: str | None = None, usage: dict | None = None) -> bytes:
    choices = [] if usage else [{"index": 0, "delta": {"content": content} if content else {}, "finish_reason": finish}]
    obj = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini", "choices": choices}
    if usage:
        obj["usage"] = usage
    return _sse(obj)


STREAM_EVENTS = [_chunk("tok ") for _ in range(TOKENS)] + [
    _chunk(None, "stop"),
    _chunk(None, usage={"prompt_tokens": USAGE_IN, "completion_tokens": USAGE_OUT, "total_tokens": 140}),
    b"data: [DONE]\n\n",
]

# ---- Anthropic messages ----
_MSG = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5", "stop_sequence": None}
MESSAGES_JSON = json.dumps(
    {**_MSG, "content": [{"type": "text", "text": TEXT}], "stop_reason": "end_turn",
     "usage": {"input_tokens": USAGE_IN, "output_tokens": 40}}
).encode()  # fmt: skip
MESSAGES_EVENTS = [
    _sse({"type": "message_start", "message": {**_MSG, "content": [], "stop_reason": None,
          "usage": {"input_tokens": USAGE_IN, "output_tokens": 1}}}, "message_start"),
    _sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
         "content_block_start"),
    _sse({"type": "ping"}, "ping"),
    *[_sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "tok "}},
           "content_block_delta") for _ in range(TOKENS)],
    _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
    _sse({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
          "usage": {"output_tokens": USAGE_OUT}}, "message_delta"),
    _sse({"type": "message_stop"}, "message_stop"),
]  # fmt: skip


# ---- Gemini generateContent / streamGenerateContent?alt=sse ----
def _gemini(text: str, final: bool) -> dict:
    cand: dict = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    usage: dict = {"promptTokenCount": USAGE_IN, "totalTokenCount": USAGE_IN}
    if final:
        cand["finishReason"] = "STOP"
        usage = {"promptTokenCount": USAGE_IN, "candidatesTokenCount": USAGE_OUT,
                 "totalTokenCount": USAGE_IN + USAGE_OUT}  # fmt: skip
    return {"candidates": [cand], "usageMetadata": usage, "modelVersion": "gemini-2.5-flash", "responseId": "r1"}


GEMINI_JSON = json.dumps(_gemini(TEXT, True)).encode()
GEMINI_EVENTS = [_sse(_gemini("tok ", i == TOKENS - 1), nl="\r\n") for i in range(TOKENS)]

UPSTREAM = textwrap.dedent(
    """
    import sys
    from aiohttp import web
    sys.path.insert(0, sys.argv[2])
    import proxy_bench as b

    VARY = len(sys.argv) > 3 and sys.argv[3] == "vary"
    counter = iter(range(10**9))

    def answer(whole, events):
        async def handler(request):
            body = await request.json()
            streaming = request.path.endswith(":streamGenerateContent") or body.get("stream")
            # --vary-usage: each reply reports another prompt size, as real traffic does
            tokens = b": %d" % (b.USAGE_IN + next(counter) % 100_000) if VARY else None
            if not streaming:
                reply = whole.replace(b": %d" % b.USAGE_IN, tokens) if tokens else whole
                return web.Response(body=reply, content_type="application/json")
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            for ev in events:
                await resp.write(ev.replace(b": %d" % b.USAGE_IN, tokens) if tokens else ev)
            return resp
        return handler

    app = web.Application()
    app.router.add_post("/v1/chat/completions", answer(b.CHAT_JSON, b.STREAM_EVENTS))
    app.router.add_post("/v1/messages", answer(b.MESSAGES_JSON, b.MESSAGES_EVENTS))
    app.router.add_post("/v1beta/models/{tail:.+}", answer(b.GEMINI_JSON, b.GEMINI_EVENTS))
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
        async with request.app["s"].post(UP + request.path_qs, data=body, headers=headers) as up:
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
    loop = None
    if len(sys.argv) > 3 and sys.argv[3] == "uvloop":  # --bare-uvloop: the floor on the engine's loop
        import uvloop
        loop = uvloop.new_event_loop()
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None, loop=loop)
    """
)

PROMPT = "hello " * 50
# What a client of each dialect sends (model is filled in per scenario).
CLIENT_REQUESTS = {
    "openai_chat": ("/v1/chat/completions", {"messages": [{"role": "user", "content": PROMPT}]}),
    "anthropic": ("/v1/messages", {"max_tokens": 100, "messages": [{"role": "user", "content": PROMPT}]}),
}
# The upstream each scenario lands on: engine model name, direct path, direct body.
UPSTREAMS = {
    "openai_chat": ("openai/gpt-4o-mini", "/v1/chat/completions", "gpt-4o-mini"),
    "anthropic": ("anthropic/claude-haiku-4-5", "/v1/messages", "claude-haiku-4-5"),
    "gemini": ("gemini/gemini-2.5-flash", "/v1beta/models/gemini-2.5-flash", None),
}


@dataclass(frozen=True)
class Scenario:
    client: str
    upstream: str
    stream: bool
    concurrency: int = 0  # 0: the --concurrency default
    history_kb: int = 0  # an agent's turn: the whole conversation so far (same-dialect scenarios only)

    @property
    def name(self) -> str:
        kind = "stream" if self.stream else "json"
        conc = f" c{self.concurrency}" if self.concurrency else ""
        conc += f" {self.history_kb}KB" if self.history_kb else ""
        if self.client == self.upstream:
            return f"{self.client} {kind}{conc}"
        return f"{self.client}->{self.upstream} {kind}{conc}"

    def _messages(self) -> dict:
        """A conversation of about `history_kb` KB, as coding agents resend on every turn."""
        if not self.history_kb:
            return {}
        turn = "Here is the file you asked for, with the change applied:\n" + "def f(x):\n    return x * 2\n" * 20
        n = max(2, self.history_kb * 1024 // len(turn))
        roles = ("user", "assistant")
        return {"messages": [{"role": roles[i % 2], "content": turn} for i in range(n | 1)]}

    def engine_request(self) -> tuple[str, bytes]:
        path, body = CLIENT_REQUESTS[self.client]
        body = {**body, **self._messages(), "model": UPSTREAMS[self.upstream][0]}
        if self.stream:
            body["stream"] = True
        return path, json.dumps(body).encode()

    def direct_request(self) -> tuple[str, bytes]:
        """The upstream's own request: what the bare proxy (and the no-proxy baseline) sends."""
        _, path, model = UPSTREAMS[self.upstream]
        if self.upstream == "gemini":
            path += ":streamGenerateContent?alt=sse" if self.stream else ":generateContent"
            return path, json.dumps({"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]}).encode()
        body = {**CLIENT_REQUESTS[self.upstream][1], **self._messages(), "model": model}
        if self.stream:
            body["stream"] = True
        return path, json.dumps(body).encode()


SCENARIOS = [
    Scenario("openai_chat", "openai_chat", False),
    Scenario("openai_chat", "openai_chat", False, 64),
    Scenario("openai_chat", "openai_chat", True),
    Scenario("anthropic", "anthropic", False),
    Scenario("anthropic", "anthropic", True),
    Scenario("anthropic", "anthropic", True, history_kb=300),
    Scenario("anthropic", "openai_chat", False),
    Scenario("anthropic", "openai_chat", True),
    Scenario("openai_chat", "anthropic", False),
    Scenario("openai_chat", "anthropic", True),
    Scenario("openai_chat", "gemini", False),
    Scenario("openai_chat", "gemini", True),
]


def _picks(wanted: str, name: str) -> bool:
    """`--only`: a whole scenario name picks that one ("openai_chat json" is not also "openai_chat->gemini json")."""
    exact = any(s.name == wanted for s in SCENARIOS)
    return name == wanted if exact else wanted in name


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


CORES = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
PROXY_CORES = set(CORES[-1:]) if len(CORES) >= 2 else set()  # the proxy under test: a core of its own
LOAD_CORES = set(CORES[:-1]) if len(CORES) >= 2 else set()  # the upstream and the load generator


def pinned(cores: set[int]) -> Callable[[], None] | None:
    """A preexec_fn that pins the child (and every thread it starts) to `cores`; None when not pinning."""
    if not cores:
        return None
    return lambda: os.sched_setaffinity(0, cores)


def wait_port(port: int, proc: subprocess.Popen) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"process for port {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened")


async def one(session, url, body) -> tuple[float, float]:
    t0 = time.perf_counter()
    async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
        first = None
        async for _ in r.content.iter_any():
            if first is None:
                first = time.perf_counter()
        if r.status != 200:
            raise RuntimeError(f"{url}: status {r.status}")
    end = time.perf_counter()
    return (end - t0) * 1000, ((first or end) - t0) * 1000


@dataclass
class Tally:
    """One target's measured requests, summed over the rounds."""

    n: int = 0
    cpu_s: float = 0.0
    elapsed: float = 0.0
    lat: list[float] = field(default_factory=list)
    ttfb: list[float] = field(default_factory=list)

    @property
    def cpu_ms(self) -> float:
        return self.cpu_s * 1000 / self.n

    @property
    def rps(self) -> float:
        return self.n / self.elapsed


SCHEDSTAT = Path("/proc/self/schedstat").exists()


def cpu_s(proc: psutil.Process | None) -> float:
    """CPU seconds used so far by all of a process's threads: nanosecond-precise from schedstat on Linux
    (user+sys times come in 10 ms ticks, too coarse for a batch of sub-millisecond requests)."""
    if proc is None:
        return 0.0
    if not SCHEDSTAT:
        t = proc.cpu_times()
        return t.user + t.system
    total = 0
    for task in os.listdir(f"/proc/{proc.pid}/task"):
        try:
            with open(f"/proc/{proc.pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:  # a thread that just ended
            continue
    return total / 1e9


async def batch(session, url: str, body: bytes, n: int, concurrency: int, proc, tally: Tally) -> None:
    queue = iter(range(n))

    async def worker():
        for _ in queue:
            a, b = await one(session, url, body)
            tally.lat.append(a)
            tally.ttfb.append(b)

    cpu0, t0 = cpu_s(proc), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    tally.elapsed += time.perf_counter() - t0
    tally.cpu_s += cpu_s(proc) - cpu0
    tally.n += n


async def compare(targets: list[tuple[str, bytes, psutil.Process | None]], n: int, concurrency: int, rounds: int):
    """Alternate the targets in `rounds` batches, so load from other programs hits them all alike."""
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as session:
        for url, body, _ in targets:
            for _ in range(20):  # warm-up, not measured
                await one(session, url, body)
        tallies = [Tally() for _ in targets]
        pairs = list(zip(targets, tallies, strict=True))
        for r in range(rounds):
            # Each round starts with another target: whoever runs first after the others always would
            # meet a warmer or colder machine (caches, frequency, neighbours) than the rest.
            for (url, body, proc), tally in pairs[r % len(pairs) :] + pairs[: r % len(pairs)]:
                await batch(session, url, body, max(1, n // rounds), concurrency, proc, tally)
    for t in tallies:
        t.lat.sort()
        t.ttfb.sort()
    return tallies


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        hwm = next(line for line in f if line.startswith("VmHWM"))
    return int(hwm.split()[1]) / 1024


def pct(xs: list[float], p: float) -> float:
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def engine_config(port: int, up_port: int, recorder_mode: str | None = None) -> str:
    up = f"http://127.0.0.1:{up_port}"
    return (
        f"port: {port}\nproviders:\n"
        f"  openai: {{base_url: '{up}/v1', api_key: env:BK}}\n"
        f"  anthropic: {{base_url: '{up}', api_key: env:BK}}\n"
        f"  gemini: {{base_url: '{up}', api_key: env:BK}}\n"
        "models:\n  Rush: {openai: gpt-4o-mini}\n"
    ) + (f"recorder: {{mode: {recorder_mode}}}\n" if recorder_mode else "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=3000, help="measured requests per scenario and target")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--only", action="append", default=[], help="a scenario name, or part of names")
    ap.add_argument("--rounds", type=int, default=12, help="alternate direct/bare/engine in this many batches")
    ap.add_argument("--startup", type=int, default=5, help="time start-to-ready this many times (0: skip)")
    ap.add_argument("--recorder-modes", default="", help="comma-separated recorder modes, one engine each")
    ap.add_argument("--vary-usage", action="store_true",
                    help="each reply reports another prompt size, as real traffic does")  # fmt: skip
    ap.add_argument("--cold-prices", action="store_true",
                    help="start without the price table a used install has (state/prices.json)")  # fmt: skip
    ap.add_argument("--bare-uvloop", action="store_true",
                    help="run the bare floor on uvloop too (the engine uses it when installed)")  # fmt: skip
    ap.add_argument("--no-pin", action="store_true", help="do not pin the proxies and the load to separate cores")
    ap.add_argument("--recording-floor", action="store_true",
                    help="also run the bare floor plus the least recording (recording_floor.py)")  # fmt: skip
    args = ap.parse_args()
    if args.no_pin:
        PROXY_CORES.clear()
        LOAD_CORES.clear()
    if LOAD_CORES:
        os.sched_setaffinity(0, LOAD_CORES)
    bare_loop = "uvloop" if args.bare_uvloop else "asyncio"
    modes = [m.strip() for m in args.recorder_modes.split(",") if m.strip()] or [None]
    scenarios = [s for s in SCENARIOS if not args.only or any(_picks(o, s.name) for o in args.only)]
    here = str(Path(__file__).parent)
    up_port, bare_port, floor_port = free_port(), free_port(), free_port()
    eng_ports = [free_port() for _ in modes]
    eng_port = eng_ports[0]
    homes = [tempfile.mkdtemp(prefix="pp-bench-") for _ in modes]
    home = homes[0]
    for h, port, mode in zip(homes, eng_ports, modes, strict=True):
        Path(h, "config.yaml").write_text(engine_config(port, up_port, mode))
    env = dict(os.environ, PROXYPAL_HOME=home, BK="bench-key", PROXYPAL_LOG_LEVEL="warning")
    # Cached bytecode, as an installed package has it (out of the tree, in the bench's temp home): with
    # PYTHONDONTWRITEBYTECODE every start would compile the engine's sources and time that instead.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(Path(home, "pycache"))
    import importlib.util

    spec = importlib.util.find_spec("proxy_engine")
    assert spec is not None and spec.submodule_search_locations
    pkg = next(iter(spec.submodule_search_locations))
    subprocess.run([sys.executable, "-m", "compileall", "-q", pkg], env=env, check=True, stdout=subprocess.DEVNULL)
    if not args.cold_prices:
        for h in homes:
            prime_prices(h, env)
    # One start of each first fills the cache for the libraries too (a venv may ship without their .pyc).
    time_to_ready([sys.executable, "-c", BARE, str(bare_port), str(up_port), bare_loop], bare_port, env, "/", 1)
    time_to_ready([sys.executable, "-m", "proxy_engine", "serve"], eng_port, env, "/healthz", 1)
    procs = [
        subprocess.Popen([sys.executable, "-c", UPSTREAM, str(up_port), here, "vary" if args.vary_usage else "same"]),
        subprocess.Popen([sys.executable, "-c", BARE, str(bare_port), str(up_port), bare_loop],
                         preexec_fn=pinned(PROXY_CORES)),
        *(subprocess.Popen([sys.executable, "-m", "proxy_engine", "serve"], env={**env, "PROXYPAL_HOME": h},
                           stderr=subprocess.DEVNULL, preexec_fn=pinned(PROXY_CORES)) for h in homes),
    ]  # fmt: skip
    floor_argv = [sys.executable, str(Path(here, "recording_floor.py")), str(floor_port), str(up_port), bare_loop,
                  tempfile.mkdtemp(prefix="pp-floor-")]  # fmt: skip
    floor = subprocess.Popen(floor_argv, preexec_fn=pinned(PROXY_CORES)) if args.recording_floor else None
    labels = ["engine" if m is None else f"eng:{m}" for m in modes]
    try:
        for port, proc in zip((up_port, bare_port, *eng_ports), procs, strict=True):
            wait_port(port, proc)
        if floor is not None:
            wait_port(floor_port, floor)
        bare = psutil.Process(procs[1].pid)
        floor_ps = psutil.Process(floor.pid) if floor is not None else None
        engines = [psutil.Process(p.pid) for p in procs[2:]]
        eng = engines[0]
        time.sleep(0.5)
        idle = {"bare": bare.memory_info().rss / 2**20, "engine": eng.memory_info().rss / 2**20}
        n, c = args.requests, args.concurrency
        pin = f"proxies on core {sorted(PROXY_CORES)}, load on {sorted(LOAD_CORES)}" if PROXY_CORES else "unpinned"
        print(f"{n} requests per target and scenario in {args.rounds} rounds, concurrency {c}, "
              f"{os.cpu_count()} cores ({pin})\n")  # fmt: skip
        print(
            f"{'scenario':<32}{'target':<8}{'req/s':>8}{'cpu ms/req':>12}{'ratio':>7}"
            f"{'p50 +ms':>9}{'p99 +ms':>9}{'ttfb +ms':>10}{'peak RSS':>10}"
        )
        for sc in scenarios:
            dpath, dbody = sc.direct_request()
            epath, ebody = sc.engine_request()
            direct, bare_t, *eng_ts = asyncio.run(
                compare(
                    [
                        (f"http://127.0.0.1:{up_port}{dpath}", dbody, None),
                        (f"http://127.0.0.1:{bare_port}{dpath}", dbody, bare),
                        *([(f"http://127.0.0.1:{floor_port}{dpath}", dbody, floor_ps)] if floor_ps else []),
                        *((f"http://127.0.0.1:{p}{epath}", ebody, e) for p, e in zip(eng_ports, engines, strict=True)),
                    ],
                    n,
                    sc.concurrency or c,
                    args.rounds,
                )
            )
            floor_rows = [("bare+rec", eng_ts.pop(0), floor_ps)] if floor_ps else []
            rows = [("bare", bare_t, bare), *floor_rows, *zip(labels, eng_ts, engines, strict=True)]
            for label, t, proc in rows:
                ratio = f"{t.cpu_ms / bare_t.cpu_ms:>7.2f}" if label != "bare" else f"{'':>7}"
                add50 = pct(t.lat, 0.5) - pct(direct.lat, 0.5)
                add99 = pct(t.lat, 0.99) - pct(direct.lat, 0.99)
                ttfb = pct(t.ttfb, 0.5) - pct(direct.ttfb, 0.5)
                print(
                    f"{sc.name:<32}{label:<8}{t.rps:>8.0f}{t.cpu_ms:>12.3f}{ratio}"
                    f"{add50:>9.2f}{add99:>9.2f}{ttfb:>10.2f}{peak_rss_mib(proc.pid):>9.1f}M"
                )
        print()
        for label, h in zip(labels, homes, strict=True):
            print(f"{label} ledger rows: {count_rows(h)}")
        for label, h in zip(labels, homes, strict=True):
            print(f"{label} captures on disk: {len(list(Path(h, 'state', 'captures').glob('*.json.gz')))}")
        print(f"idle RSS before load: bare {idle['bare']:.1f}M, engine {idle['engine']:.1f}M")
    finally:
        for p in [*procs, *([floor] if floor else [])]:
            p.terminate()
        for p in [*procs, *([floor] if floor else [])]:
            p.wait(10)
    if args.startup:
        bare_ready = time_to_ready(
            [sys.executable, "-c", BARE, str(bare_port), str(up_port), bare_loop], bare_port, env, "/", args.startup
        )
        eng_ready = time_to_ready(
            [sys.executable, "-m", "proxy_engine", "serve"], eng_port, env, "/healthz", args.startup
        )
        print(f"start to ready (median of {args.startup}): bare {bare_ready:.3f}s, engine {eng_ready:.3f}s")
    return 0


def time_to_ready(argv: list[str], port: int, env: dict | None, path: str, tries: int) -> float:
    """Median seconds from spawning `argv` until GET `path` on `port` answers (any HTTP status)."""
    import urllib.error
    import urllib.request

    times = []
    for _ in range(tries):
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv, env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL, preexec_fn=pinned(PROXY_CORES)
        )
        try:
            while proc.poll() is None:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=0.5).close()
                    break
                except urllib.error.HTTPError:
                    break
                except OSError:
                    time.sleep(0.005)
            else:
                raise RuntimeError(f"{argv} exited with {proc.returncode}")
            times.append(time.perf_counter() - t0)
        finally:
            proc.terminate()
            proc.wait(10)
    times.sort()
    return times[len(times) // 2]


def prime_prices(home: str, env: dict) -> None:
    """The price table an engine that has served these models before has (it resolves them 10 s after it
    first sees them); absent in an engine without one (`usage/price_table.py`)."""
    import importlib.util

    if importlib.util.find_spec("proxy_engine.usage.price_resolve") is None:
        return
    pairs = [["openai", "gpt-4o-mini"], ["anthropic", "claude-haiku-4-5"], ["google", "gemini-2.5-flash"]]
    out = subprocess.run([sys.executable, "-m", "proxy_engine.usage.price_resolve"], input=json.dumps(pairs),
                         env=env, capture_output=True, text=True, check=True).stdout  # fmt: skip
    Path(home, "state").mkdir(mode=0o700, parents=True, exist_ok=True)
    Path(home, "state", "prices.json").write_text(out)


def count_rows(home: str) -> int:
    import sqlite3

    time.sleep(0.6)
    with sqlite3.connect(Path(home, "data", "usage.db")) as db:
        return db.execute("SELECT count(*) FROM requests").fetchone()[0]


if __name__ == "__main__":
    raise SystemExit(main())
