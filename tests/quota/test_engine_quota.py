"""The running engine against fakes that send each provider's quota headers: what `/v0/quota`, the
events and `proxypal-engine quota` show, and how routing uses it (headroom, ceiling, exhaustion)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.dialect_errors import dialect_error
from tests.engine_harness import EngineProcess, free_port
from tests.fakes import FakeAnthropic, FakeGemini, FakeOpenAI, FakeServerThread
from tests.fakes import quota_headers as qh

KEY_ONE, KEY_TWO = "sk-ant-one", "sk-ant-two"
ENV = {"AK1": KEY_ONE, "AK2": KEY_TWO}


def config(port: int, fo: FakeOpenAI, fa: FakeAnthropic, fg: FakeGemini) -> str:
    return f"""port: {port}
routing: {{strategy: headroom}}
quota: {{alert_at: [80, 95]}}
providers:
  openai: {{base_url: "{fo.base_url}", api_key: env:OK}}
  claude: {{kind: anthropic, base_url: "{fa.base_url}", api_keys: [env:AK1, env:AK2], max_used_percent: 90}}
  max: {{kind: anthropic, base_url: "{fa.base_url}", api_key: env:AK1}}
  api: {{kind: anthropic, base_url: "{fa.base_url}", api_key: env:AK2}}
  gemini: {{base_url: "{fg.base_url}", api_key: env:GK}}
models:
  Sonnet: {{claude: claude-sonnet-4-6}}
  MaxSonnet: {{max: claude-sonnet-4-6}}
  ApiSonnet: {{api: claude-sonnet-4-6}}
"""


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeOpenAI, FakeAnthropic, FakeGemini]]:
    with FakeServerThread(FakeOpenAI()) as fo, FakeServerThread(FakeAnthropic(api_keys=[KEY_ONE, KEY_TWO])) as fa, \
            FakeServerThread(FakeGemini()) as fg:  # fmt: skip
        yield fo, fa, fg


@pytest.fixture(scope="module")
def engine(fakes: tuple[FakeOpenAI, FakeAnthropic, FakeGemini]) -> Iterator[EngineProcess]:
    port = free_port()
    with EngineProcess(config(port, *fakes), port, env=ENV) as eng:
        yield eng


@pytest.fixture(autouse=True)
def _reset(fakes: tuple[FakeOpenAI, FakeAnthropic, FakeGemini]) -> None:
    for f in fakes:
        f.reset()


def chat(engine: EngineProcess, model: str, stream: bool = False) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return httpx.post(engine.url + "/v1/chat/completions", json=body, timeout=30)


def messages(engine: EngineProcess, model: str) -> httpx.Response:
    body = {"model": model, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(engine.url + "/v1/messages", json=body, headers={"anthropic-version": "2023-06-01"}, timeout=30)


def generate(engine: EngineProcess, model: str) -> httpx.Response:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    return httpx.post(f"{engine.url}/v1beta/models/{model}:generateContent", json=body, timeout=30)


def quota_of(engine: EngineProcess, provider: str, credential: str) -> dict[str, dict[str, Any]]:
    answer = engine.api("GET", "/v0/quota").json()
    cred = next(c for c in answer["credentials"] if (c["provider"], c["credential"]) == (provider, credential))
    return {w["name"]: w for w in cred["windows"]}


def cli(engine: EngineProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "proxy_engine", "quota", *args], env=engine.env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_headers_of_streamed_and_whole_replies_reach_quota_the_event_and_the_cli(engine, fakes) -> None:
    fo = fakes[0]
    now = time.time()
    fo.script(headers={**qh.codex(42.5, 13, now + 3600, now + 6 * 86400),
                       **qh.openai_api((5000, 4999), (160000, 150000), "6m0s", "1m0s")})  # fmt: skip
    events = engine.subscribe()
    try:
        assert chat(engine, "openai/gpt-4o", stream=True).status_code == 200
        update = events.wait_for("quota.updated", lambda e: e["provider"] == "openai")
    finally:
        events.close()
    assert {w["name"] for w in update["windows"]} == {"5h", "7d", "requests", "tokens"}
    assert chat(engine, "openai/gpt-4o").status_code == 200
    windows = quota_of(engine, "openai", "env:OK")
    assert (windows["5h"]["used_percent"], windows["5h"]["source"]) == (42.5, "observed")
    assert windows["5h"]["resets_at"] == int(now + 3600) and windows["7d"]["used_percent"] == 13
    assert (windows["tokens"]["limit"], windows["tokens"]["remaining"]) == (160000, 150000)
    assert windows["requests"]["observed_at"] > now - 1
    table = cli(engine)
    assert table.returncode == 0, table.stderr
    assert f"from the engine on 127.0.0.1:{engine.port}" in table.stdout
    line = next(x for x in table.stdout.splitlines() if x.startswith("openai") and " 5h " in x)
    assert "43%" in line and "▇▇▇▇▇▁▁▁▁▁" in line and "observed" in line
    assert "(in 59m)" in line or "(in 1h00m)" in line
    as_json = json.loads(cli(engine, "--json").stdout)
    assert any(c["provider"] == "openai" and c["windows"] for c in as_json["credentials"])


def test_headroom_picks_the_roomier_key_and_the_ceiling_skips_one_above_it(engine, fakes) -> None:
    fa = fakes[1]
    now = time.time()
    fa.script(key=KEY_ONE, headers=qh.anthropic_unified(0.70, 0.30, now + 3600, now + 3 * 86400))
    fa.script(key=KEY_TWO, headers=qh.anthropic_unified(0.10, 0.10, now + 4.5 * 3600, now + 3 * 86400))
    for _ in range(2):  # a key with no readings goes first, so both are read
        assert messages(engine, "Sonnet").status_code == 200
    assert sorted(r.headers["x-api-key"] for r in fa.requests) == [KEY_ONE, KEY_TWO]
    fa.requests.clear()
    for _ in range(3):
        assert messages(engine, "Sonnet").status_code == 200
    assert [r.headers["x-api-key"] for r in fa.requests] == [KEY_ONE] * 3, "30 % left for the last hour of 5"
    # 92 % used, resetting in 5 minutes: the most headroom of all, but above the 90 % ceiling.
    fa.script(key=KEY_ONE, headers=qh.anthropic_unified(0.92, 0.30, now + 300, now + 3 * 86400))
    assert messages(engine, "Sonnet").status_code == 200
    fa.requests.clear()
    for _ in range(2):
        assert messages(engine, "Sonnet").status_code == 200
    assert [r.headers["x-api-key"] for r in fa.requests] == [KEY_TWO] * 2


@pytest.mark.parametrize("dialect", ["anthropic", "openai_chat", "gemini"])
def test_an_exhausted_window_answers_429_with_retry_after_its_reset_without_calling_upstream(
    engine, fakes, dialect: str
) -> None:
    fa = fakes[1]
    reset = time.time() + 120
    fa.queue(key=KEY_ONE, status=429, error_type="rate_limit_error",
             headers=qh.anthropic_unified(1.0, 0.5, reset, reset + 86400, status="rejected"))  # fmt: skip
    first = messages(engine, "MaxSonnet")
    assert first.status_code in (200, 429)  # the first call reaches the upstream (429 once, or a later reply)
    fa.requests.clear()
    call = {"anthropic": messages, "openai_chat": chat, "gemini": generate}[dialect]
    answer = call(engine, "MaxSonnet")
    assert answer.status_code == 429 and fa.requests == [], "no request is spent on a known 429"
    assert dialect_error(dialect, 429, answer.content) is None
    assert 100 <= int(answer.headers["Retry-After"]) <= 121
    assert "used up its quota" in answer.text
    assert quota_of(engine, "max", "env:AK1")["5h"]["exhausted"] is True
    status = engine.api("GET", "/v0/auth/status").json()
    (cred,) = next(p for p in status["providers"] if p["name"] == "max")["credentials"]
    rest = cred["cooldowns"][-1]
    assert cred["state"] == "cooling" and (rest["model"], rest["reason"]) == ("*", "quota_exhausted")
    row = engine.records(1)[0]
    assert row["status"] == 429 and row["error"]["code"] == "quota_exhausted"


def test_a_reply_without_headers_is_estimated_against_the_last_known_limits(engine, fakes) -> None:
    fa = fakes[1]
    fa.queue(key=KEY_TWO, headers=qh.anthropic_api((50, 40), (100_000, 90_000), time.time() + 60))
    assert messages(engine, "ApiSonnet").status_code == 200
    assert quota_of(engine, "api", "env:AK2")["requests"]["source"] == "observed"
    assert messages(engine, "ApiSonnet").status_code == 200  # the default script sends no quota headers
    row = engine.records(1)[0]
    windows = quota_of(engine, "api", "env:AK2")
    assert (windows["requests"]["remaining"], windows["requests"]["source"]) == (39, "estimated")
    assert windows["tokens"]["remaining"] == 90_000 - row["input_tokens"] - row["output_tokens"]
    assert windows["output_tokens"]["remaining"] == 90_000 - row["output_tokens"]


def test_a_gemini_quota_failure_rests_the_key_until_pacific_midnight(engine, fakes) -> None:
    fg = fakes[2]
    fg.queue(status=429, retry_after=22, error_type="RESOURCE_EXHAUSTED", error_details=qh.gemini_quota_failure(250))
    assert chat(engine, "gemini/gemini-2.5-flash").status_code == 429
    day = quota_of(engine, "gemini", "env:GK")["requests/day"]
    assert (day["used_percent"], day["limit"], day["remaining"], day["exhausted"]) == (100.0, 250, 0, True)
    fg.requests.clear()
    answer = chat(engine, "gemini/gemini-2.5-flash")
    assert answer.status_code == 429 and fg.requests == []
    assert abs(int(answer.headers["Retry-After"]) - (day["resets_at"] - time.time())) < 5


def test_readings_survive_a_restart_and_the_cli_reads_the_file_when_no_engine_runs(fakes) -> None:
    fo = fakes[0]
    now = time.time()
    fo.script(headers=qh.codex(63, 20, now + 3600, now + 6 * 86400))
    port = free_port()
    with EngineProcess(config(port, *fakes), port, env=ENV) as eng:
        assert chat(eng, "openai/gpt-4o").status_code == 200
        home = str(eng.home)
    with EngineProcess(config(port, *fakes), port, env=ENV, home=home) as again:
        assert quota_of(again, "openai", "env:OK")["5h"]["used_percent"] == 63
        env = again.env
    table = subprocess.run([sys.executable, "-m", "proxy_engine", "quota"], env=env, capture_output=True, text=True,
                           timeout=60)  # fmt: skip
    assert table.returncode == 0 and "no engine answers" in table.stdout
    line = next(x for x in table.stdout.splitlines() if x.startswith("openai") and " 5h " in x)
    assert "63%" in line and "▇▇▇▇▇▇▇▁▁▁" in line and "observed" in line
