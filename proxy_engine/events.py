"""The event bus and its Unix-socket server.

`emit` never waits and does almost nothing: it notes the event, and a flush at most every
`FLUSH_INTERVAL` encodes the batch once for every subscriber (a `request.started` whose
request finished within the same batch is left out). Each subscriber has a bounded queue;
a slow one loses its oldest events (and is told how many) instead of slowing the proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from proxy_engine.paths import make_private_dirs
from proxy_engine.protocol import (
    HELLO,
    REQUEST_FINISHED,
    REQUEST_STARTED,
    Dropped,
    EventPayload,
    Hello,
    Log,
    encode_event,
    encode_payload,
)

log = logging.getLogger("proxy_engine.events")
FLUSH_INTERVAL = 0.05  # seconds; batches wake-ups and writes when traffic is heavy


class _Subscriber:
    def __init__(self, writer: asyncio.StreamWriter, limit: int) -> None:
        self.writer = writer
        self.queue: deque[bytes] = deque()
        self.limit = limit
        self.dropped = 0
        self.ready = asyncio.Event()
        self.since = time.time()
        self.team = False  # asked for the whole team's events (team mode: `tail --team`)

    def push(self, lines: list[bytes]) -> None:
        self.queue.extend(lines)
        over = len(self.queue) - self.limit
        if over > 0:
            for _ in range(over):
                self.queue.popleft()
            self.dropped += over
        self.ready.set()


class EventBus:
    def __init__(self, queue_size: int = 2000) -> None:
        self.queue_size = queue_size
        self._subs: set[_Subscriber] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.base_events.Server | None = None
        self.hello: Callable[[], EventPayload] = Hello
        self.path: Path | None = None
        self._pending: list[tuple[str, dict[str, Any], float]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._taps: list[Callable[[str, dict[str, Any]], None]] = []  # in-process listeners (webhooks)
        self.replica: str | None = None  # team mode: every event names the replica that raised it

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def add_tap(self, tap: Callable[[str, dict[str, Any]], None]) -> None:
        """Call `tap(type, fields)` for every event, in `emit`: it must only look and queue, never wait."""
        self._taps.append(tap)

    def remove_tap(self, tap: Callable[[str, dict[str, Any]], None]) -> None:
        if tap in self._taps:
            self._taps.remove(tap)

    def emit(self, type_: str, fields: dict[str, Any]) -> None:
        if self.replica is not None:
            fields = {**fields, "replica": self.replica}
        for tap in self._taps:
            tap(type_, fields)
        if not self._subs:
            return
        self._pending.append((type_, fields, time.time()))
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_INTERVAL, self.flush)

    def publish(self, payload: EventPayload) -> None:
        """Emit a protocol payload; it is turned into a dict only when someone listens."""
        if self._subs or self._taps:
            self.emit(payload.TYPE, payload.to_dict())

    def flush(self) -> None:
        """Encode what was emitted since the last flush, once, and queue it for every subscriber."""
        self._timer = None
        batch, self._pending = self._pending, []
        if not batch or not self._subs:
            return
        done = {f.get("id") for t, f, _ in batch if t == REQUEST_FINISHED}
        kept = []
        for t, f, ts in batch:
            if (t != REQUEST_STARTED or f.get("id") not in done) and (line := _encode(t, f, ts)) is not None:
                kept.append((ts, line))
        lines = [line for _, line in kept]
        for sub in self._subs:
            # A subscriber sees only what happened after its hello.
            sub.push(lines if sub.since <= batch[0][2] else [line for ts, line in kept if ts >= sub.since])

    def _hello_line(self) -> bytes:
        """A subscriber always gets its hello; one that cannot be built whole goes without the snapshot."""
        hello: Hello | None = None
        try:
            hello = self.hello()
            return encode_payload(hello)
        except Exception:
            log.exception("hello could not be built whole; sending it without the snapshot")
        try:
            return encode_event(HELLO, {k: v for k, v in (hello.to_dict() if hello else {}).items() if k != "snapshot"})
        except (TypeError, ValueError):
            return encode_event(HELLO, {})

    async def start(self, path: Path) -> None:
        await asyncio.to_thread(_clear_socket_path, path)
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(path))
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self.path = path

    async def forward_to(self, path: Path) -> None:
        """A worker's bus: the supervisor's fan-in socket is its one subscriber (it gets the hello too)."""
        reader, writer = await asyncio.open_unix_connection(str(path))
        task = asyncio.create_task(self._serve(reader, writer), name="events-forward")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def relay(self, lines: list[bytes]) -> None:
        """Pass already encoded lines (a worker's events, at the supervisor) to every subscriber."""
        for sub in self._subs:
            sub.push(lines)

    def relay_team(self, lines: list[bytes]) -> None:
        """Other replicas' events (team mode), for the subscribers that asked for the team view."""
        for sub in self._subs:
            if sub.team:
                sub.push(lines)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sub = _Subscriber(writer, self.queue_size)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        eof = asyncio.ensure_future(_read_requests(reader, sub))
        eof.add_done_callback(lambda _: sub.ready.set())  # a hang-up wakes the writer too
        try:
            writer.write(self._hello_line())
            self._subs.add(sub)
            while True:
                await sub.ready.wait()
                if eof.done():
                    break
                sub.ready.clear()
                if sub.dropped:
                    writer.write(encode_payload(Dropped(count=sub.dropped)))
                    sub.dropped = 0
                lines, sub.queue = sub.queue, deque()
                writer.write(b"".join(lines))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._subs.discard(sub)
            eof.cancel()
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self.flush()
        if self._server is not None:
            self._server.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


async def _read_requests(reader: asyncio.StreamReader, sub: _Subscriber) -> None:
    """Read what a subscriber sends until it hangs up: `{"team": true}` asks for the team view."""
    try:
        while line := await reader.readline():
            if line.strip().replace(b" ", b"") == b'{"team":true}':
                sub.team = True
    except (ValueError, ConnectionError):  # a line past the reader's limit, or a reset: the same as a hang-up
        return


def _encode(type_: str, fields: dict[str, Any], ts: float) -> bytes | None:
    """One event's line, or None (logged) when it cannot be encoded: one bad event never costs the batch."""
    try:
        return encode_event(type_, fields, ts)
    except (TypeError, ValueError) as e:
        log.error("event %s dropped: it cannot be encoded (%s)", type_, e)
        return None


class EventSocketRefused(Exception):
    """The events socket path holds something that is not ours to delete."""


def _clear_socket_path(path: Path) -> None:
    """Remove only a stale socket (one nobody listens on); never a file, nor another engine's live socket."""
    make_private_dirs(path.parent)
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise EventSocketRefused(f"events socket path {path} exists and is not a socket; move it away or set "
                                 "events.socket to another path")  # fmt: skip
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    except OSError as e:
        raise EventSocketRefused(f"events socket {path} cannot be checked: {e.strerror}") from None
    finally:
        probe.close()
    raise EventSocketRefused(f"events socket {path} is in use by another running engine; stop it or set "
                             "events.socket to another path")  # fmt: skip


class EventLogHandler(logging.Handler):
    """Mirrors engine log records as `log` events; safe to call from any thread."""

    def __init__(self, bus: EventBus, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(logging.INFO)
        self.bus, self.loop = bus, loop

    def emit(self, record: logging.LogRecord) -> None:
        event = Log(level=record.levelname.lower(), logger=record.name, message=self.format(record))
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.bus.publish(event)
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.bus.publish, event)
