"""The writer thread: kept captures are redacted, compressed and stored here, never on the request path.

The request path hands a capture over with `offer`, which never blocks: when the bounded queue is
full the capture is dropped and counted. A write that fails (a full, slow or read-only disk) is
counted too, and the thread goes on. Retention is enforced here as well, between writes.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any

from proxy_engine.recorder.capture import Capture
from proxy_engine.recorder.document import capture_doc
from proxy_engine.recorder.store import CaptureStore

log = logging.getLogger("proxy_engine.recorder")
_STOP = object()


@dataclass(slots=True)
class Retention:
    max_bytes: int
    max_age_s: float
    prune_every_s: float


@dataclass(slots=True)
class WriterCounts:
    written: int = 0
    dropped_queue_full: int = 0
    dropped_write_failed: int = 0
    pruned: int = 0
    captures: int = 0
    bytes: int = 0
    last_error: str | None = None


class CaptureWriter:
    def __init__(self, store: CaptureStore, queue_size: int, retention: Retention) -> None:
        self.store = store
        self.retention = retention
        self.counts = WriterCounts()
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="capture-writer", daemon=True)
        self._thread.start()

    def offer(self, cap: Capture, meta: dict[str, Any]) -> None:
        """Never blocks the request: a full queue drops the capture and counts it."""
        try:
            self._queue.put_nowait((cap, meta))
        except queue.Full:
            self.counts.dropped_queue_full += 1

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def stop(self, timeout: float = 5.0) -> None:
        """Blocking: let the queue drain (up to `timeout`), then end the thread."""
        if self._thread is None:
            return
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            log.warning("capture writer still busy at shutdown; %d captures left unwritten", self.queued)
        self._thread.join(timeout)
        self._thread = None
        self.store.close()

    def _run(self) -> None:
        self._prune()
        next_prune = time.monotonic() + self.retention.prune_every_s
        while True:
            try:
                item = self._queue.get(timeout=max(next_prune - time.monotonic(), 0.01))
            except queue.Empty:
                item = None
            if item is _STOP:
                return
            if item is not None:
                self._write(*item)
            if time.monotonic() >= next_prune or self.counts.bytes > self.retention.max_bytes:
                self._prune()
                next_prune = time.monotonic() + self.retention.prune_every_s

    def _write(self, cap: Capture, meta: dict[str, Any]) -> None:
        try:
            size = self.store.put(capture_doc(cap, meta))
        except (OSError, sqlite3.Error) as e:
            self._failed(e)
            return
        except Exception as e:  # one capture that cannot be encoded must not end the writer
            log.exception("a capture could not be written; the writer goes on")
            self._failed(e)
            return
        c = self.counts
        c.written += 1
        c.captures += 1
        c.bytes += size

    def _failed(self, e: BaseException) -> None:
        c = self.counts
        c.dropped_write_failed += 1
        c.last_error = f"{type(e).__name__}: {getattr(e, 'strerror', None) or e}"
        if c.dropped_write_failed == 1 or c.dropped_write_failed % 100 == 0:
            log.warning("captures cannot be written (%s); %d dropped so far", c.last_error, c.dropped_write_failed)

    def _prune(self) -> None:
        r = self.retention
        try:
            self.counts.pruned += self.store.prune(r.max_bytes, r.max_age_s)
            self.counts.captures, self.counts.bytes = self.store.totals()
        except (OSError, sqlite3.Error) as e:
            self.counts.last_error = f"retention: {type(e).__name__}: {e}"
            log.warning("capture retention could not run: %s", e)
