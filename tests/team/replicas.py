"""Three engine replicas as real processes behind a round-robin balancer: one PostgreSQL, one Redis, one
fake upstream that bills tokens, members with keys and budgets. What `docs/TEAM.md` tells people to run.

Each replica is `proxypal-engine serve --config team.yaml --port N` (one shared config file) with its own
`PROXYPAL_HOME` (management key, logs, ledger journal); its replica id is host:port, so each differs.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from tests.engine_harness import EngineProcess, free_port
from tests.team.engines import start_together, wait_until

UPSTREAM_KEYS = ("sk-team-upstream-7f3a9c", "sk-team-upstream-b41e0d")
MODEL = "gpt-4o-mini"
# 12 input + 8 output tokens (the fake's default usage) at 500 USD per million each: one cent per request.
PRICE_PER_MTOK = 500.0
COST_PER_REQUEST = 0.01


@dataclass(frozen=True)
class Member:
    name: str
    budget_usd: float | None  # monthly budget; None: unlimited
    key: str = field(default_factory=lambda: "sk-pp-" + secrets.token_urlsafe(24))

    @property
    def env_name(self) -> str:
        return "PP_MEMBER_" + self.name.upper()


def members(budgets: dict[str, float | None]) -> list[Member]:
    return [Member(name, budget) for name, budget in budgets.items()]


def team_yaml(upstream: str, postgres: str, redis: str | None, team: list[Member], more_providers: str = "") -> str:
    clients = ", ".join(
        f"{{name: {m.name}, key: env:{m.env_name}"
        + (f", monthly_budget_usd: {m.budget_usd}" if m.budget_usd is not None else "")
        + "}"
        for m in team
    )
    redis_line = f', redis: "{redis}"' if redis else ""
    return f"""host: 127.0.0.1
clients: [{clients}]
providers:
  openai: {{base_url: "{upstream}", api_keys: [env:PP_UPSTREAM_KEY_1, env:PP_UPSTREAM_KEY_2]}}
{more_providers}prices:
  {MODEL}: {{input_per_mtok: {PRICE_PER_MTOK}, output_per_mtok: {PRICE_PER_MTOK}}}
team: {{postgres: env:PP_TEAM_PG{redis_line}}}
"""


class Replica(EngineProcess):
    """One replica: the shared config file, its own port and home."""

    def __init__(self, config_file: Path, env: dict[str, str]) -> None:
        port = free_port()
        super().__init__(config_file.read_text(), port, env=env)
        self.argv = [sys.executable, "-m", "proxy_engine", "serve", "--config", str(config_file), "--port", str(port)]


class ReplicaSet:
    """`with ReplicaSet(...) as team:` three replicas started together; `team.next()` is the balancer."""

    def __init__(self, upstream: str, postgres_url: str, redis_url: str | None, team: list[Member],
                 more_providers: str = "", env: dict[str, str] | None = None) -> None:  # fmt: skip
        self.dir = Path(tempfile.mkdtemp(prefix="pp-team-"))
        self.config_file = self.dir / "team.yaml"
        self.config_file.write_text(team_yaml(upstream, postgres_url, redis_url, team, more_providers))
        self.postgres_url = postgres_url
        self.members = {m.name: m for m in team}
        # The PostgreSQL URL reaches the replicas through the environment, as TEAM.md says it should.
        env = {"PP_UPSTREAM_KEY_1": UPSTREAM_KEYS[0], "PP_UPSTREAM_KEY_2": UPSTREAM_KEYS[1], "PP_TEAM_PG": postgres_url,
               **{m.env_name: m.key for m in team}, **(env or {})}  # fmt: skip
        self.replicas = [Replica(self.config_file, env) for _ in range(3)]
        self._turn = itertools.count()
        self._turn_lock = threading.Lock()

    def __enter__(self) -> ReplicaSet:
        start_together(self.replicas)
        return self

    def __exit__(self, *exc: object) -> None:
        for r in self.replicas:
            if r.proc is not None and r.proc.poll() is None:
                r.stop()

    def next(self) -> int:
        """Round robin over the replicas, as a load balancer would."""
        with self._turn_lock:
            return next(self._turn) % len(self.replicas)

    def keys(self, *args: str) -> dict[str, object]:
        """`proxypal-engine --config team.yaml keys ... --json`, as the operator runs it on the first replica's host."""
        argv = [sys.executable, "-m", "proxy_engine", "--config", str(self.config_file), "keys", *args, "--json"]
        done = subprocess.run(argv, env=self.replicas[0].env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def stderr(self) -> str:
        return "".join(line for r in self.replicas for line in r.stderr_lines)

    def rows(self) -> list[dict[str, object]]:
        return asyncio.run(pg_rows(self.postgres_url))

    def wait_rows(self, ids: set[str], timeout: float = 30.0) -> list[dict[str, object]]:
        """The ledger rows once every id in `ids` has landed (replicas write in batches)."""
        found: list[dict[str, object]] = []

        def landed() -> bool:
            nonlocal found
            found = self.rows()
            return ids <= {r["id"] for r in found}

        wait_until(landed, timeout, what=f"{len(ids)} ledger rows in PostgreSQL")
        return found


async def pg_rows(url: str) -> list[dict[str, object]]:
    conn = await asyncpg.connect(url)
    try:
        return [dict(r) for r in await conn.fetch("SELECT id, client, status, cost_usd FROM requests")]
    finally:
        await conn.close()


async def pg_dump(url: str) -> str:
    """Every row of every table, as text: what a `pg_dump` would show a reader of the database."""
    conn = await asyncpg.connect(url)
    try:
        out = []
        for (table,) in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"):
            out += [json.dumps(dict(r), default=str) for r in await conn.fetch(f'SELECT * FROM "{table}"')]
        return "\n".join(out)
    finally:
        await conn.close()


@dataclass
class Outcome:
    member: str
    replica: int
    status: int  # 0: no HTTP answer (connection refused or cut)
    request_id: str | None
    complete: bool  # the client got its whole answer
    detail: str = ""


class Load:
    """`clients` concurrent clients, each a member, sending chat calls (every other one streamed) over the
    balancer until `total` calls were sent or `stop()`. Runs on its own thread and event loop."""

    def __init__(self, team: ReplicaSet, clients: int, total: int | None, cycle: list[Member] | None = None) -> None:
        self.team = team
        self.cycle = cycle or list(team.members.values())
        self.clients = clients
        self.total = total
        self.outcomes: list[Outcome] = []
        self.in_flight_max: dict[str, int] = {}
        self._in_flight: dict[str, int] = {}
        self._sent = itertools.count()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()

    @property
    def count(self) -> int:
        return len(self.outcomes)

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float = 120.0) -> list[Outcome]:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the load did not finish"
        return self.outcomes

    def completed(self) -> Iterator[Outcome]:
        return (o for o in self.outcomes if o.complete)

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=self.clients * 2, max_keepalive_connections=self.clients * 2)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            await asyncio.gather(*(self._client(http, i) for i in range(self.clients)))

    async def _client(self, http: httpx.AsyncClient, i: int) -> None:
        member = self.cycle[i % len(self.cycle)]
        while not self._stop.is_set():
            n = next(self._sent)
            if self.total is not None and n >= self.total:
                return
            self._in_flight[member.name] = self._in_flight.get(member.name, 0) + 1
            self.in_flight_max[member.name] = max(self.in_flight_max.get(member.name, 0), self._in_flight[member.name])
            try:
                self.outcomes.append(await self._one(http, member, n % 2 == 0))
            finally:
                self._in_flight[member.name] -= 1

    async def _one(self, http: httpx.AsyncClient, member: Member, stream: bool) -> Outcome:
        body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
        headers = {"Authorization": "Bearer " + member.key}
        for _ in self.team.replicas:  # a replica that refuses the connection is skipped, as nginx does
            index = self.team.next()
            url = self.team.replicas[index].url + "/v1/chat/completions"
            try:
                async with http.stream("POST", url, json=body, headers=headers) as r:
                    data = await r.aread()
                break
            except httpx.ConnectError as e:
                failure = Outcome(member.name, index, 0, None, False, f"{type(e).__name__}: {e}")
            except httpx.HTTPError as e:  # cut mid-answer: not completed, and not retried
                return Outcome(member.name, index, 0, None, False, f"{type(e).__name__}: {e}")
        else:
            return failure
        whole = (b"data: [DONE]" in data) if stream else (b'"finish_reason"' in data)
        rid = r.headers.get("X-ProxyPal-Request-Id")
        return Outcome(member.name, index, r.status_code, rid, r.status_code == 200 and whole, data[:200].decode())
