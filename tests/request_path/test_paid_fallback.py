"""Cost classes: failover never moves a request from a subscription or free provider to a paid one
unless the friendly name or the paid provider allows it, and a request that did is marked."""

from __future__ import annotations

import httpx
import pytest

from proxy_engine.protocol import RequestFinished, parse_event
from proxypal_tui.core.feed import FeedRow
from proxypal_tui.widgets.feed_view import COLUMNS
from tests.engine_harness import EngineProcess, free_port
from tests.fakes import FakeAnthropic, FakeOpenAI, FakeServerThread

MSGS = "/v1/messages"


@pytest.fixture(scope="module")
def upstreams():
    with FakeServerThread(FakeAnthropic()) as sub, FakeServerThread(FakeOpenAI()) as paid:
        yield sub, paid


@pytest.fixture(scope="module")
def engine(upstreams):
    sub, paid = upstreams
    port = free_port()
    config = f"""port: {port}
providers:
  claude: {{kind: anthropic, base_url: "{sub.base_url}", api_key: env:AK, cost_class: subscription}}
  openai: {{base_url: "{paid.base_url}", api_key: env:OK}}
  openai-allowed: {{kind: openai, base_url: "{paid.base_url}", api_key: env:OK, allow_paid_fallback: true}}
models:
  Sub: {{claude: claude-sonnet-4-6, openai: gpt-4o}}
  SubAllowed: {{candidates: {{claude: claude-sonnet-4-6, openai: gpt-4o}}, allow_paid_fallback: true}}
  SubToAllowedProvider: ["claude/claude-sonnet-4-6", "openai-allowed/gpt-4o"]
  PaidFirst: ["openai/gpt-4o", "claude/claude-sonnet-4-6"]
"""
    with EngineProcess(config, port) as eng:
        yield eng


@pytest.fixture(autouse=True)
def _fresh(upstreams, engine):
    for f in upstreams:
        f.reset()
    engine.clear_cooldowns()


def _ask(engine: EngineProcess, model: str) -> httpx.Response:
    body = {"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(engine.url + MSGS, json=body, headers={"anthropic-version": "2023-06-01"}, timeout=30)


def _row(engine: EngineProcess, request_id: str) -> dict:
    return next(r for r in engine.records() if r["id"] == request_id)


def test_no_paid_fallback_by_default(engine, upstreams):
    sub, paid = upstreams
    sub.script(status=529, error_type="overloaded_error", error_message="Overloaded")
    r = _ask(engine, "Sub")
    assert r.status_code == 529  # the upstream's own status, with the reason paid fallback did not happen
    err = r.json()
    assert err["type"] == "error"  # Anthropic's error shape: the dialect that was called
    msg = err["error"]["message"]
    assert "paid fallback is disabled" in msg and "openai/gpt-4o" in msg and "allow_paid_fallback: true" in msg
    assert paid.requests == []  # the paid upstream never saw the request
    assert len(sub.requests) == 1
    row = _row(engine, r.headers["X-ProxyPal-Request-Id"])
    assert row["error"]["code"] == "paid_fallback_disabled" and row["paid_fallback"] is False


def test_cooling_subscription_does_not_spill_into_paid(engine, upstreams):
    sub, paid = upstreams
    sub.script(status=429, error_type="rate_limit_error", error_message="limit", retry_after=120)
    assert _ask(engine, "Sub").status_code == 429
    r = _ask(engine, "Sub")  # the subscription now cools down; the paid candidate is still not used
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 60
    assert "paid fallback is disabled" in r.json()["error"]["message"]
    assert paid.requests == []


def test_allowed_by_the_friendly_name_is_marked_in_ledger_event_and_feed(engine, upstreams):
    sub, paid = upstreams
    sub.script(status=529, error_type="overloaded_error", error_message="Overloaded")
    events = engine.subscribe()
    try:
        r = _ask(engine, "SubAllowed")
        assert r.status_code == 200, r.text
        rid = r.headers["X-ProxyPal-Request-Id"]
        ev = events.wait_for("request.finished", lambda e: e["id"] == rid)
    finally:
        events.close()
    assert len(paid.requests) == 1 and paid.last_request.json["model"] == "gpt-4o"
    assert ev["paid_fallback"] is True and ev["provider"] == "openai"
    row = _row(engine, rid)
    assert row["paid_fallback"] is True and row["provider"] == "openai" and row["attempts"] == 2
    finished = parse_event(ev)
    assert isinstance(finished, RequestFinished)
    feed_row = FeedRow.from_finished(finished)
    provider_cell = next(value for title, _w, value, _r in COLUMNS if title == "Provider")
    assert provider_cell(feed_row) == "$openai"


def test_allowed_by_the_paid_provider(engine, upstreams):
    sub, paid = upstreams
    sub.script(status=529, error_type="overloaded_error", error_message="Overloaded")
    r = _ask(engine, "SubToAllowedProvider")
    assert r.status_code == 200, r.text
    assert len(paid.requests) == 1
    assert _row(engine, r.headers["X-ProxyPal-Request-Id"])["paid_fallback"] is True


def test_a_request_that_starts_paid_fails_over_freely_and_is_not_marked(engine, upstreams):
    sub, paid = upstreams
    paid.script(status=500, error_message="boom")
    r = _ask(engine, "PaidFirst")
    assert r.status_code == 200, r.text
    assert len(paid.requests) == 1 and len(sub.requests) == 1
    assert _row(engine, r.headers["X-ProxyPal-Request-Id"])["paid_fallback"] is False


def test_a_served_subscription_request_is_not_marked(engine, upstreams):
    _sub, paid = upstreams
    r = _ask(engine, "Sub")
    assert r.status_code == 200
    assert paid.requests == []
    assert _row(engine, r.headers["X-ProxyPal-Request-Id"])["paid_fallback"] is False
