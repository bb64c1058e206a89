"""Webhooks through the real engine, against real local receivers: signed deliveries of the chosen
events only, a retry after a 500, a dead or hanging receiver that never slows a request, secrets
that stay out of logs and events, and a config reload that moves the hooks."""

from __future__ import annotations

import socket

import httpx
import pytest

from proxy_engine.webhooks import verify
from tests.engine_harness import EngineProcess, free_port
from tests.fakes import FakeOpenAI, FakeServerThread
from tests.webhooks.receiver import WebhookReceiver

CHAT = "/v1/chat/completions"
SECRET_A = "whsec-alpha-7f3a9c1e5b"
SECRET_B = "whsec-bravo-2d8e6f0a4c"
PATH_TOKEN = "T0KEN-in-the-hook-path-91b2"


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens here: a dead receiver
    return port


def _config(port: int, fake: FakeOpenAI, hooks: str) -> str:
    return f"""port: {port}
providers:
  openai: {{base_url: "{fake.base_url}", api_key: env:OK}}
prices: {{gpt-4o: {{input_per_mtok: 1000000, output_per_mtok: 0}}}}
budgets: {{daily_usd: 100, alert_at: [0.1]}}
webhooks:
{hooks}"""


@pytest.fixture(scope="module")
def setup():
    dead = _closed_port()
    with FakeServerThread(FakeOpenAI()) as fake, WebhookReceiver() as cooldowns, WebhookReceiver() as budget:
        port = free_port()
        hooks = f"""  - {{url: "{cooldowns.url}", secret: env:HOOK_A, events: [credential.cooldown]}}
  - {{url: "{budget.url}", secret: env:HOOK_B, events: [budget.alert]}}
  - {{url: "http://127.0.0.1:{dead}/{PATH_TOKEN}", secret: env:HOOK_A, events: [credential.cooldown, budget.alert]}}
"""
        env = {"HOOK_A": SECRET_A, "HOOK_B": SECRET_B}
        with EngineProcess(_config(port, fake, hooks), port, env=env) as engine:
            events = engine.subscribe()
            try:
                yield engine, fake, cooldowns, budget, events
            finally:
                events.close()


def _chat(engine: EngineProcess, stream: bool = False) -> httpx.Response:
    body = {"model": "openai/gpt-4o", "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(engine.url + CHAT, json=body, timeout=30)


def _cool_down(engine: EngineProcess, fake: FakeOpenAI) -> None:
    """One upstream 500: the credential cools down (a `credential.cooldown` event); then clear it again."""
    fake.queue(status=500, error_message="upstream broke")
    assert _chat(engine).status_code == 500  # the upstream's own status, passed through
    engine.clear_cooldowns()


def test_signed_deliveries_of_the_chosen_events_only(setup):
    engine, fake, cooldowns, budget, _events = setup
    _cool_down(engine, fake)
    first = cooldowns.wait_for(1)[0]
    assert first.type == "credential.cooldown"
    assert verify(SECRET_A.encode(), first.body, first.headers["x-proxypal-signature"])
    assert not verify(SECRET_B.encode(), first.body, first.headers["x-proxypal-signature"])
    assert not verify(SECRET_A.encode(), first.body + b" ", first.headers["x-proxypal-signature"])
    body = first.json
    assert first.headers["x-proxypal-event"] == "credential.cooldown"
    assert first.headers["x-proxypal-delivery"] == body["id"]
    assert first.headers["x-proxypal-timestamp"] == str(body["timestamp"])
    assert first.headers["content-type"] == "application/json"
    assert body["data"]["provider"] == "openai" and body["data"]["credential"] == "env:OK"
    assert body["data"]["model"] == "gpt-4o" and body["data"]["status"] == 500

    assert _chat(engine).status_code == 200  # $12 of a $100 daily budget, alerting at 10%
    alert = budget.wait_for(1)[0]
    assert alert.type == "budget.alert" and alert.json["data"]["threshold"] == 0.1
    assert verify(SECRET_B.encode(), alert.body, alert.headers["x-proxypal-signature"])
    # The cooldown came before the alert, so a hook that wanted it would have had it first.
    _cool_down(engine, fake)
    assert [d.type for d in cooldowns.wait_for(2)] == ["credential.cooldown", "credential.cooldown"]
    assert [d.type for d in budget.received] == ["budget.alert"]


def test_a_delivery_answered_500_is_retried(setup):
    engine, fake, cooldowns, _budget, _events = setup
    before = len(cooldowns.received)
    cooldowns.answer(500)
    _cool_down(engine, fake)
    failed, retried = cooldowns.wait_for(before + 2)[before : before + 2]
    assert failed.json["id"] == retried.json["id"] and failed.body == retried.body
    assert verify(SECRET_A.encode(), retried.body, retried.headers["x-proxypal-signature"])
    assert any("answered 500" in line and "retry 1 of" in line for line in engine.stderr_lines)


def test_a_hanging_receiver_never_slows_requests(setup):
    engine, fake, cooldowns, _budget, _events = setup
    before = len(cooldowns.received)
    cooldowns.hold()
    try:
        _cool_down(engine, fake)
        cooldowns.wait_for(before + 1)
        for _ in range(3):  # more events queue up behind the unanswered delivery
            _cool_down(engine, fake)
        replies = [_chat(engine), _chat(engine, stream=True)]
        assert [r.status_code for r in replies] == [200, 200]
        # Every request above was answered while the receiver still held the first delivery open.
        assert cooldowns.open_requests == 1 and len(cooldowns.received) == before + 1
    finally:
        cooldowns.release()
    assert all(d.type == "credential.cooldown" for d in cooldowns.wait_for(before + 4))


def test_secrets_and_hook_paths_stay_out_of_logs_and_events(setup):
    engine, _fake, _cooldowns, _budget, events = setup
    assert any("webhook http://127.0.0.1:" in line and "unreachable" in line for line in engine.stderr_lines)
    logs = "".join(p.read_text(errors="replace") for p in engine.home.rglob("*.log*"))
    assert logs, "the engine writes its log under its home"
    seen = "".join(engine.stderr_lines) + logs + repr(events.events) + engine.api("GET", "/v0/status").text
    for secret in (SECRET_A, SECRET_B, PATH_TOKEN):
        assert secret not in seen


def test_a_config_reload_moves_the_hooks():
    with FakeServerThread(FakeOpenAI()) as fake, WebhookReceiver() as old, WebhookReceiver() as new:
        port = free_port()
        hook = '  - {{url: "{}", secret: env:HOOK_A, events: [credential.cooldown]}}\n'
        with EngineProcess(_config(port, fake, hook.format(old.url)), port, env={"HOOK_A": SECRET_A}) as engine:
            _cool_down(engine, fake)
            old.wait_for(1)
            events = engine.subscribe()
            try:
                engine.config_path.write_text(_config(port, fake, hook.format(new.url)))
                assert engine.api("POST", "/v0/config/reload").json()["ok"] is True
                events.wait_for("log", lambda e: "webhooks:" in e.get("message", "") and str(new.port) in e["message"])
            finally:
                events.close()
            _cool_down(engine, fake)
            delivered = new.wait_for(1)[0]
    assert delivered.type == "credential.cooldown" and verify(SECRET_A.encode(), delivered.body,
                                                               delivered.headers["x-proxypal-signature"])  # fmt: skip
    assert len(old.received) == 1
