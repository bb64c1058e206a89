"""Run a fake provider in a background thread with its own event loop, for synchronous tests (SDKs)."""

from __future__ import annotations

import asyncio
import threading
from typing import Generic, TypeVar

from .base import FakeProvider

F = TypeVar("F", bound=FakeProvider)
START_TIMEOUT_S = 10.0


class FakeServerThread(Generic[F]):
    """`with FakeServerThread(FakeOpenAI()) as fake:` serves `fake` until the block ends.

    Scripts and `fake.requests` may be used from the test thread: handlers read the script when a request
    arrives and only append to the request list.
    """

    def __init__(self, fake: F) -> None:
        self.fake = fake
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"{type(fake).__name__}-server", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.fake.start())
        except BaseException as exc:  # handed to the starting thread, which re-raises it
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.fake.close())
        self._loop.close()

    def start(self) -> F:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError(f"{type(self.fake).__name__} did not start")
        if self._error is not None:
            raise RuntimeError(f"{type(self.fake).__name__} failed to start") from self._error
        return self.fake

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(START_TIMEOUT_S)

    def __enter__(self) -> F:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
