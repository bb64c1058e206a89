"""Agent sessions through the real engine: read from the agents' headers, recorded (ledger, events, /v0),
sticky per credential, and turned into OpenAI's `prompt_cache_key` when a request is translated to OpenAI."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from proxy_engine.request_path.sessions import SESSION_MAX, prompt_cache_key, session_of
from tests.engine_harness import EngineProcess, free_port
from tests.fakes import FakeAnthropic, FakeOpenAI, FakeServerThread

KEYS = {"SK1": "sk-session-one-0001", "SK2": "sk-session-two-0002", "SAK": "sk-ant-session-0001"}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
MESSAGE = {"model": "openai/gpt-4o-mini", "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]}


# ---- reading the header -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    ["X-Claude-Code-Session-Id", "session-id", "session_id", "thread-id", "conversation_id", "x-session-affinity",
     "X-Session-Id", "x-opencode-session", "X-Amp-Thread-Id"],
)  # fmt: skip
def test_each_agents_session_header_is_read(header: str) -> None:
    assert session_of(httpx.Headers({header: " 0b9c5d2e-1f3a-4c5b-9d8e-7f6a5b4c3d2e "})) == (
        "0b9c5d2e-1f3a-4c5b-9d8e-7f6a5b4c3d2e"
    )


def test_the_most_specific_header_wins() -> None:
    headers = httpx.Headers({"x-session-id": "generic", "thread-id": "thread", "session-id": "codex-root"})
    assert session_of(headers) == "codex-root", "Codex's root session, which its prompt_cache_key uses too"
    assert session_of(httpx.Headers({"x-session-id": "x", "X-Claude-Code-Session-Id": "claude"})) == "claude"


def test_blank_unprintable_and_absent_values_are_no_session() -> None:
    assert session_of(httpx.Headers({})) is None
    assert session_of(httpx.Headers({"session-id": "   "})) is None
    assert session_of({"session-id": "bad\x1bvalue"}) is None
    assert session_of({"session-id": "bad\x1b", "x-session-id": "fine"}) == "fine"


def test_a_long_session_id_is_bounded() -> None:
    got = session_of({"session-id": "s" * 10_000})
    assert got is not None and len(got) == SESSION_MAX


def test_the_prompt_cache_key_is_a_hash_not_the_id() -> None:
    key = prompt_cache_key("my-session")
    assert "my-session" not in key and key == prompt_cache_key("my-session") != prompt_cache_key("other")
    assert len(key) <= 64


# ---- through the engine ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[Any, Any]]:
    with FakeServerThread(FakeOpenAI(api_keys=[KEYS["SK1"], KEYS["SK2"]])) as fo, \
            FakeServerThread(FakeAnthropic(api_key=KEYS["SAK"])) as fa:  # fmt: skip
        yield fo, fa


@pytest.fixture(scope="module")
def engine(fakes: tuple[Any, Any]) -> Iterator[EngineProcess]:
    fo, fa = fakes
    port = free_port()
    config = f"""port: {port}
providers:
  openai: {{base_url: "{fo.base_url}", api_keys: [env:SK1, env:SK2]}}
  anthropic: {{base_url: "{fa.base_url}", api_key: env:SAK}}
"""
    with EngineProcess(config, port, env=KEYS) as eng:
        yield eng


@pytest.fixture(autouse=True)
def _clean(fakes: tuple[Any, Any], engine: EngineProcess) -> None:
    for f in fakes:
        f.reset()
    engine.clear_cooldowns()


def _chat(engine: EngineProcess, session: str | None, header: str = "session-id") -> httpx.Response:
    headers = {header: session} if session else {}
    r = httpx.post(engine.url + "/v1/chat/completions", json=CHAT, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return r


def _credential_of(engine: EngineProcess, response: httpx.Response) -> str:
    rid = response.headers["X-ProxyPal-Request-Id"]
    return next(r["credential"] for r in engine.records(200) if r["id"] == rid)


def test_two_sessions_each_stay_on_their_own_credential(engine: EngineProcess) -> None:
    used = {s: {_credential_of(engine, _chat(engine, f"sticky-{s}"))} for s in ("alpha", "beta")}
    assert used["alpha"] != used["beta"], "the first picks are the pool's round-robin"
    for _ in range(6):
        for s in used:
            used[s].add(_credential_of(engine, _chat(engine, f"sticky-{s}")))
            _chat(engine, None)  # a request without a session in between moves neither
    assert all(len(creds) == 1 for creds in used.values()), used


def test_without_a_session_the_pool_rotates_as_before(engine: EngineProcess) -> None:
    creds = [_credential_of(engine, _chat(engine, None)) for _ in range(4)]
    assert creds[0] != creds[1] and creds[0] == creds[2] and creds[1] == creds[3], creds


def test_a_cooled_down_credential_moves_the_session_which_then_sticks(
    engine: EngineProcess, fakes: tuple[Any, Any]
) -> None:
    fo, _ = fakes
    held = _credential_of(engine, _chat(engine, "sticky-gamma"))
    key = KEYS["SK1"] if held == "env:SK1" else KEYS["SK2"]
    fo.queue(key=key, status=429, retry_after=60)
    moved = _credential_of(engine, _chat(engine, "sticky-gamma"))  # the same request fails over
    assert moved != held
    engine.clear_cooldowns()  # the old credential is usable again; the session stays where its cache now is
    assert {_credential_of(engine, _chat(engine, "sticky-gamma")) for _ in range(5)} == {moved}


def test_the_session_is_in_the_ledger_the_events_and_the_management_api(engine: EngineProcess) -> None:
    sub = engine.subscribe()
    try:
        headers = {"X-Claude-Code-Session-Id": "ledger-session-1", "User-Agent": "claude-cli/2.1.90"}
        r = httpx.post(engine.url + "/v1/messages", json=MESSAGE, timeout=30, headers=headers)
        assert r.status_code == 200, r.text
        rid = r.headers["X-ProxyPal-Request-Id"]
        finished = sub.wait_for("request.finished", lambda e: e["id"] == rid)
        assert finished["session"] == "ledger-session-1"
        started = [e for e in sub.events if e["type"] == "request.started" and e["id"] == rid]
        assert all(e["session"] == "ledger-session-1" for e in started)  # (left out when it finished in the batch)
    finally:
        sub.close()
    _chat(engine, "ledger-session-2")
    _chat(engine, None)
    mine = engine.api("GET", "/v0/requests?session=ledger-session-1").json()["requests"]
    assert [r["id"] for r in mine] == [rid]
    assert mine[0]["session"] == "ledger-session-1" and mine[0]["agent"] == "claude-code"
    sessions = {s["session"]: s for s in engine.api("GET", "/v0/sessions").json()["sessions"]}
    one = sessions["ledger-session-1"]
    assert (one["requests"], one["agent"], one["models"]) == (1, "claude-code", ["gpt-4o-mini"])
    assert one["input_tokens"] > 0 and one["output_tokens"] > 0 and one["last_seen"] >= one["first_seen"]
    assert "ledger-session-2" in sessions
    assert None not in sessions, "requests without a session are no session"


def test_bad_session_queries_are_400s(engine: EngineProcess) -> None:
    assert engine.api("GET", "/v0/sessions?limit=lots").status_code == 400
    assert engine.api("GET", "/v0/sessions?since=yesterday").status_code == 400
    assert httpx.get(engine.url + "/v0/sessions").status_code == 401


def test_a_request_translated_to_openai_carries_a_hashed_prompt_cache_key(
    engine: EngineProcess, fakes: tuple[Any, Any]
) -> None:
    fo, _ = fakes
    r = httpx.post(engine.url + "/v1/messages", json=MESSAGE, headers={"X-Claude-Code-Session-Id": "cache-me"},
                   timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    sent = fo.last_request
    assert sent.json["prompt_cache_key"] == prompt_cache_key("cache-me")
    assert b"cache-me" not in sent.body, "the raw session id never leaves the machine"


def test_no_session_no_prompt_cache_key(engine: EngineProcess, fakes: tuple[Any, Any]) -> None:
    fo, _ = fakes
    r = httpx.post(engine.url + "/v1/messages", json=MESSAGE, timeout=30)
    assert r.status_code == 200, r.text
    assert "prompt_cache_key" not in fo.last_request.json


def test_a_same_dialect_call_is_not_edited(engine: EngineProcess, fakes: tuple[Any, Any]) -> None:
    fo, _ = fakes
    _chat(engine, "pass-through-session")
    assert "prompt_cache_key" not in fo.last_request.json
    assert fo.last_request.headers.get("session-id") == "pass-through-session", "allowed headers still pass"
