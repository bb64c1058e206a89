"""One configured webhook: a bounded queue of deliveries and the task that sends them in order.

Each delivery is POSTed until it is answered 2xx, retried with exponential backoff after a
connection failure, a timeout, 408, 429 or 5xx (at most `MAX_ATTEMPTS` times); another answer
drops it. The queue holds at most `QUEUE_MAX` deliveries and drops the oldest beyond that, so a
dead receiver costs memory once and never reaches the request path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from proxy_engine import __version__
from proxy_engine.credentials.pool import parse_retry_after
from proxy_engine.webhooks.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

log = logging.getLogger("proxy_engine.webhooks")
QUEUE_MAX = 256
MAX_ATTEMPTS = 6
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 60.0
ATTEMPT_TIMEOUT_S = 10.0
_RETRIED = frozenset({408, 429})


def where(url: str) -> str:
    """The URL as logs may show it: scheme, host and port only (a hook's path or query can be its key)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


class Delivery:
    __slots__ = ("body", "event", "id", "timestamp")

    def __init__(self, event: str, fields: dict[str, Any]) -> None:
        self.id = os.urandom(8).hex()
        self.event = event
        self.timestamp = int(time.time())
        payload = {"id": self.id, "type": event, "timestamp": self.timestamp, "data": fields}
        self.body = json.dumps(payload, separators=(",", ":"), default=str).encode()


class WebhookTarget:
    """Sends the events it was given to one URL, signed with its secret, one at a time and in order."""

    def __init__(self, url: str, secret: bytes, events: frozenset[str], session: aiohttp.ClientSession) -> None:
        self.url = url
        self.events = events
        self.where = where(url)
        self.dropped = 0
        self._secret = secret
        self._session = session
        self._queue: deque[Delivery] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"webhook {self.where}")

    def offer(self, event: str, fields: dict[str, Any]) -> None:
        """Queue a delivery when this hook wants the event; never waits."""
        if event not in self.events:
            return
        if len(self._queue) >= QUEUE_MAX:
            self._queue.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                log.warning("webhook %s is behind: %d deliveries dropped so far (oldest first)",
                            self.where, self.dropped)  # fmt: skip
        self._queue.append(Delivery(event, fields))
        self._wake.set()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._queue:
            log.info("webhook %s: %d deliveries not sent before it was stopped", self.where, len(self._queue))

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                delivery = self._queue[0]
                try:
                    await self._deliver(delivery)
                except Exception:
                    log.exception("webhook %s: delivery %s failed unexpectedly; dropped", self.where, delivery.id)
                if self._queue and self._queue[0] is delivery:
                    self._queue.popleft()

    async def _deliver(self, delivery: Delivery) -> None:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"ProxyPal-Webhooks/{__version__}",
            EVENT_HEADER: delivery.event,
            DELIVERY_HEADER: delivery.id,
            TIMESTAMP_HEADER: str(delivery.timestamp),
            SIGNATURE_HEADER: sign(self._secret, delivery.body),
        }
        for n in range(1, MAX_ATTEMPTS + 1):
            retry_after: float | None = None
            try:
                async with self._session.post(self.url, data=delivery.body, headers=headers,
                                              allow_redirects=False) as resp:  # fmt: skip
                    if 200 <= resp.status < 300:
                        return
                    outcome = f"answered {resp.status}"
                    if resp.status < 500 and resp.status not in _RETRIED:
                        log.warning("webhook %s: %s delivery %s; not retried", self.where, delivery.event, outcome)
                        return
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            except TimeoutError:
                outcome = f"no answer within {ATTEMPT_TIMEOUT_S:g}s"
            except aiohttp.ClientError as e:
                outcome = f"unreachable ({type(e).__name__})"  # the class only: the text may quote the URL
            if n == MAX_ATTEMPTS:
                log.warning("webhook %s: %s delivery %s %s; gave up after %d attempts",
                            self.where, delivery.event, delivery.id, outcome, n)  # fmt: skip
                return
            delay = min(BACKOFF_MAX_S, retry_after if retry_after is not None else BACKOFF_BASE_S * 2 ** (n - 1))
            log.warning("webhook %s: %s delivery %s; retry %d of %d in %.0fs",
                        self.where, delivery.event, outcome, n, MAX_ATTEMPTS - 1, delay)  # fmt: skip
            await asyncio.sleep(delay)
