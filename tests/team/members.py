"""Member keys for tests: made through the real CLI (a subprocess) or the real /v0/keys API."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx

from tests.engine_harness import EngineProcess

OPENAI_BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def keys_cli(eng: EngineProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """`proxypal-engine keys ...` on the engine's own home and config, as its operator would run it."""
    return subprocess.run([sys.executable, "-m", "proxy_engine", "keys", *args], env=eng.env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip


def cli_create(eng: EngineProcess, name: str, *flags: str) -> dict[str, Any]:
    done = keys_cli(eng, "create", name, *flags, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def api_create(eng: EngineProcess, **spec: Any) -> dict[str, Any]:
    r = eng.api("POST", "/v0/keys", json=spec)
    assert r.status_code == 201, r.text
    return r.json()


def chat(eng: EngineProcess, key: str, model: str = "gpt-4o-mini") -> httpx.Response:
    return httpx.post(eng.url + "/v1/chat/completions", json={**OPENAI_BODY, "model": model},
                      headers={"Authorization": f"Bearer {key}"}, timeout=20)  # fmt: skip


def as_member(eng: EngineProcess, key: str, method: str, path: str) -> httpx.Response:
    return httpx.request(method, eng.url + path, headers={"Authorization": f"Bearer {key}"}, timeout=10)
