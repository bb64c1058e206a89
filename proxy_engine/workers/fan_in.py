"""The supervisor's side of worker events: one fan-in socket in, the one events socket out.

Each worker's bus treats the fan-in connection as its only subscriber, so its events arrive
batched and already encoded. They are passed on to subscribers as they are, without decoding,
except `request.finished` (decoded once, for the supervisor's own aggregates) and each
worker's `stats` (kept for its in-flight count and ledger health, and replaced by one `stats`
for the whole engine). The hello subscribers get is the supervisor's, for all workers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

from proxy_engine import __version__
from proxy_engine.events import EventBus
from proxy_engine.protocol import AuthChanged, Hello, HelloSnapshot, LedgerHealth, RequestFinished, Stats
from proxy_engine.usage.stats import RollingStats

log = logging.getLogger("proxy_engine.workers")
_FINISHED = b'"type":"request.finished"'
_STATS = b'"type":"stats"'
_HEAD = 48  # the type is within the first bytes of every line: {"v":1,"type":"...


class WorkerEventHub:
    """Relays every worker's events and answers for the engine as a whole (hello, stats)."""

    def __init__(self, bus: EventBus, listen: str, config_path: str) -> None:
        self.bus = bus
        self.listen = listen
        self.config_path = config_path
        self.stats = RollingStats()
        self.connected: dict[int, dict[str, Any]] = {}  # worker pid -> its hello and last stats
        self.joined = asyncio.Condition()
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.path: Path | None = None

    async def start(self, path: Path) -> None:
        await asyncio.to_thread(path.unlink, missing_ok=True)  # per port; a live engine here was refused before
        old = os.umask(0o177)
        try:
            # A worker's hello is one line, and may carry a snapshot well past the default 64 KiB limit.
            self._server = await asyncio.start_unix_server(self._serve, path=str(path), limit=1 << 24)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self.path = path
        self._tasks.add(asyncio.create_task(self._stats_loop(), name="stats"))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        pid = 0
        try:
            hello = json.loads(await reader.readline())
            pid = int(hello.get("pid") or 0)
            async with self.joined:
                self.connected[pid] = {"hello": hello, "stats": {}}
                self.joined.notify_all()
            rest = b""
            while chunk := await reader.read(1 << 16):
                *lines, rest = (rest + chunk).split(b"\n")
                self._take(pid, lines)
        except (ConnectionError, ValueError, AttributeError) as e:
            log.warning("worker %d's events stopped: %s", pid, e)
        finally:
            self.connected.pop(pid, None)
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    def _take(self, pid: int, lines: list[bytes]) -> None:
        out = []
        for line in lines:
            head = line[:_HEAD]
            if _STATS in head:
                try:
                    self.connected[pid]["stats"] = json.loads(line)
                except ValueError:
                    log.warning("worker %d sent stats that are not JSON", pid)
                self.stats.dirty = True
                continue
            if _FINISHED in head:
                try:
                    self.stats.add(json.loads(line))
                except (ValueError, KeyError, TypeError) as e:
                    log.warning("worker %d sent a request.finished the aggregates cannot take: %s", pid, e)
            out.append(line + b"\n")
        if out and self.bus.subscribers:
            self.bus.relay(out)

    def stats_payload(self) -> Stats:
        """The engine's aggregates: every worker's requests; in flight and ledger health summed."""
        payload = self.stats.payload()
        views = [w["stats"] for w in self.connected.values()]
        payload.in_flight = sum(int(v.get("in_flight") or 0) for v in views)
        healths = [LedgerHealth.from_dict(v.get("ledger")) for v in views if v.get("ledger")]
        payload.ledger = LedgerHealth(
            ok=all(h.ok for h in healths),
            backlog=sum(h.backlog for h in healths),
            last_error=next((h.last_error for h in healths if h.last_error), ""),
            dropped=sum(h.dropped for h in healths),
            journal_failed=sum(h.journal_failed for h in healths),
            journal_error=next((h.journal_error for h in healths if h.journal_error), ""),
            backend=next((h.backend for h in healths if h.backend), ""),
        )
        return payload

    def hello(self) -> Hello:
        auth: list[AuthChanged] = []
        for w in self.connected.values():  # logins are the same in every worker: the first one's
            snap = w["hello"].get("snapshot") or {}
            auth = [AuthChanged.from_dict(a) for a in snap.get("auth") or [] if isinstance(a, dict)]
            break
        return Hello(
            version=__version__,
            pid=os.getpid(),
            listen=self.listen,
            config_path=self.config_path,
            events_socket=str(self.bus.path or ""),
            snapshot=HelloSnapshot(
                recent=[RequestFinished.from_dict(r) for r in self.stats.recent],
                stats=self.stats_payload(),
                auth=auth,
            ),
        )

    async def _stats_loop(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            if self.stats.dirty and self.bus.subscribers:
                self.stats.dirty = False
                try:
                    self.bus.publish(self.stats_payload())
                except (TypeError, ValueError, KeyError):
                    log.exception("engine stats could not be built; the stats loop goes on")

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.path is not None:
            self.path.unlink(missing_ok=True)
