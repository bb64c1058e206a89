"""The dispatcher in-process, on a real event bus, against a real local receiver: event types are
matched as strings (so `quota.alert` works before its payload class exists), the queue is bounded,
and an unreadable secret turns the hook off with a clear log line."""

from __future__ import annotations

import asyncio
import logging

import pytest

from proxy_engine.config import LoadedConfig, parse_config_text
from proxy_engine.events import EventBus
from proxy_engine.runtime import build_runtime
from proxy_engine.webhooks import WebhookDispatcher, verify
from proxy_engine.webhooks.target import QUEUE_MAX
from tests.webhooks.receiver import WebhookReceiver

SECRET = "whsec-dispatcher-5a1f"


def _runtime(hooks: str):
    text = f"webhooks:\n{hooks}"
    return build_runtime(LoadedConfig(parse_config_text(text), None, text), "127.0.0.1")


async def _until(predicate, what: str) -> None:
    """Poll (the receiver runs in its own thread) for up to 20 s."""
    for _ in range(2000):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never saw {what}")


@pytest.fixture
def receiver():
    with WebhookReceiver() as r:
        yield r


async def test_an_event_type_is_matched_by_its_name(receiver, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    rt = _runtime(f'  - {{url: "{receiver.url}", secret: env:HOOK_SECRET, events: [quota.alert]}}\n')
    bus = EventBus()
    hooks = WebhookDispatcher(bus, lambda: rt)
    await hooks.start()
    try:
        bus.emit("quota.updated", {"provider": "claude"})  # not asked for
        bus.emit("quota.alert", {"provider": "claude", "window": "5h", "used_percent": 95})
        await _until(lambda: receiver.received, "a delivery")
        (got,) = receiver.received
        assert got.type == "quota.alert" and got.json["data"]["used_percent"] == 95
        assert verify(SECRET.encode(), got.body, got.headers["x-proxypal-signature"])
    finally:
        await hooks.close()


async def test_the_queue_is_bounded_and_drops_the_oldest(receiver, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    rt = _runtime(f'  - {{url: "{receiver.url}", secret: env:HOOK_SECRET, events: [budget.alert]}}\n')
    bus = EventBus()
    hooks = WebhookDispatcher(bus, lambda: rt)
    await hooks.start()
    receiver.hold()
    try:
        bus.emit("budget.alert", {"n": -1})
        await _until(lambda: receiver.open_requests == 1, "the first delivery held")
        for n in range(QUEUE_MAX + 10):
            bus.emit("budget.alert", {"n": n})  # returns at once: the queue only grows to its bound
        receiver.release()
        await _until(lambda: len(receiver.received) == QUEUE_MAX + 1, "the queue drained")
        numbers = [d.json["data"]["n"] for d in receiver.received]
        assert numbers == [-1, *range(10, QUEUE_MAX + 10)]  # the 10 oldest waiting ones were dropped
    finally:
        receiver.release()
        await hooks.close()


async def test_an_unreadable_secret_turns_the_hook_off(receiver, monkeypatch, caplog):
    monkeypatch.delenv("HOOK_MISSING", raising=False)
    rt = _runtime(f'  - {{url: "{receiver.url}", secret: env:HOOK_MISSING, events: [budget.alert]}}\n')
    bus = EventBus()
    hooks = WebhookDispatcher(bus, lambda: rt)
    with caplog.at_level(logging.ERROR, logger="proxy_engine.webhooks"):
        await hooks.start()
    try:
        assert "env:HOOK_MISSING cannot be read" in caplog.text and "/hooks/proxypal" not in caplog.text
        bus.emit("budget.alert", {"n": 1})
        assert receiver.received == []
    finally:
        await hooks.close()


def test_webhook_config_is_checked():
    from proxy_engine.config import ConfigError

    with pytest.raises(ConfigError, match="secrets never go in the config"):
        parse_config_text('webhooks:\n  - {url: "https://h.example/x", secret: "plain-secret"}\n')
    with pytest.raises(ConfigError, match=r"unknown event 'request\.finished'"):
        parse_config_text('webhooks:\n  - {url: "https://h.example/x", secret: env:S, events: [request.finished]}\n')
    with pytest.raises(ConfigError, match="http"):
        parse_config_text('webhooks:\n  - {url: "ftp://h.example/x", secret: env:S}\n')
    cfg = parse_config_text('webhooks:\n  - {url: "https://h.example/x", secret: keyring:hook}\n')
    assert cfg.webhooks[0].events == ["budget.alert", "quota.alert", "credential.cooldown"]
