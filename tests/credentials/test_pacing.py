"""The per-credential limiter: concurrency and rpm hold, waits are bounded, and waiters are served in order."""

from __future__ import annotations

import asyncio

import pytest

from proxy_engine.config import parse_config_text
from proxy_engine.credentials.pacing import CredentialPacer, PaceLimits, PacingBoard
from proxy_engine.credentials.pool import Credential


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_concurrency_limit_holds_under_load():
    pacer = CredentialPacer(PaceLimits(max_concurrent=2))
    held, most, done = 0, 0, 0

    async def one() -> None:
        nonlocal held, most, done
        assert await pacer.acquire(30)
        held += 1
        most = max(most, held)
        await asyncio.sleep(0.01)
        held -= 1
        pacer.release()
        done += 1

    await asyncio.gather(*(one() for _ in range(12)))
    assert most == 2 and done == 12 and pacer.in_flight == 0


async def test_rpm_window_counts_starts():
    clock = Clock()
    pacer = CredentialPacer(PaceLimits(rpm=2), window_s=60, clock=clock)
    assert pacer.try_acquire() and pacer.try_acquire()
    pacer.release()
    pacer.release()  # giving the slot back does not give back the start
    assert not pacer.try_acquire()
    clock.now += 20
    assert pacer.retry_after() == pytest.approx(40)
    assert not await pacer.acquire(5)  # the window frees in 40 s: it does not wait 5 s for nothing
    clock.now += 40
    assert pacer.try_acquire()


async def test_a_wait_ends_at_its_bound_and_a_release_wakes_the_first_waiter():
    pacer = CredentialPacer(PaceLimits(max_concurrent=1))
    assert pacer.try_acquire()
    assert not await pacer.acquire(0.05)  # nobody released within the bound
    first = asyncio.create_task(pacer.acquire(30))
    await asyncio.sleep(0)
    second = asyncio.create_task(pacer.acquire(30))
    await asyncio.sleep(0)
    assert not pacer.try_acquire()  # a newcomer does not jump the queue
    pacer.release()
    assert await first
    assert not second.done()
    pacer.release()
    assert await second


async def test_a_cancelled_waiter_passes_its_wake_on():
    pacer = CredentialPacer(PaceLimits(max_concurrent=1))
    assert pacer.try_acquire()
    gone = asyncio.create_task(pacer.acquire(30))
    await asyncio.sleep(0)
    waiting = asyncio.create_task(pacer.acquire(30))
    await asyncio.sleep(0)
    pacer.release()  # wakes `gone` ...
    gone.cancel()  # ... which leaves before it could take the slot
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert await asyncio.wait_for(waiting, 5)


def test_board_limits_from_provider_and_key_and_reload():
    text = """providers:
  p: {kind: openai, max_concurrent: 3, rpm: 100,
      api_keys: [env:A, {key: env:B, id: slow, rpm: 5}]}
  q: {kind: openai, api_key: env:C}
"""
    cfg = parse_config_text(text)
    board = PacingBoard(window_s=60)
    p = cfg.providers["p"]
    assert board.limits_for("p", p, "env:A") == PaceLimits(3, 100)
    assert board.limits_for("p", p, "slow") == PaceLimits(3, 5)
    assert board.pacer("q", cfg.providers["q"], Credential("env:C")) is None  # not paced: nothing kept
    pacer = board.pacer("p", p, Credential("env:A"))
    assert pacer is not None and pacer.try_acquire()
    reloaded = parse_config_text(text.replace("max_concurrent: 3", "max_concurrent: 1")).providers["p"]
    again = board.pacer("p", reloaded, Credential("env:A"))
    assert again is pacer and pacer.limits == PaceLimits(1, 100)
    assert not again.try_acquire()  # the request in flight before the reload still counts
