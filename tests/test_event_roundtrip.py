"""Every event type goes through the engine's writer and the TUI's reader and comes out as it went in.

The writer is the real `EventBus` on its real Unix socket (batching, hello, drop accounting);
the reader is the TUI's `EventStream` plus `LiveState`'s parse, `protocol.parse_event`. A new
event type fails `test_every_event_type_is_covered` until it has a payload and a sample here.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from proxy_engine import protocol
from proxy_engine.events import EventBus
from proxy_engine.protocol import (
    AuthChanged,
    BudgetAlert,
    ConfigProblem,
    ConfigReloaded,
    CredentialCooldown,
    Dropped,
    Hello,
    HelloSnapshot,
    Log,
    QuotaAlert,
    QuotaUpdated,
    RequestError,
    RequestFinished,
    RequestStarted,
    Stats,
    parse_event,
)
from proxypal_tui.core.events import EventStream
from proxypal_tui.core.state import LiveState

FINISHED = RequestFinished(
    id="r1", ts_start=1_760_000_000.5, client="laptop", agent="claude-code", dialect_in="anthropic",
    dialect_out="openai_chat", model_requested="Smart", provider="openai", model="gpt-4o",
    credential="env:OPENAI_API_KEY", stream=True, status=429, latency_ms=812.25, ttfb_ms=None, input_tokens=1200,
    output_tokens=0, cache_read_tokens=100, cache_write_tokens=7, cost_usd=0.0125, attempts=2,
    error=RequestError(code="rate_limited", message="upstream 429: slow down — réessayez"),
    session="0b9c5d2e-1f3a-4c5b-9d8e-7f6a5b4c3d2e",
)  # fmt: skip
STATS = Stats(
    since=1_759_999_000.0, requests=3, errors=1, in_flight=2, input_tokens=3000, output_tokens=450, cost_usd=0.04,
    avg_latency_ms=500.5, p95_latency_ms=812.2, error_rate=0.3333, by_provider={"openai": 2, "gemini": 1},
    by_model={"gpt-4o": 2, "gemini-2.5-flash": 1}, per_minute=[[1_759_999_980, 3, 3450, 0.04]],
)  # fmt: skip
AUTH = AuthChanged(provider="claude", credential="ann@example.com", state="expiring", message="expires in 5 min")

SAMPLES: dict[str, Any] = {
    protocol.HELLO: Hello(
        version="9.9.9",
        pid=4242,
        listen="127.0.0.1:8317",
        config_path="/tmp/c.yaml",
        events_socket="/tmp/e.sock",
        snapshot=HelloSnapshot(
            recent=[FINISHED, dataclasses.replace(FINISHED, id="r0", error=None, status=200)], stats=STATS, auth=[AUTH]
        ),
    ),
    protocol.REQUEST_STARTED: RequestStarted(
        id="r2",
        ts_start=1_760_000_001.0,
        client="ci",
        agent="codex",
        dialect_in="openai_responses",
        model_requested="Rush",
        provider=None,
        model=None,
        stream=False,
        session="019a9544-7ab1-73c1-837e-1fa681f4462b",
    ),
    protocol.REQUEST_FINISHED: FINISHED,
    protocol.STATS: STATS,
    protocol.CONFIG_RELOADED: ConfigReloaded(
        ok=False,
        path="/tmp/c.yaml",
        errors=[
            ConfigProblem(file="/tmp/c.yaml", line=3, message="unknown key"),
            ConfigProblem(file="/tmp/c.yaml", line=None, message="no providers"),
        ],
        warnings=["provider 'local': base_url http://127.0.0.1:9/ has no version segment"],
    ),
    protocol.AUTH_CHANGED: AUTH,
    protocol.CREDENTIAL_COOLDOWN: CredentialCooldown(
        provider="openai",
        credential="env:OPENAI_API_KEY",
        model="gpt-4o",
        until=1_760_000_060.0,
        reason="rate limited",
        status=429,
    ),
    protocol.BUDGET_ALERT: BudgetAlert(scope="client laptop daily", spent=40.5, limit=50.0, threshold=0.8),
    protocol.LOG: Log(level="warning", logger="proxy_engine.proxy", message="line one\nline two"),
    protocol.DROPPED: Dropped(count=2),
    protocol.QUOTA_UPDATED: QuotaUpdated(
        provider="claude",
        credential="ann@example.com",
        windows=[
            {
                "name": "5h",
                "used_percent": 63.0,
                "resets_at": 1_760_003_600.0,
                "observed_at": 1_760_000_000.0,
                "source": "observed",
                "limit": None,
                "remaining": None,
                "status": "allowed",
                "window_s": 18000.0,
                "representative": True,
                "exhausted": False,
            }
        ],
    ),
    protocol.QUOTA_ALERT: QuotaAlert(
        provider="claude",
        credential="ann@example.com",
        window="7d",
        used_percent=95.5,
        threshold=95.0,
        resets_at=1_760_500_000.0,
    ),
}


def test_every_event_type_is_covered() -> None:
    """A type added to the protocol needs a payload class and a round trip below."""
    assert set(protocol.PAYLOADS) == set(protocol.EVENT_TYPES)
    assert set(SAMPLES) == set(protocol.EVENT_TYPES)
    for type_, cls in protocol.PAYLOADS.items():
        assert type_ == cls.TYPE and isinstance(SAMPLES[type_], cls)


def without_ts(payload: Any) -> Any:
    return dataclasses.replace(payload, ts=0.0)


async def read_events(stream: EventStream, count: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    async for batch in stream.batches():
        got.extend(batch)
        if len(got) >= count:
            break
    return got


@pytest.fixture
def sock(tmp_path: Path) -> Path:
    return tmp_path / "events.sock"


async def subscribe(bus: EventBus, path: Path) -> EventStream:
    await bus.start(path)
    stream = EventStream(path)
    await stream.connect()
    return stream


async def test_every_event_type_round_trips_through_the_bus_and_the_tui_reader(sock: Path) -> None:
    bus = EventBus()
    bus.hello = lambda: SAMPLES[protocol.HELLO]
    stream = await subscribe(bus, sock)
    try:
        (hello,) = await asyncio.wait_for(read_events(stream, 1), 10)
        sent = [p for t, p in SAMPLES.items() if t not in (protocol.HELLO, protocol.DROPPED)]
        # request.started of a request that finishes in the same batch is left out by design: send it alone.
        bus.publish(SAMPLES[protocol.REQUEST_STARTED])
        bus.flush()
        for payload in sent:
            if payload.TYPE != protocol.REQUEST_STARTED:
                bus.publish(payload)
        rest = await asyncio.wait_for(read_events(stream, len(sent)), 10)
    finally:
        await stream.close()
        await bus.close()

    received = [parse_event(ev) for ev in [hello, *rest]]
    assert [type(p) for p in received] == [Hello, *(type(p) for p in sent)]
    for ev, raw in zip(received, [hello, *rest], strict=True):
        assert ev is not None and ev.ts == raw["ts"] > 0  # the envelope's time reaches the payload
    assert [without_ts(p) for p in received] == [SAMPLES[protocol.HELLO], *sent]


async def test_dropped_round_trips_when_a_subscriber_falls_behind(sock: Path) -> None:
    """The bus writes `dropped` itself when one batch overflows a subscriber's queue."""
    bus = EventBus(queue_size=1)
    stream = await subscribe(bus, sock)
    try:
        await asyncio.wait_for(read_events(stream, 1), 10)  # hello
        for i in range(3):
            bus.publish(Log(level="info", logger="t", message=f"m{i}"))
        bus.flush()
        got = await asyncio.wait_for(read_events(stream, 2), 10)
    finally:
        await stream.close()
        await bus.close()
    parsed = [parse_event(ev) for ev in got]
    assert without_ts(parsed[0]) == SAMPLES[protocol.DROPPED]
    assert [without_ts(p) for p in parsed[1:]] == [Log(level="info", logger="t", message="m2")]


def test_the_tui_state_applies_every_type_and_ignores_unknown_ones() -> None:
    live = LiveState()
    wire = [{"type": t, "ts": 5.0, "v": protocol.PROTOCOL_VERSION, **p.to_dict()} for t, p in SAMPLES.items()]
    urgent = live.apply([*wire, {"type": "from.the.future", "ts": 6.0}])
    assert [ev.TYPE for ev in urgent] == [
        protocol.HELLO, protocol.CONFIG_RELOADED, protocol.BUDGET_ALERT, protocol.QUOTA_ALERT
    ]  # fmt: skip
    assert [b.name for b in live.quota.of("claude", "ann@example.com")] == ["5h"]
    assert [a.threshold for a in live.quota.alerts] == [95.0]
    assert live.events_seen == len(SAMPLES)
    assert live.stats == dataclasses.replace(STATS, ts=5.0)
    assert live.dropped_by_engine == 2 and list(live.alerts) == [dataclasses.replace(SAMPLES["budget.alert"], ts=5.0)]
    # r2 in flight, r1 finished again, then the hello's two records (same start: kept in the order sent)
    newest = [(r.id, r.status) for r in live.feed.newest_first()]
    assert newest == [("r2", None), ("r1", 429), ("r0", 200), ("r1", 429)]
    assert live.feed.get("r1").error == {"code": "rate_limited", "message": FINISHED.error.message}  # type: ignore[union-attr]
    assert [line.message for line in live.logs.tail(10)] == ["line one\nline two"]


def test_old_and_malformed_fields_take_defaults_instead_of_failing() -> None:
    """A reader of an older or broken engine gets defaults, never an exception."""
    started = parse_event({"type": "request.started", "ts": 7.0, "id": "x"})
    assert started == RequestStarted(id="x", ts_start=7.0, ts=7.0)  # no ts_start: the event's time
    finished = parse_event({"type": "request.finished", "id": "y", "status": "oops", "input_tokens": None,
                            "error": "not a dict", "extra": 1})  # fmt: skip
    assert isinstance(finished, RequestFinished)
    assert (finished.status, finished.input_tokens, finished.error) == (500, 0, None)
    hello = parse_event({"type": "hello", "snapshot": {"recent": [1, {"id": "z"}], "stats": {}}})
    assert isinstance(hello, Hello) and [r.id for r in hello.snapshot.recent] == ["z"] and hello.snapshot.stats is None
