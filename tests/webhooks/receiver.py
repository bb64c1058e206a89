"""A webhook receiver: a real aiohttp server on 127.0.0.1, in its own thread, that records every
delivery and answers as the test scripts it (statuses in turn, or holding requests unanswered)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def type(self) -> str:
        return self.json["type"]


class WebhookReceiver:
    """`with WebhookReceiver() as hook:`; `hook.url`, `hook.received`, `hook.answer(500)`, `hook.hold()`."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.open_requests = 0
        self._statuses: list[int] = []
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._run, daemon=True, name="webhook-receiver")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/proxypal"

    def answer(self, *statuses: int) -> None:
        """Answer the next deliveries with these statuses, then 200 again."""
        self._statuses.extend(statuses)

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.received)} deliveries, expected {count}")
            time.sleep(0.01)
        return list(self.received)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            self.received.append(Received({k.lower(): v for k, v in request.headers.items()}, body))
            self.open_requests += 1
        try:
            if not self._open.is_set():
                await asyncio.to_thread(self._open.wait)
            status = self._statuses.pop(0) if self._statuses else 200
            return web.json_response({"ok": status < 300}, status=status)
        finally:
            with self._lock:
                self.open_requests -= 1

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/hooks/proxypal", self._handle)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.SockSite(self._runner, sock).start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the webhook receiver did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._open.set()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
