"""No secret reaches a capture file: the secret scan is run over the recorder's files, decompressed.

Two engines: ours with `mode: all` (every dialect, same and translated, JSON and SSE, keys in
headers and in `?key=`), and the credential-echo engine of `tests/engine/test_secret_echo.py`,
whose upstream quotes the key it received in every error (kept by the default `errors` mode).
"""

from __future__ import annotations

import time

import httpx

from tests.engine.test_secret_echo import CLIENT_KEY as ECHO_CLIENT_KEY
from tests.engine.test_secret_echo import MODELS, _calls, echo_engine  # noqa: F401
from tests.engine.test_secret_echo import SECRETS as ECHO_SECRETS
from tests.engine_harness import EngineProcess
from tests.recorder.helpers import CLIENT_KEY, CONTENTS, MSG, capture_texts, leaks, wait_capture


def _scan(eng: EngineProcess, secrets: dict[str, str], expect_files: int) -> None:
    files = capture_texts(eng.home)
    assert len([f for f, _ in files if f.name.endswith(".json.gz")]) >= expect_files
    for f, data in files:
        assert not leaks(data, secrets), f"{f}: {leaks(data, secrets)}"


def test_no_secret_in_any_capture_file(engine: EngineProcess) -> None:
    ids = []
    with httpx.Client(base_url=engine.url, timeout=20) as http:
        for model in ("openai/gpt-4o", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-pro"):
            bearer = {"Authorization": f"Bearer {CLIENT_KEY}"}
            calls = [
                ("/v1/chat/completions", {"model": model, "messages": MSG, "stream": True}, bearer),
                ("/v1/messages", {"model": model, "max_tokens": 9, "messages": MSG},
                 {"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"}),
                (f"/v1beta/models/{model}:streamGenerateContent?alt=sse&key={CLIENT_KEY}", CONTENTS, {}),
                (f"/v1beta/models/{model}:generateContent", CONTENTS, {"x-goog-api-key": CLIENT_KEY}),
            ]  # fmt: skip
            for path, body, headers in calls:
                r = http.post(path, json=body, headers=headers)
                assert r.status_code == 200, (path, r.text)
                ids.append(r.headers["X-ProxyPal-Request-Id"])
    for rid in ids:
        doc = wait_capture(engine, rid)
        assert not leaks(str(doc).encode()), "the capture API serves no secret"
    _scan(engine, {"client": CLIENT_KEY, **{k: v for k, v in engine.env.items() if k in ("OK", "AK", "GK")}}, len(ids))


def test_echoed_credentials_reach_no_capture_file(echo_engine) -> None:  # noqa: F811
    eng, _echo = echo_engine
    headers = {"Authorization": f"Bearer {ECHO_CLIENT_KEY}", "anthropic-version": "2023-06-01"}
    with httpx.Client(base_url=eng.url, headers=headers, timeout=20) as http:
        for model in MODELS:
            for _dialect, path, body in _calls(model):
                http.post(path, json=body)
                eng.clear_cooldowns()
    assert eng.api("GET", "/v0/status").json()["recorder"]["mode"] == "errors"
    end = time.monotonic() + 15
    while eng.api("GET", "/v0/status").json()["recorder"]["queued"] and time.monotonic() < end:
        time.sleep(0.1)
    _scan(eng, ECHO_SECRETS, len(MODELS) * 8)
    echoed = [d for _, d in capture_texts(eng.home) if b"upstream_response" in d]
    assert echoed, "the echo's errors were captured (and their keys cut out)"
