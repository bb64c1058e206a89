"""Team-mode engines for tests: real engine processes whose `team.postgres` is a real PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from tests.engine_harness import EngineProcess, free_port

KEYS = {"K1": "sk-team-one-0001", "K2": "sk-team-two-0002", "TAK": "sk-ant-team-0001", "TGK": "AIza-team-gemini"}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def team_config(port: int, fo, fa, fg, postgres: str, extra: str = "") -> str:
    return f"""port: {port}
providers:
  openai: {{base_url: "{fo.base_url}", api_keys: [env:K1, env:K2]}}
  anthropic: {{base_url: "{fa.base_url}", api_key: env:TAK}}
  gemini: {{base_url: "{fg.base_url}", api_key: env:TGK}}
team: {{postgres: "{postgres}"}}
{extra}"""


def team_engine(fakes, postgres: str, env: dict[str, str] | None = None, extra: str = "") -> EngineProcess:
    port = free_port()
    return EngineProcess(team_config(port, *fakes, postgres, extra), port, env={**KEYS, **(env or {})})


def start_together(engines: list[EngineProcess]) -> None:
    """Start every engine at the same moment (each `start` waits for its /healthz)."""
    errors: list[BaseException] = []

    def run(e: EngineProcess) -> None:
        try:
            e.start()
        except BaseException as exc:  # handed to the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]


def chat(eng: EngineProcess, client: httpx.Client | None = None, stream: bool = False) -> httpx.Response:
    c = client or httpx
    r = c.post(eng.url + "/v1/chat/completions", json={**CHAT, "stream": stream}, timeout=20)
    assert r.status_code == 200, r.text
    return r


def wait_until(pred: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
