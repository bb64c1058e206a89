"""Requests refused before routing (401, over budget, a bad body) keep the model the client named, in
their `request.finished` event and the ledger, so the feed shows it; without one there is none."""

from __future__ import annotations

import httpx
import pytest

from proxy_engine.protocol import parse_event
from proxypal_tui.core.feed import FeedRow
from proxypal_tui.widgets.feed_view import COLUMNS
from tests.engine_harness import EngineProcess, fakes_config, free_port
from tests.fakes import FakeAnthropic, FakeGemini, FakeOpenAI, FakeServerThread

CLIENT_KEY = "client-key-laptop"


@pytest.fixture(scope="module")
def engine():
    with FakeServerThread(FakeOpenAI()) as fo, FakeServerThread(FakeAnthropic()) as fa, \
            FakeServerThread(FakeGemini()) as fg:  # fmt: skip
        port = free_port()
        extra = (
            "clients:\n  - {name: laptop, key: env:CLIENT_KEY}\n"
            "  - {name: broke, key: env:BROKE_KEY, monthly_budget_usd: 0.000001}\n"
            "prices: {gpt-4o: {input_per_mtok: 1000000, output_per_mtok: 1000000}}\n"
        )
        env = {"CLIENT_KEY": CLIENT_KEY, "BROKE_KEY": "client-key-broke"}
        with EngineProcess(fakes_config(port, fo, fa, fg, extra=extra), port, env=env) as eng:
            yield eng


def _finished(eng: EngineProcess, send) -> dict:
    sub = eng.subscribe()
    try:
        answer = send()
        rid = answer.headers["X-ProxyPal-Request-Id"]
        return answer.status_code, sub.wait_for("request.finished", lambda e: e["id"] == rid)
    finally:
        sub.close()


def test_a_bad_client_key_keeps_the_model_it_named(engine: EngineProcess) -> None:
    body = {"model": "Smart", "messages": [{"role": "user", "content": "hi"}]}
    status, ev = _finished(engine, lambda: httpx.post(engine.url + "/v1/chat/completions", json=body,
                                                      headers={"Authorization": "Bearer wrong"}))  # fmt: skip
    assert status == 401
    assert ev["status"] == 401 and ev["model_requested"] == "Smart" and ev.get("model") in (None, "")
    [row] = [r for r in engine.records() if r["id"] == ev["id"]]
    assert row["model_requested"] == "Smart"
    # The TUI's feed reads the same event: its model column names what the client asked for.
    feed_row = FeedRow.from_finished(parse_event(ev))
    [model_column] = [value for title, _w, value, _r in COLUMNS if title.startswith("Model")]
    assert model_column(feed_row) == "Smart"


def test_a_gemini_path_model_is_kept_on_401(engine: EngineProcess) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    url = engine.url + "/v1beta/models/gemini-2.5-flash:generateContent"
    status, ev = _finished(engine, lambda: httpx.post(url, json=body, headers={"x-goog-api-key": "wrong"}))
    assert status == 401 and ev["model_requested"] == "gemini-2.5-flash"


def test_over_budget_keeps_the_model(engine: EngineProcess) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": "Bearer client-key-broke"}
    first = httpx.post(engine.url + "/v1/chat/completions", json=body, headers=headers, timeout=30)
    assert first.status_code == 200  # this one spends past the tiny budget
    status, ev = _finished(engine, lambda: httpx.post(engine.url + "/v1/chat/completions", json=body,
                                                      headers=headers, timeout=30))  # fmt: skip
    assert status == 429 and ev["model_requested"] == "gpt-4o"


def test_a_body_without_a_model_has_none(engine: EngineProcess) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}]}
    status, ev = _finished(engine, lambda: httpx.post(engine.url + "/v1/chat/completions", json=body,
                                                      headers={"Authorization": f"Bearer {CLIENT_KEY}"}))  # fmt: skip
    assert status == 400 and not ev.get("model_requested")


def test_a_large_unauthenticated_body_is_not_read_for_its_model(engine: EngineProcess) -> None:
    big = {"model": "Smart", "messages": [{"role": "user", "content": "x" * 100_000}]}
    status, ev = _finished(engine, lambda: httpx.post(engine.url + "/v1/chat/completions", json=big,
                                                      headers={"Authorization": "Bearer wrong"}))  # fmt: skip
    assert status == 401 and not ev.get("model_requested")


def test_a_model_that_is_not_a_string_is_a_400_without_one(engine: EngineProcess) -> None:
    body = {"model": [1, 2], "messages": [{"role": "user", "content": "hi"}]}
    status, ev = _finished(engine, lambda: httpx.post(engine.url + "/v1/chat/completions", json=body,
                                                      headers={"Authorization": f"Bearer {CLIENT_KEY}"}))  # fmt: skip
    assert status == 400 and not ev.get("model_requested")
