"""Replicas in team mode with Redis: real engine processes sharing one PostgreSQL and one Redis."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.engine_harness import EngineProcess, free_port
from tests.team.engines import KEYS, start_together

ANN = "sk-member-ann-0001"
PRICES = "prices: {gpt-4o-mini: {input_per_mtok: 1000, output_per_mtok: 1000}}\n"  # 100 + 100 tokens: $0.20


def replica_config(port: int, fo, redis: str, postgres: str | None = None, extra: str = "") -> str:
    pg = f', postgres: "{postgres}"' if postgres else ""
    return f"""port: {port}
providers:
  openai: {{base_url: "{fo.base_url}", api_keys: [env:K1, env:K2]}}
team: {{redis: "{redis}"{pg}}}
{extra}"""


def replicas(n: int, fo, redis: str, postgres: str | None = None, extra: str = "") -> list[EngineProcess]:
    engines = []
    for _ in range(n):
        port = free_port()
        engines.append(EngineProcess(replica_config(port, fo, redis, postgres, extra), port, env={**KEYS, "ANN": ANN}))
    start_together(engines)
    return engines


def spread(engines: list[EngineProcess], total: int, concurrency: int, key: str | None = None) -> list[int]:
    """`total` chat requests from `concurrency` clients, round-robin over the replicas; their statuses."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}

    def one(i: int) -> int:
        eng = engines[i % len(engines)]
        return httpx.post(eng.url + "/v1/chat/completions", json=body, headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, range(total)))


def stop_all(engines: list[EngineProcess]) -> None:
    for eng in engines:
        if eng.proc is not None:
            eng.stop()
