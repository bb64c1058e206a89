"""Per-credential pacing through the real engine, against fakes that count what reaches them:
the limits hold under concurrent load, another credential is used when one is busy, and a wait
ends within `routing.max_wait_s` with a 429 in the caller's dialect."""

from __future__ import annotations

import concurrent.futures
import contextlib

import httpx
import pytest

from proxy_engine.credentials.pacing import WINDOW_ENV
from tests.engine_harness import EngineProcess, free_port
from tests.fakes import FakeOpenAI, FakeServerThread
from tests.fakes.meter import ConcurrencyMeter

CHAT = "/v1/chat/completions"
SECOND_KEY = "sk-fake-openai-second"


def _metered(fake: FakeOpenAI) -> tuple[FakeServerThread, ConcurrencyMeter]:
    meter = ConcurrencyMeter()
    meter.attach(fake)
    return FakeServerThread(fake), meter


def _chat(engine: EngineProcess, model: str, stream: bool = True) -> httpx.Response:
    body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(timeout=60) as client:
        r = client.post(engine.url + CHAT, json=body)
        r.read()
        return r


def _many(engine: EngineProcess, model: str, n: int) -> list[httpx.Response]:
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: _chat(engine, model), range(n)))


@contextlib.contextmanager
def _engine(config: str, port: int, env: dict[str, str] | None = None):
    with EngineProcess(config, port, env={"OK2": SECOND_KEY, **(env or {})}) as eng:
        yield eng


def test_concurrency_limit_holds_under_load():
    server, meter = _metered(FakeOpenAI())
    with server as fake:
        fake.script(text="a paced answer in several parts", chunks=6, chunk_delay=0.02)
        port = free_port()
        config = f"""port: {port}
providers:
  paced: {{kind: openai, base_url: "{fake.base_url}", api_key: env:OK, max_concurrent: 2}}
routing: {{max_wait_s: 60}}
"""
        with _engine(config, port) as engine:
            replies = _many(engine, "paced/gpt-4o", 8)
            assert [r.status_code for r in replies] == [200] * 8
            assert all(r.content.rstrip().endswith(b"data: [DONE]") for r in replies)  # whole streams
    assert len(meter.arrivals) == 8
    assert meter.max_in_flight == 2  # never more than two streams at once, and the limit was reached


def test_rpm_limit_holds_under_load_with_a_short_window():
    server, meter = _metered(FakeOpenAI())
    window = 2.0
    with server as fake:
        port = free_port()
        config = f"""port: {port}
providers:
  paced: {{kind: openai, base_url: "{fake.base_url}", api_key: env:OK, rpm: 2}}
routing: {{max_wait_s: 30}}
"""
        with _engine(config, port, env={WINDOW_ENV: str(window)}) as engine:
            replies = _many(engine, "paced/gpt-4o", 5)
    assert [r.status_code for r in replies] == [200] * 5
    arrivals = sorted(meter.arrivals)
    assert len(arrivals) == 5
    # At most 2 starts in any window: the third after a start comes a whole window later (less the
    # loopback hop, which on a loaded machine can differ by a few hundred milliseconds between two requests;
    # unpaced, all five arrive within milliseconds).
    assert all(arrivals[i + 2] - arrivals[i] >= window - 0.5 for i in range(len(arrivals) - 2))


@pytest.fixture(scope="module")
def short_wait():
    """max_concurrent 1 on one key, on a pair of keys, and rpm 1; max_wait_s 0.3 and the real 60 s window."""
    s1, single = _metered(FakeOpenAI())
    s2, pair = _metered(FakeOpenAI(api_keys=["sk-fake-openai", SECOND_KEY]))
    s3, rpm = _metered(FakeOpenAI())
    with s1 as f1, s2 as f2, s3 as f3:
        port = free_port()
        config = f"""port: {port}
providers:
  single: {{kind: openai, base_url: "{f1.base_url}", api_key: env:OK, max_concurrent: 1}}
  pair: {{kind: openai, base_url: "{f2.base_url}", api_keys: [env:OK, {{key: env:OK2, id: second}}],
          max_concurrent: 1}}
  rpm1: {{kind: openai, base_url: "{f3.base_url}", api_key: env:OK, rpm: 1}}
routing: {{max_wait_s: 0.3}}
"""
        with _engine(config, port) as engine:
            yield engine, {"single": (f1, single), "pair": (f2, pair), "rpm1": (f3, rpm)}


def test_a_wait_ends_within_max_wait_with_a_429_in_the_callers_dialect(short_wait):
    engine, fakes = short_wait
    fake, meter = fakes["single"]
    meter.hold()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(_chat, engine, "single/gpt-4o")
        try:
            assert meter.wait_in_flight(1)
            r = _chat(engine, "single/gpt-4o", stream=False)
            assert meter.in_flight == 1  # answered while the first request still holds the only slot
        finally:
            meter.release()
        assert first.result().status_code == 200
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    err = r.json()["error"]
    assert err["code"] == "credential_paced" and "max_concurrent 1" in err["message"]
    assert "max_wait_s" in err["message"]
    assert len(fake.requests) == 1  # the paced request never reached the upstream


def test_a_busy_credential_hands_the_request_to_another_one(short_wait):
    engine, fakes = short_wait
    fake, meter = fakes["pair"]
    fake.reset()
    meter.hold()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        try:
            first = pool.submit(_chat, engine, "pair/gpt-4o")
            assert meter.wait_in_flight(1)
            second = pool.submit(_chat, engine, "pair/gpt-4o")
            assert meter.wait_in_flight(2)  # both in flight: one per key, neither waited for the other
        finally:
            meter.release()
        assert first.result().status_code == 200 and second.result().status_code == 200
    keys = sorted(r.headers["authorization"] for r in fake.requests)
    assert keys == sorted(["Bearer sk-fake-openai", f"Bearer {SECOND_KEY}"])


def test_rpm_turns_away_what_the_window_cannot_take(short_wait):
    engine, fakes = short_wait
    fake, _meter = fakes["rpm1"]
    assert _chat(engine, "rpm1/gpt-4o").status_code == 200
    r = _chat(engine, "rpm1/gpt-4o")
    assert r.status_code == 429
    assert 50 <= int(r.headers["Retry-After"]) <= 60  # when the one start of this minute leaves the window
    assert "rpm 1" in r.json()["error"]["message"]
    assert len(fake.requests) == 1
