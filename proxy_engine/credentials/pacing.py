"""Per-credential pacing, for accounts whose providers punish bursts: at most `max_concurrent`
requests in flight and `rpm` started per minute (a sliding window), per credential.

A request holds its slot from the attempt until its reply ended (a stream's last byte), and gives
it back then. The request path takes a slot without waiting when one is free, tries another
credential when not, and only then waits for one, at most `routing.max_wait_s`.

Limits come from the provider (`max_concurrent`, `rpm`, for each of its credentials) or an API
key's own entry. They are kept per engine process (with `serve --workers N`, per worker).
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from proxy_engine.config import ProviderConfig
from proxy_engine.credentials.pool import Credential

# The rpm window. 60 s; tests shorten it with PROXYPAL_PACING_WINDOW_S so they need not wait a minute.
WINDOW_ENV = "PROXYPAL_PACING_WINDOW_S"


def _window_s() -> float:
    try:
        value = float(os.environ.get(WINDOW_ENV, "60"))
    except ValueError:
        return 60.0
    return value if value > 0 else 60.0


@dataclass(frozen=True, slots=True)
class PaceLimits:
    max_concurrent: int | None = None
    rpm: int | None = None

    def __bool__(self) -> bool:
        return self.max_concurrent is not None or self.rpm is not None

    def describe(self) -> str:
        parts = [f"max_concurrent {self.max_concurrent}"] if self.max_concurrent else []
        return ", ".join(parts + ([f"rpm {self.rpm}"] if self.rpm else []))


class CredentialPacer:
    """The limiter of one credential: a counter for concurrency and a sliding window of start times.

    Waiters are woken in arrival order when a slot is given back; a wait for the rpm window
    sleeps only until the oldest start leaves it.
    """

    def __init__(self, limits: PaceLimits, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.window_s = window_s
        self.in_flight = 0
        self._clock = clock
        self._starts: deque[float] = deque()
        self._waiters: deque[asyncio.Future[None]] = deque()

    def _rpm_wait(self, now: float) -> float:
        """Seconds until the rpm window has room (0: room now)."""
        rpm = self.limits.rpm
        if rpm is None:
            return 0.0
        while self._starts and self._starts[0] <= now - self.window_s:
            self._starts.popleft()
        return 0.0 if len(self._starts) < rpm else self._starts[0] + self.window_s - now

    def _full(self) -> bool:
        return self.limits.max_concurrent is not None and self.in_flight >= self.limits.max_concurrent

    def _take(self) -> bool:
        now = self._clock()
        if self._full() or self._rpm_wait(now) > 0:
            return False
        self.in_flight += 1
        if self.limits.rpm is not None:
            self._starts.append(now)
        return True

    def try_acquire(self) -> bool:
        """A slot now, without waiting, unless others already wait for one (they come first)."""
        return not self._waiters and self._take()

    def retry_after(self) -> float:
        """When a client told "paced" should come back: the rpm window's next room, else a second."""
        return max(self._rpm_wait(self._clock()), 1.0)

    async def acquire(self, wait_s: float) -> bool:
        """Wait up to `wait_s` seconds for a slot; False when none came (the caller answers 429)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        if self.try_acquire():
            return True
        while True:
            left = deadline - loop.time()
            rpm_wait = self._rpm_wait(self._clock())
            if left <= 0 or (rpm_wait > left and not self._full()):
                return False  # the window frees up too late: no point holding the request
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.append(fut)
            taken = False
            try:
                async with asyncio.timeout(min(left, rpm_wait) if rpm_wait > 0 else left):
                    await fut
            except TimeoutError:
                pass
            else:
                taken = self._take()
                if taken:
                    return True
            finally:
                if fut in self._waiters:
                    self._waiters.remove(fut)
                if fut.done() and not fut.cancelled() and not taken:
                    self._wake_next()  # woken, but leaving (cancelled) or beaten to it: pass the wake on
            if self._take():
                return True

    def release(self) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self._wake_next()

    def _wake_next(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return


class PacingBoard:
    """The pacers of one engine, by (provider, credential); limits follow the config on reload."""

    def __init__(self, window_s: float | None = None) -> None:
        self.window_s = window_s if window_s is not None else _window_s()
        self._pacers: dict[tuple[str, str], CredentialPacer] = {}
        self._limits: dict[str, tuple[ProviderConfig, dict[str, PaceLimits], PaceLimits]] = {}

    def limits_for(self, provider: str, settings: ProviderConfig, credential: str) -> PaceLimits:
        cached = self._limits.get(provider)
        if cached is None or cached[0] is not settings:  # a reload gives a new settings object
            own = {c.cred_id: PaceLimits(c.max_concurrent or settings.max_concurrent, c.rpm or settings.rpm)
                   for c in settings.key_credentials() if c.max_concurrent or c.rpm}  # fmt: skip
            cached = (settings, own, PaceLimits(settings.max_concurrent, settings.rpm))
            self._limits[provider] = cached
        return cached[1].get(credential, cached[2])

    def pacer(self, provider: str, settings: ProviderConfig, cred: Credential) -> CredentialPacer | None:
        """The credential's pacer, or None when it is not paced (the common case: one dict lookup)."""
        limits = self.limits_for(provider, settings, cred.id)
        key = (provider, cred.id)
        if not limits:
            self._pacers.pop(key, None)
            return None
        pacer = self._pacers.get(key)
        if pacer is None:
            pacer = self._pacers[key] = CredentialPacer(limits, self.window_s)
        elif pacer.limits != limits:
            pacer.limits = limits  # in-flight requests and recent starts still count
        return pacer


def paced_retry_after(pacer: CredentialPacer) -> str:
    return str(max(1, math.ceil(pacer.retry_after())))
