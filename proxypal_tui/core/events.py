"""Reading the engine's event socket, and handing events to the UI at the UI's pace.

`EventStream` turns socket chunks into batches of decoded events. `EventPump`
keeps at most one batch outstanding with the UI: while the UI is busy, new events
wait in a bounded queue (oldest dropped and counted), so a flood never piles up
messages in the app and never slows the engine (the socket is always drained).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from proxy_engine.protocol import HELLO, decode_event

CHUNK = 256 * 1024
MAX_LINE = 4 * 1024 * 1024


class EventStream:
    """One connection to the events socket."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self.bad_lines = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self, connect_timeout: float = 2.0) -> None:
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_unix_connection(self.path, limit=MAX_LINE), connect_timeout
        )

    async def ask_team(self) -> None:
        """Ask for the whole team's events (team mode: every replica's, each tagged with its `replica`).

        An engine that is not in team mode has no other replicas, so the ask changes nothing there;
        sending it on every connection avoids waiting for `/v0/status` before the first event."""
        if self._writer is None:
            raise RuntimeError("connect() first")
        self._writer.write(b'{"team": true}\n')
        with contextlib.suppress(ConnectionError, OSError):  # an engine already gone shows as the stream's end
            await self._writer.drain()

    async def batches(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Yield lists of events until the engine closes the socket."""
        if self._reader is None:
            raise RuntimeError("connect() first")
        partial = b""
        while True:
            chunk = await self._reader.read(CHUNK)
            if not chunk:
                return
            data = partial + chunk
            lines = data.split(b"\n")
            partial = lines.pop()
            if len(partial) > MAX_LINE:
                partial = b""
                self.bad_lines += 1
            batch = []
            for line in lines:
                if not line.strip():
                    continue
                try:
                    batch.append(decode_event(line))
                except (ValueError, json.JSONDecodeError):
                    self.bad_lines += 1
            if batch:
                yield batch

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            # The engine may already be gone; the socket is closed either way.
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
            self._writer = None
            self._reader = None


class EventPump:
    """At most one batch in the UI's hands; the rest waits here (bounded)."""

    def __init__(self, deliver: Callable[[list[dict[str, Any]]], None], capacity: int = 20_000) -> None:
        self._deliver = deliver
        self._pending: deque[dict[str, Any]] = deque()
        self._capacity = capacity
        self._outstanding = False
        self.dropped = 0
        self.received = 0

    def push(self, events: list[dict[str, Any]]) -> None:
        self.received += len(events)
        self._pending.extend(events)
        overflow = len(self._pending) - self._capacity
        if overflow > 0:
            self._drop_oldest(overflow)
        if not self._outstanding:
            self._flush()

    def _drop_oldest(self, n: int) -> None:
        """Keep `hello` events: they reset the views and must not be lost."""
        kept: list[dict[str, Any]] = []
        while n > 0 and self._pending:
            ev = self._pending.popleft()
            if ev.get("type") == HELLO:
                kept.append(ev)
            else:
                n -= 1
                self.dropped += 1
        self._pending.extendleft(reversed(kept))

    def done(self) -> None:
        """The UI finished the last batch: send what queued meanwhile."""
        self._outstanding = False
        if self._pending:
            self._flush()

    def _flush(self) -> None:
        batch = list(self._pending)
        self._pending.clear()
        self._outstanding = True
        self._deliver(batch)

    def reset(self) -> None:
        self._pending.clear()
        self._outstanding = False
