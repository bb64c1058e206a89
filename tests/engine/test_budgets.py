"""Budgets in the real engine: alerts at each threshold, 429 once a limit is used up, rebuilt after a restart."""

from __future__ import annotations

import anthropic
import openai
import pytest

from tests.engine_harness import EngineProcess, free_port
from tests.fakes import FakeOpenAI, FakeServerThread
from tests.fakes.script import Usage

# 100 + 100 tokens at $1000 per million tokens: $0.20 per request.
PRICES = "prices: {gpt-4o-mini: {input_per_mtok: 1000, output_per_mtok: 1000}}\n"


@pytest.fixture(scope="module")
def fake():
    with FakeServerThread(FakeOpenAI()) as fo:
        yield fo


def _config(port: int, fo, extra: str) -> str:
    return f'port: {port}\nproviders:\n  openai: {{base_url: "{fo.base_url}", api_key: env:OK}}\n{PRICES}{extra}'


def _chat(eng: EngineProcess, key: str = "unused") -> None:
    client = openai.OpenAI(base_url=eng.url + "/v1", api_key=key, max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])


def test_daily_budget_alerts_then_refuses_and_survives_a_restart(fake):
    fake.reset()
    fake.script(usage=Usage(input_tokens=100, output_tokens=100))
    port = free_port()
    eng = EngineProcess(_config(port, fake, "budgets: {daily_usd: 0.5, alert_at: [0.5, 1.0]}\n"), port).start()
    try:
        sub = eng.subscribe()
        _chat(eng)  # $0.20: 40%
        _chat(eng)  # $0.40: 80%, crosses 50%
        first = sub.wait_for("budget.alert")
        assert first["scope"] == "daily" and first["threshold"] == 0.5 and first["limit"] == 0.5
        assert first["spent"] == pytest.approx(0.4)
        _chat(eng)  # $0.60: crosses 100%
        second = sub.wait_for("budget.alert", lambda e: e["threshold"] == 1.0)
        assert second["spent"] == pytest.approx(0.6)
        assert len([e for e in sub.events if e["type"] == "budget.alert"]) == 2, "each threshold alerts once"
        sub.close()
        sent = len(fake.requests)
        with pytest.raises(openai.RateLimitError) as exc:
            _chat(eng)
        assert len(fake.requests) == sent, "a request over budget is not sent"
        assert int(exc.value.response.headers["Retry-After"]) > 0
        assert exc.value.response.json()["error"]["code"] == "budget_exceeded"
        client = anthropic.Anthropic(base_url=eng.url, api_key="unused", max_retries=0)
        with pytest.raises(anthropic.RateLimitError) as aexc:
            client.messages.create(model="gpt-4o-mini", max_tokens=5, messages=[{"role": "user", "content": "x"}])
        assert "budget daily is used up" in aexc.value.message
        budgets = eng.api("GET", "/v0/status").json()["budgets"]
        assert budgets == [{"scope": "daily", "period": "day", "limit": 0.5, "spent": pytest.approx(0.6),
                            "resets_at": budgets[0]["resets_at"]}]  # fmt: skip
        eng.stop()
        eng.start()
        sub = eng.subscribe()
        with pytest.raises(openai.RateLimitError):
            _chat(eng)
        sub.wait_for("hello")
        assert not [e for e in sub.events if e["type"] == "budget.alert"], "no repeated alerts after a restart"
        sub.close()
    finally:
        eng.stop()


def test_a_client_budget_limits_only_that_client(fake):
    fake.reset()
    fake.script(usage=Usage(input_tokens=100, output_tokens=100))
    port = free_port()
    clients = ("clients:\n  - {name: intern, key: env:INTERN_KEY, monthly_budget_usd: 0.3}\n"
               "  - {name: lead, key: env:LEAD_KEY}\n")  # fmt: skip
    env = {"INTERN_KEY": "pp-intern-key-1", "LEAD_KEY": "pp-lead-key-2"}
    with EngineProcess(_config(port, fake, clients), port, env=env) as eng:
        _chat(eng, env["INTERN_KEY"])
        _chat(eng, env["INTERN_KEY"])  # $0.40 >= $0.30
        with pytest.raises(openai.RateLimitError) as exc:
            _chat(eng, env["INTERN_KEY"])
        assert "client:intern" in exc.value.message
        _chat(eng, env["LEAD_KEY"])  # the other client is not limited
        row = eng.records(1)[0]
        assert row["client"] == "lead" and row["status"] == 200
