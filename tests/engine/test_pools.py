"""Credential pools in the real engine: rotation, priorities, cooldowns (persisted, cleared), all-cooling 429."""

from __future__ import annotations

import json
import time

import anthropic
import httpx
import openai
import pytest

from tests.engine_harness import EngineProcess, free_port
from tests.fakes import FakeAnthropic, FakeOpenAI, FakeServerThread

KEYS = {"K1": "sk-pool-one-0001", "K2": "sk-pool-two-0002", "K3": "sk-pool-three-0003", "AK1": "sk-ant-pool-0001"}


def _config(port: int, fo, fa, extra_openai: str = "", extra: str = "") -> str:
    return f"""port: {port}
providers:
  openai:
    base_url: "{fo.base_url}"
    api_keys: [env:K1, env:K2, env:K3]
{extra_openai}
  anthropic: {{base_url: "{fa.base_url}", api_key: env:AK1}}
{extra}"""


def _keys_seen(fake) -> list[str]:
    return [r.headers["authorization"][7:] for r in fake.requests]


def _chat(eng: EngineProcess, model: str = "gpt-4o-mini") -> openai.types.chat.ChatCompletion:
    client = openai.OpenAI(base_url=eng.url + "/v1", api_key="unused", max_retries=0)
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])


@pytest.fixture(scope="module")
def fakes():
    with FakeServerThread(FakeOpenAI(api_keys=[KEYS["K1"], KEYS["K2"], KEYS["K3"]])) as fo, \
            FakeServerThread(FakeAnthropic(api_key=KEYS["AK1"])) as fa:  # fmt: skip
        yield fo, fa


@pytest.fixture
def engine(fakes, request):
    fo, fa = fakes
    fo.reset()
    fa.reset()
    marker = request.node.get_closest_marker("engine_config")
    kw = marker.kwargs if marker else {}
    port = free_port()
    with EngineProcess(_config(port, fo, fa, **kw), port, env=KEYS) as eng:
        yield eng


def _status(eng: EngineProcess, provider: str) -> dict:
    body = eng.api("GET", "/v0/auth/status").json()
    return next(p for p in body["providers"] if p["name"] == provider)


def test_round_robin_rotates_through_every_key_in_order(engine, fakes):
    for _ in range(6):
        _chat(engine)
    assert _keys_seen(fakes[0]) == [KEYS[k] for k in ("K1", "K2", "K3", "K1", "K2", "K3")]
    creds = _status(engine, "openai")["credentials"]
    assert [c["id"] for c in creds] == ["env:K1", "env:K2", "env:K3"]
    assert {c["state"] for c in creds} == {"valid"} and {c["type"] for c in creds} == {"api_key"}


@pytest.mark.engine_config(extra_openai="    strategy: fill-first")
def test_fill_first_sticks_to_the_first_key_until_it_cools(engine, fakes):
    fo = fakes[0]
    for _ in range(3):
        _chat(engine)
    assert _keys_seen(fo) == [KEYS["K1"]] * 3
    fo.queue(key=KEYS["K1"], status=429, retry_after=120)
    _chat(engine)
    assert _keys_seen(fo)[-2:] == [KEYS["K1"], KEYS["K2"]], "K1 was rate limited, the same request moved to K2"
    _chat(engine)
    assert _keys_seen(fo)[-1] == KEYS["K2"]


def test_rate_limited_key_cools_down_with_retry_after_and_is_skipped(engine, fakes):
    fo = fakes[0]
    sub = engine.subscribe()
    try:
        fo.queue(key=KEYS["K1"], status=429, retry_after=90)
        before = time.time()
        r = _chat(engine)
        assert r.choices[0].message.content, "the request itself succeeded on the next key"
        row = engine.records(1)[0]
        assert row["attempts"] == 2 and row["credential"] == "env:K2" and row["status"] == 200
        ev = sub.wait_for("credential.cooldown")
        assert ev["provider"] == "openai" and ev["credential"] == "env:K1" and ev["model"] == "gpt-4o-mini"
        assert ev["reason"] == "rate_limit" and before + 85 < ev["until"] < time.time() + 95
    finally:
        sub.close()
    k1 = next(c for c in _status(engine, "openai")["credentials"] if c["id"] == "env:K1")
    assert k1["state"] == "cooling" and k1["cooldowns"][0]["reason"] == "rate_limit"
    assert k1["cooldowns"][0]["status"] == 429
    fo.requests.clear()
    for _ in range(4):
        _chat(engine)
    assert KEYS["K1"] not in _keys_seen(fo), "a cooling key is not used"
    assert _keys_seen(fo) == [KEYS["K3"], KEYS["K2"], KEYS["K3"], KEYS["K2"]]
    # the cooldown is per model: K1 still serves another model
    fo.requests.clear()
    _chat(engine, "gpt-4o")
    _chat(engine, "gpt-4o")
    assert KEYS["K1"] in _keys_seen(fo)


def test_every_key_cooling_answers_429_with_retry_after_in_each_dialect(engine, fakes):
    fo = fakes[0]
    fo.script(status=429, retry_after=300)
    with pytest.raises(openai.RateLimitError):
        _chat(engine)
    assert len(fo.requests) == 3, "each key was tried once"
    fo.reset()
    with pytest.raises(openai.RateLimitError) as exc:
        _chat(engine)
    assert fo.requests == [], "nothing is sent while every key cools down"
    assert exc.value.response.headers["Retry-After"].isdigit()
    assert 250 < int(exc.value.response.headers["Retry-After"]) <= 300
    err = exc.value.response.json()["error"]
    assert err["code"] == "credentials_cooling_down" and "cooling down" in err["message"]
    # the same state, asked through the Anthropic dialect (translated to the openai upstream)
    client = anthropic.Anthropic(base_url=engine.url, api_key="unused", max_retries=0)
    with pytest.raises(anthropic.RateLimitError) as aexc:
        client.messages.create(model="openai/gpt-4o-mini", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert aexc.value.response.json()["type"] == "error" and "Retry-After" in aexc.value.response.headers
    row = engine.records(1)[0]
    assert row["status"] == 429 and row["error"]["code"] == "credentials_cooling_down"


def test_auth_failure_cools_long_and_server_error_short(engine, fakes):
    fo = fakes[0]
    fo.queue(key=KEYS["K1"], status=401)
    fo.queue(key=KEYS["K2"], status=503)
    _chat(engine)
    cools = {c["id"]: c["cooldowns"] for c in _status(engine, "openai")["credentials"]}
    auth, server = cools["env:K1"][0], cools["env:K2"][0]
    now = time.time()
    assert auth["reason"] == "auth" and auth["until"] - now > 20 * 60
    assert server["reason"] == "server_error" and 0 < server["until"] - now < 60
    assert engine.records(1)[0]["credential"] == "env:K3"


def test_cooldowns_survive_an_engine_restart_and_can_be_cleared(fakes):
    fo, fa = fakes
    fo.reset()
    port = free_port()
    eng = EngineProcess(_config(port, fo, fa), port, env=KEYS).start()
    try:
        fo.queue(key=KEYS["K1"], status=429, retry_after=600)
        _chat(eng)
        assert _keys_seen(fo) == [KEYS["K1"], KEYS["K2"]]
        eng.stop()
        eng.start()  # same PROXYPAL_HOME, same SQLite file
        k1 = next(c for c in _status(eng, "openai")["credentials"] if c["id"] == "env:K1")
        assert k1["state"] == "cooling" and k1["cooldowns"][0]["until"] > time.time() + 500
        fo.requests.clear()
        for _ in range(3):
            _chat(eng)
        assert KEYS["K1"] not in _keys_seen(fo), "the restarted engine remembers the cooldown"
        sub = eng.subscribe()
        try:
            r = eng.api("POST", "/v0/auth/cooldowns/clear", json={"provider": "openai", "credential": "env:K1"})
            assert r.status_code == 200 and r.json() == {"cleared": 1}
            ev = sub.wait_for("auth.changed", lambda e: e["credential"] == "env:K1")
            assert ev["state"] == "valid" and "cleared" in ev["message"]
        finally:
            sub.close()
        fo.requests.clear()
        for _ in range(3):
            _chat(eng)
        assert KEYS["K1"] in _keys_seen(fo), "a cleared key is back in rotation"
        assert eng.api("POST", "/v0/auth/cooldowns/clear", json={"model": 5}).status_code == 400
    finally:
        eng.stop()


@pytest.mark.engine_config(extra="routing: {max_wait_s: 5}")
def test_a_short_cooldown_is_waited_out_when_configured(engine, fakes):
    fo = fakes[0]
    fo.script(status=429, retry_after=1)
    with pytest.raises(openai.RateLimitError):
        _chat(engine)
    fo.reset()
    start = time.monotonic()
    r = _chat(engine)
    assert r.choices[0].message.content and time.monotonic() - start >= 0.5, "it waited, then succeeded"


def test_priority_wins_and_unreadable_keys_are_reported(fakes):
    fo, fa = fakes
    fo.reset()
    port = free_port()
    cfg = f"""port: {port}
providers:
  openai:
    base_url: "{fo.base_url}"
    api_keys: [env:K1, {{key: env:K2, id: primary, priority: 5}}, env:NOT_SET_ANYWHERE]
  anthropic: {{base_url: "{fa.base_url}", api_key: env:ALSO_NOT_SET}}
"""
    with EngineProcess(cfg, port, env=KEYS) as eng:
        for _ in range(3):
            _chat(eng)
        assert _keys_seen(fo) == [KEYS["K2"]] * 3, "the higher priority key takes every request"
        creds = {c["id"]: c for c in _status(eng, "openai")["credentials"]}
        assert creds["env:NOT_SET_ANYWHERE"]["state"] == "missing"
        assert creds["primary"]["priority"] == 5
        client = anthropic.Anthropic(base_url=eng.url, api_key="unused", max_retries=0)
        with pytest.raises(anthropic.APIStatusError) as exc:
            client.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}])
        assert exc.value.status_code == 503 and "env:ALSO_NOT_SET" in exc.value.message
        assert fa.requests == [], "no request goes out without a key"


def test_no_key_reaches_management_answers_events_logs_or_the_ledger(engine, fakes):
    sub = engine.subscribe()
    try:
        fakes[0].queue(key=KEYS["K1"], status=429, retry_after=30)
        fakes[0].queue(key=KEYS["K2"], status=401)
        _chat(engine)
        sub.wait_for("request.finished")
        sub.wait_for("credential.cooldown")
    finally:
        sub.close()
    answers = [engine.api("GET", p).text for p in ("/v0/auth/status", "/v0/status", "/v0/requests", "/v0/config")]
    time.sleep(0.6)  # the ledger writes in batches
    stored = [p.read_bytes().decode("latin-1") for p in engine.home.rglob("*") if p.is_file()
              and p.name != "config.yaml" and not p.name.endswith(".enc")]  # fmt: skip
    assert any("credential_cooldowns" in s for s in stored), "the ledger database was scanned"
    for secret in KEYS.values():
        for i, text in enumerate(answers):
            assert secret not in text, f"management answer {i} leaks a key"
        assert secret not in json.dumps(sub.events), "an event leaks a key"
        assert not any(secret in s for s in stored), "a file under PROXYPAL_HOME holds a key in clear"
    r = httpx.get(engine.url + "/v0/auth/status", timeout=5)
    assert r.status_code == 401, "auth status needs the management key"
