"""The event bus and its Unix-socket server.

`emit` never waits: each subscriber has a bounded queue, and a slow one loses
its oldest events (and is told how many) instead of slowing the proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from proxy_engine.protocol import DROPPED, HELLO, LOG, encode_event

log = logging.getLogger("proxy_engine.events")


class _Subscriber:
    def __init__(self, writer: asyncio.StreamWriter, limit: int):
        self.writer = writer
        self.queue: deque[bytes] = deque()
        self.limit = limit
        self.dropped = 0
        self.ready = asyncio.Event()

    def push(self, line: bytes) -> None:
        if len(self.queue) >= self.limit:
            self.queue.popleft()
            self.dropped += 1
        self.queue.append(line)
        self.ready.set()


class EventBus:
    def __init__(self, queue_size: int = 2000):
        self.queue_size = queue_size
        self._subs: set[_Subscriber] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.base_events.Server | None = None
        self.hello: Callable[[], dict[str, Any]] = dict
        self.path: Path | None = None

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def emit(self, type_: str, fields: dict[str, Any]) -> None:
        if not self._subs:
            return
        line = encode_event(type_, fields)
        for sub in self._subs:
            sub.push(line)

    async def start(self, path: Path) -> None:
        await asyncio.to_thread(_clear_socket_path, path)
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(path))
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self.path = path

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sub = _Subscriber(writer, self.queue_size)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            writer.write(encode_event(HELLO, self.hello()))
            self._subs.add(sub)
            eof = asyncio.create_task(reader.read())
            while not eof.done():
                ready = asyncio.create_task(sub.ready.wait())
                await asyncio.wait({ready, eof}, return_when=asyncio.FIRST_COMPLETED)
                ready.cancel()
                sub.ready.clear()
                if sub.dropped:
                    writer.write(encode_event(DROPPED, {"count": sub.dropped}))
                    sub.dropped = 0
                lines, sub.queue = sub.queue, deque()
                writer.write(b"".join(lines))
                await writer.drain()
            eof.cancel()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._subs.discard(sub)
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


def _clear_socket_path(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


class EventLogHandler(logging.Handler):
    """Mirrors engine log records as `log` events; safe to call from any thread."""

    def __init__(self, bus: EventBus, loop: asyncio.AbstractEventLoop):
        super().__init__(logging.INFO)
        self.bus, self.loop = bus, loop

    def emit(self, record: logging.LogRecord) -> None:
        fields = {"level": record.levelname.lower(), "logger": record.name, "message": self.format(record)}
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.bus.emit(LOG, fields)
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.bus.emit, LOG, fields)
