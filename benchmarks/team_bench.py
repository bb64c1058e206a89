"""What team mode costs per request: one replica on SQLite versus one replica on PostgreSQL + Redis, same run.

Starts a real PostgreSQL and Redis (the test suite's `tests/servers/`, Debian's packages), the fast local
upstream of `proxy_bench.py`, and two engines with the same config and a monthly budget (so every request
is checked against, and settled into, the spend counters): one embedded (SQLite ledger, in-memory spend),
one in team mode (`team: {postgres, redis}`). Requests alternate between the two in rounds, so other load on
the machine hits both alike. Reported per scenario: requests/s, engine CPU ms per request, and in team mode
the CPU PostgreSQL and Redis spent per request (all their processes), then the rows each ledger holds.
Not a test: `python benchmarks/team_bench.py [--requests N] [--rounds R] [--concurrency C]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.servers, run from anywhere

from benchmarks.proxy_bench import SCENARIOS, UPSTREAM, compare, cpu_s, free_port, pct, wait_port
from tests.servers.binaries import MISSING_POSTGRES, MISSING_REDIS, postgres_bin_dir, redis_server_bin
from tests.servers.postgres import PostgresServer
from tests.servers.redis import RedisServer

BUDGET = "budgets: {monthly_usd: 1000000}\n"  # never reached: it makes each request reserve and settle spend


def engine_config(port: int, up_port: int, team: bool) -> str:
    up = f"http://127.0.0.1:{up_port}"
    text = f"port: {port}\nproviders:\n  openai: {{base_url: '{up}/v1', api_key: env:BK}}\n{BUDGET}"
    return text + ("team: {postgres: env:PP_BENCH_PG, redis: env:PP_BENCH_REDIS}\n" if team else "")


def server_cpu_s(pids: list[int]) -> float:
    """CPU seconds of these processes and all their children (PostgreSQL runs one process per connection)."""
    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for p in procs:
            try:
                total += cpu_s(p)
            except (psutil.NoSuchProcess, FileNotFoundError):
                continue
    return total


def ledger_rows(home: str, pg_url: str | None) -> int:
    time.sleep(0.6)  # the last batch
    if pg_url is None:
        import sqlite3

        with sqlite3.connect(Path(home, "data", "usage.db")) as db:
            return db.execute("SELECT count(*) FROM requests").fetchone()[0]
    import asyncpg

    async def count() -> int:
        conn = await asyncpg.connect(pg_url)
        try:
            return await conn.fetchval("SELECT count(*) FROM requests")
        finally:
            await conn.close()

    return asyncio.run(count())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000, help="measured requests per scenario and engine")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    if postgres_bin_dir() is None or redis_server_bin() is None:
        print(MISSING_POSTGRES if postgres_bin_dir() is None else MISSING_REDIS, file=sys.stderr)
        return 1
    pg, redis = PostgresServer(), RedisServer()
    pg.start()
    redis.start()
    pg_url = pg.create_database("bench")
    up_port, solo_port, team_port = free_port(), free_port(), free_port()
    homes = {name: tempfile.mkdtemp(prefix=f"pp-bench-{name}-") for name in ("sqlite", "team")}
    Path(homes["sqlite"], "config.yaml").write_text(engine_config(solo_port, up_port, team=False))
    Path(homes["team"], "config.yaml").write_text(engine_config(team_port, up_port, team=True))
    base = dict(os.environ, BK="bench-key", PROXYPAL_LOG_LEVEL="warning", PP_BENCH_PG=pg_url, PP_BENCH_REDIS=redis.url,
                PROXYPAL_SECRET_BACKEND="file", PROXYPAL_PASSPHRASE="bench-passphrase")  # fmt: skip
    here = str(Path(__file__).parent)
    procs = [subprocess.Popen([sys.executable, "-c", UPSTREAM, str(up_port), here])]
    for name in ("sqlite", "team"):
        env = dict(base, PROXYPAL_HOME=homes[name])
        procs.append(subprocess.Popen([sys.executable, "-m", "proxy_engine", "serve"], env=env,
                                      stderr=subprocess.DEVNULL))  # fmt: skip
    try:
        for port, proc in zip((up_port, solo_port, team_port), procs, strict=True):
            wait_port(port, proc)
        time.sleep(1.0)  # migrations, the first Redis connection
        solo, team = psutil.Process(procs[1].pid), psutil.Process(procs[2].pid)
        servers = [p for p in (pg.pid, redis.pid) if p is not None]
        print(f"{args.requests} requests per engine and scenario in {args.rounds} rounds, "
              f"concurrency {args.concurrency}, {os.cpu_count()} cores\n")  # fmt: skip
        print(f"{'scenario':<24}{'engine':<8}{'req/s':>8}{'cpu ms/req':>12}{'pg+redis ms/req':>17}{'p50 ms':>8}"
              f"{'p99 ms':>8}")  # fmt: skip
        for sc in SCENARIOS[:3]:  # OpenAI chat: JSON, JSON at 64 in flight, streamed
            path, body = sc.engine_request()
            server0 = server_cpu_s(servers)
            tallies = asyncio.run(compare([(f"http://127.0.0.1:{solo_port}{path}", body, solo),
                                           (f"http://127.0.0.1:{team_port}{path}", body, team)],
                                          args.requests, sc.concurrency or args.concurrency, args.rounds))  # fmt: skip
            shared_ms = (server_cpu_s(servers) - server0) * 1000 / tallies[1].n
            for label, t in zip(("sqlite", "team"), tallies, strict=True):
                extra = f"{shared_ms:>17.3f}" if label == "team" else f"{'':>17}"
                print(f"{sc.name:<24}{label:<8}{t.rps:>8.0f}{t.cpu_ms:>12.3f}{extra}{pct(t.lat, 0.5):>8.2f}"
                      f"{pct(t.lat, 0.99):>8.2f}")  # fmt: skip
        print(f"\nledger rows: sqlite {ledger_rows(homes['sqlite'], None)}, team {ledger_rows(homes['team'], pg_url)}")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
        pg.close()
        redis.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
