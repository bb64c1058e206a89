"""What the request path talks to: start a capture, and at the end decide whether it is kept.

With `recorder.mode: off` the request path pays one attribute check (`active`) and nothing else.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web

from proxy_engine.config import RecorderConfig
from proxy_engine.record import RequestRecord
from proxy_engine.recorder.capture import Capture, Limits
from proxy_engine.recorder.document import record_meta
from proxy_engine.recorder.store import CaptureStore, capture_dir
from proxy_engine.recorder.writer import CaptureWriter, Retention

_DAY = 86400.0


def _retention(cfg: RecorderConfig) -> Retention:
    return Retention(int(cfg.max_total_mb * 1024 * 1024), cfg.max_age_days * _DAY, cfg.prune_every_s)


class FlightRecorder:
    def __init__(self, state_dir: Path, cfg: RecorderConfig) -> None:
        self.store = CaptureStore(capture_dir(state_dir))
        self.writer = CaptureWriter(self.store, cfg.queue_size, _retention(cfg))
        self.active = False
        self.mode = "off"
        self.limits = Limits(1, 1)
        self.configure(cfg)

    def configure(self, cfg: RecorderConfig) -> None:
        """At start and on every config reload; takes effect for the next request."""
        self.mode = cfg.mode
        self.active = cfg.mode != "off"
        self.limits = Limits(cfg.stage_max_kb * 1024, cfg.request_max_kb * 1024, int(cfg.memory_max_mb * 1024 * 1024))
        self.writer.retention = _retention(cfg)

    async def start(self) -> None:
        self.writer.start()

    async def close(self) -> None:
        await asyncio.to_thread(self.writer.stop)

    def begin(self, request: web.Request) -> Capture:
        cap = Capture(self.limits)
        cap.client_request(request)
        return cap

    def finish(self, cap: Capture, rec: RequestRecord) -> None:
        """Keep the capture when the mode asks for it: `all`, or a failure or failover in `errors`."""
        cap.release()  # a kept one waits in the writer's queue, which is bounded by count
        if rec.error_code or rec.status >= 400 or not rec.status:
            reason = "error"
        elif cap.failed_over:
            reason = "failover"
        elif self.mode == "all":
            reason = "all"
        else:
            return
        cap.own_bytes()  # a kept capture must not pin whole request bodies while it waits for the writer
        self.writer.offer(cap, record_meta(rec, reason))

    def status(self) -> dict[str, Any]:
        c = self.writer.counts
        return {
            "mode": self.mode, "queued": self.writer.queued, "written": c.written, "captures": c.captures,
            "bytes": c.bytes, "pruned": c.pruned, "dropped": c.dropped_queue_full + c.dropped_write_failed,
            "dropped_queue_full": c.dropped_queue_full, "dropped_write_failed": c.dropped_write_failed,
            "last_error": c.last_error, "dir": str(self.store.root),
        }  # fmt: skip
