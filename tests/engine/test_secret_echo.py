"""An upstream that echoes the credential it received must not hand it to anyone.

The fake upstream (`CredentialEcho`) answers every call with an error quoting its key in the
message, in nested fields and in reply headers. Every dialect is called, same-dialect and
translated, and the keys are looked for in the client's replies, the event feed, `/v0/*`,
the ledger and every file under PROXYPAL_HOME.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.dialect_errors import dialect_error
from tests.engine_harness import EngineProcess, EventSubscriber, free_port
from tests.fakes import FakeServerThread
from tests.fakes.credential_echo import CredentialEcho

# Provider keys in three shapes: one no pattern would recognise, an Anthropic-style and a Google-style key.
SECRETS = {
    "ECHO_OK": "opkey-Q7f3a9c2e5b1d8e0",
    "ECHO_AK": "sk-ant-echo-4b9d2f71c3a8",
    "ECHO_GK": "AIzaEchoGeminiKey-1234567",
    "ECHO_CK": "client-key-9d8c7b6a5f4e",
}
CLIENT_KEY = SECRETS["ECHO_CK"]
MODELS = ("openai/gpt-4o", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-pro")
_MSG = [{"role": "user", "content": "hi"}]
_CONTENTS = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def _calls(model: str) -> Iterator[tuple[str, str, dict]]:
    """(dialect, path, body) for every kind of model call, naming `model`."""
    yield "openai_chat", "/v1/chat/completions", {"model": model, "messages": _MSG}
    yield "openai_chat", "/v1/chat/completions", {"model": model, "messages": _MSG, "stream": True}
    yield "openai_responses", "/v1/responses", {"model": model, "input": "hi"}
    yield "anthropic", "/v1/messages", {"model": model, "max_tokens": 16, "messages": _MSG}
    yield "anthropic", "/v1/messages", {"model": model, "max_tokens": 16, "messages": _MSG, "stream": True}
    yield "anthropic", "/v1/messages/count_tokens", {"model": model, "messages": _MSG}
    yield "gemini", f"/v1beta/models/{model}:generateContent", _CONTENTS
    yield "gemini", f"/v1beta/models/{model}:streamGenerateContent?alt=sse", _CONTENTS
    yield "gemini", f"/v1/models/{model}:countTokens", _CONTENTS
    yield "openai_chat", "/api/provider/openai/v1/chat/completions", {"model": model, "messages": _MSG}


@pytest.fixture(scope="module")
def echo_engine() -> Iterator[tuple[EngineProcess, CredentialEcho]]:
    with FakeServerThread(CredentialEcho()) as echo:
        port = free_port()
        cfg = f"""port: {port}
providers:
  openai: {{base_url: "{echo.base_url}/v1", api_key: env:ECHO_OK}}
  anthropic: {{base_url: "{echo.base_url}", api_key: env:ECHO_AK}}
  gemini: {{base_url: "{echo.base_url}", api_key: env:ECHO_GK}}
clients:
  - {{name: tester, key: env:ECHO_CK}}
"""
        with EngineProcess(cfg, port, env=SECRETS) as eng:
            yield eng, echo


def _leaks(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        return [name for name, s in SECRETS.items() if s.encode() in text]
    return [name for name, s in SECRETS.items() if s in text]


def test_echoed_credentials_reach_no_client_event_ledger_or_file(
    echo_engine: tuple[EngineProcess, CredentialEcho],
) -> None:
    eng, echo = echo_engine
    events = EventSubscriber(eng.events_socket())
    headers = {"Authorization": f"Bearer {CLIENT_KEY}", "anthropic-version": "2023-06-01"}
    sent = 0
    try:
        with httpx.Client(base_url=eng.url, headers=headers, timeout=20) as http:
            for model in MODELS:
                for dialect, path, body in _calls(model):
                    r = http.post(path, json=body)
                    sent += 1
                    where = f"{dialect} {path} -> {model}"
                    # only a translated count on an upstream with no counter is answered here (an estimate)
                    assert r.status_code >= 400 or "X-ProxyPal-Token-Estimate" in r.headers, where
                    assert not _leaks(r.content), f"{where}: {r.text}"
                    assert not _leaks(json.dumps(dict(r.headers))), f"{where}: {dict(r.headers)}"
                    if r.status_code >= 400 and "stream" not in path and not body.get("stream"):
                        assert dialect_error(dialect, r.status_code, r.content) is None, f"{where}: {r.text}"
                    eng.clear_cooldowns()  # a 401 cools the key down; the next call must reach the echo again
        assert len(echo.requests) >= sent // 2, "the echo upstream was reached"
        assert all(_presented_key(r.headers) for r in echo.requests), "the echo got the real keys"
        _wait_for_rows(eng, sent)
        for path in ("/v0/requests?limit=500", "/v0/status", "/v0/auth/status", "/v0/usage", "/v0/config"):
            answer = eng.api("GET", path)
            assert answer.status_code == 200, path
            assert not _leaks(answer.text), f"{path}: {answer.text[:500]}"
        events.wait_for("request.finished", lambda e: True)
        assert not _leaks(json.dumps(events.events)), "an event carried a secret"
    finally:
        events.close()
    eng.stop()  # flushes the ledger and the logs
    for f in Path(eng.home).rglob("*"):
        if f.is_file():
            assert not _leaks(f.read_bytes()), f"{f} holds a secret"


def _presented_key(headers: dict[str, str]) -> bool:
    got = " ".join(headers.get(h, "") for h in ("authorization", "x-api-key", "x-goog-api-key"))
    return any(s in got for s in SECRETS.values())


def _wait_for_rows(eng: EngineProcess, n: int) -> None:
    deadline = time.time() + 10
    while len(eng.records(500)) < n:
        assert time.time() < deadline, "the ledger did not record every call"
        time.sleep(0.1)
