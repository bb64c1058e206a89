"""Counts what reaches a fake: requests in flight at once (and the most ever), and when each arrived.

Attach it before the fake starts (`ConcurrencyMeter().attach(fake)`); `hold()` keeps every later
request waiting inside the fake until `release()`, so a test can hold a credential busy for as long
as it needs without timing anything.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from aiohttp import web

from .base import FakeProvider


class ConcurrencyMeter:
    def __init__(self) -> None:
        self.in_flight = 0
        self.max_in_flight = 0
        self.arrivals: list[float] = []  # time.monotonic() when each request reached the fake
        self._lock = threading.Lock()
        self._open = threading.Event()
        self._open.set()

    def attach(self, fake: FakeProvider) -> FakeProvider:
        fake.app.middlewares.append(self._middleware)
        return fake

    def reset(self) -> None:
        with self._lock:
            self.max_in_flight = self.in_flight
            self.arrivals.clear()
        self._open.set()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def wait_in_flight(self, count: int, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while self.in_flight < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        with self._lock:
            self.arrivals.append(time.monotonic())
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if not self._open.is_set():
                await asyncio.to_thread(self._open.wait)  # held by the test until release()
            return await handler(request)
        finally:
            with self._lock:
                self.in_flight -= 1
