"""An openai_compatible provider with a `prices:` override, and the event stream's snapshot and drop accounting."""

from __future__ import annotations

import contextlib
import json
import socket
import time

import openai
import pytest

from tests.engine_harness import EngineProcess, free_port
from tests.fakes import FakeOpenAI, FakeServerThread, Usage


@pytest.fixture(scope="module")
def compat():
    with FakeServerThread(FakeOpenAI(api_key="work-llm-key")) as fake:
        port = free_port()
        cfg = f"""port: {port}
providers:
  work-llm: {{kind: openai_compatible, base_url: "{fake.base_url}", api_key: env:WORK_KEY, models: [qwen3-coder]}}
models:
  Coder: {{work-llm: qwen3-coder}}
prices:
  qwen3-coder: {{input_per_mtok: 2.0, output_per_mtok: 8.0, cache_read_per_mtok: 0.5}}
events: {{queue_size: 10}}
"""
        with EngineProcess(cfg, port, env={"WORK_KEY": "work-llm-key"}) as eng:
            yield eng, fake


def test_openai_compatible_provider_and_price_override(compat):
    eng, fake = compat
    fake.script(usage=Usage(input_tokens=1_000_000, output_tokens=500_000, cache_read_tokens=200_000))
    client = openai.OpenAI(base_url=eng.url + "/v1", api_key="x", max_retries=0)
    for model in ("Coder", "qwen3-coder", "work-llm/qwen3-coder"):
        r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
        assert r.choices[0].message.content == "Hello from qwen3-coder!"
        assert fake.last_request.headers["authorization"] == "Bearer work-llm-key"
    time.sleep(0.4)
    row = eng.records(1)[0]
    assert row["provider"] == "work-llm" and row["model"] == "qwen3-coder"
    assert row["cost_usd"] == pytest.approx(800_000 * 2.0 / 1e6 + 200_000 * 0.5 / 1e6 + 500_000 * 8.0 / 1e6)
    usage = eng.api("GET", "/v0/usage?group=provider").json()["rows"]
    assert usage[0]["key"] == "work-llm" and usage[0]["requests"] == 3


def test_hello_snapshot_and_dropped_events_for_a_slow_subscriber(compat):
    eng, _ = compat
    slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    slow.connect(eng.events_socket())
    client = openai.OpenAI(base_url=eng.url + "/v1", api_key="x", max_retries=0)
    # More events than the kernel's socket buffers (~200 KB) plus the 10-event queue can hold.
    for _ in range(700):
        client.chat.completions.create(model="Coder", messages=[{"role": "user", "content": "y"}])
    f = slow.makefile("rb")
    hello = json.loads(f.readline())
    assert hello["type"] == "hello" and hello["snapshot"]["stats"]["requests"] >= 3
    assert hello["snapshot"]["recent"][-1]["model"] == "qwen3-coder"
    slow.settimeout(1)
    events = []
    with contextlib.suppress(TimeoutError):
        while line := f.readline():
            events.append(json.loads(line))
    dropped = [e for e in events if e["type"] == "dropped"]
    assert dropped and dropped[0]["count"] > 0, "a subscriber that fell behind is told how many events it lost"
    assert len(events) < 2 * 700, "its oldest events were dropped, not queued without bound"
    slow.close()
