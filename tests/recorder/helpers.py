"""Shared by the recorder tests: an engine with the recorder on, and reading what it stored."""

from __future__ import annotations

import gzip
import time
from pathlib import Path
from typing import Any

import httpx

from tests.engine_harness import FAKE_KEYS, EngineProcess

CLIENT_KEY = "client-key-rec-5e4d3c2b1a"
ENV = {"REC_CK": CLIENT_KEY}
SECRETS = {**FAKE_KEYS, "REC_CK": CLIENT_KEY}
MSG = [{"role": "user", "content": "hi"}]
CONTENTS = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def recorder_config(port: int, fo, fa, fg, recorder: str = "{mode: all}", extra: str = "") -> str:
    return f"""port: {port}
providers:
  openai: {{base_url: "{fo.base_url}", api_key: env:OK}}
  anthropic: {{base_url: "{fa.base_url}", api_key: env:AK}}
  gemini: {{base_url: "{fg.base_url}", api_key: env:GK}}
models:
  Smart: ["anthropic/claude-sonnet-4-5", "openai/gpt-4o"]
clients:
  - {{name: tester, key: env:REC_CK}}
recorder: {recorder}
{extra}"""


def client(eng: EngineProcess) -> httpx.Client:
    headers = {"Authorization": f"Bearer {CLIENT_KEY}", "anthropic-version": "2023-06-01"}
    return httpx.Client(base_url=eng.url, headers=headers, timeout=20)


def wait_capture(eng: EngineProcess, request_id: str, timeout: float = 10) -> dict[str, Any]:
    """The capture as `/v0/requests/{id}/capture` serves it, once the writer thread has stored it."""
    deadline = time.monotonic() + timeout
    while True:
        r = eng.api("GET", f"/v0/requests/{request_id}/capture")
        if r.status_code == 200:
            return r.json()
        assert r.status_code == 404, r.text
        if time.monotonic() > deadline:
            raise AssertionError(f"no capture for {request_id}: {r.text}")
        time.sleep(0.05)


def stages(doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [s for s in doc["stages"] if s["stage"] == name]


def capture_texts(home: Path) -> list[tuple[Path, bytes]]:
    """Every file of the recorder, decompressed where it is compressed: what a secret scan must read."""
    out = []
    for f in (home / "state" / "captures").rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            out.append((f, gzip.decompress(data) if f.name.endswith(".gz") else data))
    return out


def leaks(data: bytes, secrets: dict[str, str] = SECRETS) -> list[str]:
    return [name for name, s in secrets.items() if s.encode() in data]
