"""The engine's quota ledger: the last reading of every (provider, credential, window).

The request path hands it each upstream reply's headers (`observe`, a few dictionary lookups
when there is nothing to read), a 429's body (`observe_error_body`), and each finished
request (`count`, the estimate between observations). It keeps the readings in memory for
routing (`blocked_until`, `headroom`, `used_percent`), emits `quota.updated` when a reading
changes, `quota.alert` at the configured thresholds and `credential.cooldown` when a window is
exhausted, and writes changed readings to the `quota_windows` table at most once a second, in
a worker thread, never on the request path.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from proxy_engine.protocol import CredentialCooldown, EventPayload, QuotaAlert, QuotaUpdated
from proxy_engine.quota import store
from proxy_engine.quota.alerts import QuotaAlerts
from proxy_engine.quota.error_bodies import read_error_body
from proxy_engine.quota.estimator import estimate
from proxy_engine.quota.headers import Headers, read_headers
from proxy_engine.quota.headroom import UNREAD, blocked_until, headroom, used_percent
from proxy_engine.quota.window import QuotaWindow
from proxy_engine.storage.errors import StorageUnavailable
from proxy_engine.usage.tokens import Usage

log = logging.getLogger("proxy_engine.quota")
Emit = Callable[[EventPayload], None]
CredKey = tuple[str, str]
FLUSH_INTERVAL_S = 1.0


class QuotaLedger:
    def __init__(self, emit: Emit, clock: Callable[[], float] = time.time) -> None:
        self._emit = emit
        self._clock = clock
        self._windows: dict[CredKey, dict[str, QuotaWindow]] = {}
        self._dirty: dict[tuple[str, str, str], QuotaWindow] = {}
        self._table: store.QuotaTable | None = None
        self._flusher: asyncio.Task | None = None
        self._write_lock = asyncio.Lock()
        self.alerts = QuotaAlerts()
        self.on_change: Callable[[list[QuotaWindow]], None] | None = None  # team mode: tell the other replicas

    # -- lifecycle ---------------------------------------------------------------------------------

    async def open(self, db: Path, table: store.QuotaTable | None = None) -> None:
        """Create the table and load the stored readings (alerts already sent for them are not repeated).

        `table`: where readings persist; None is the `quota_windows` table of the SQLite file `db`."""
        self._table = table or store.SqliteQuotaTable(db)
        now = self._clock()
        for w in await self._table.load():
            self._windows.setdefault((w.provider, w.credential), {})[w.name] = w
            self.alerts.seed(w, now)

    def configure(self, alert_at: Sequence[float]) -> None:
        self.alerts.configure(alert_at)

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
            self._flusher = None
        await self.flush()

    async def flush(self) -> None:
        """Write the readings changed since the last write (in a thread)."""
        if not self._dirty or self._table is None:
            return
        async with self._write_lock:
            batch, self._dirty = list(self._dirty.values()), {}
            try:
                await self._table.write(batch)
            except Exception as e:  # a full disk or a locked file must not lose the readings: retry later
                log.error("cannot store quota readings (%s); will retry", e)
                for w in batch:
                    self._dirty.setdefault(w.key, w)

    def _schedule_flush(self) -> None:
        if self._flusher is not None and not self._flusher.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # outside the engine's loop (a unit test): written by the next flush()
            return
        self._flusher = loop.create_task(self._flush_soon(), name="quota-flush")

    async def _flush_soon(self) -> None:
        await asyncio.sleep(FLUSH_INTERVAL_S)
        await self.flush()
        if self._dirty:  # written meanwhile, or a failed write: go again
            self._flusher = None
            self._schedule_flush()

    # -- readings from the request path ------------------------------------------------------------

    def observe(self, provider: str, credential: str, headers: Headers) -> bool:
        """Take a reply's quota headers; False (cheaply) when it carries none."""
        now = self._clock()
        windows = read_headers(headers, provider, credential, now)
        if windows:
            self._apply(provider, credential, windows, now)
        return bool(windows)

    def observe_error_body(self, provider: str, credential: str, body: bytes) -> bool:
        """Take the quota a refusal's body names (Gemini's QuotaFailure)."""
        now = self._clock()
        windows = read_error_body(body, provider, credential, now)
        if windows:
            self._apply(provider, credential, windows, now)
        return bool(windows)

    def count(self, provider: str, credential: str, usage: Usage | None) -> None:
        """A request went through without a reading: estimate its windows with known limits."""
        known = self._windows.get((provider, credential))
        if not known:
            return
        now = self._clock()
        changed = [w for w in (estimate(w, usage, now) for w in known.values()) if w is not None]
        if changed:
            self._apply(provider, credential, changed, now)

    def _apply(self, provider: str, credential: str, windows: list[QuotaWindow], now: float) -> None:
        known = self._windows.setdefault((provider, credential), {})
        changed = False
        for w in windows:
            old = known.get(w.name)
            before = old.current(now) if old is not None else None
            known[w.name] = w
            self._dirty[w.key] = w
            if w.same_reading(before):
                continue
            changed = True
            threshold = self.alerts.crossed(w)
            if threshold is not None:
                self._emit(QuotaAlert(provider=provider, credential=credential, window=w.name,
                                      used_percent=round(w.used_percent, 2), threshold=threshold,
                                      resets_at=w.resets_at))  # fmt: skip
            if w.exhausted(now) and w.resets_at is not None and not (before is not None and before.exhausted(now)):
                log.warning("%s/%s: quota window %s is used up; not used until %s", provider, credential, w.name,
                            time.strftime("%H:%M:%S", time.localtime(w.resets_at)))  # fmt: skip
                self._emit(CredentialCooldown(provider=provider, credential=credential, model="*",
                                              until=w.resets_at, reason="quota_exhausted", status=429))  # fmt: skip
        self._schedule_flush()
        if self.on_change is not None:
            self.on_change(windows)
        if changed:
            self._emit(QuotaUpdated(provider=provider, credential=credential,
                                    windows=[x.as_dict(now) for x in known.values()]))  # fmt: skip

    # -- what routing asks (hot path: a dict lookup when a credential has no readings) ---------------

    def blocked_until(self, provider: str, credential: str, now: float) -> float | None:
        known = self._windows.get((provider, credential))
        return blocked_until(known.values(), now) if known else None

    def headroom(self, provider: str, credential: str, now: float) -> float:
        known = self._windows.get((provider, credential))
        return headroom(known.values(), now) if known else UNREAD

    def used_percent(self, provider: str, credential: str, now: float) -> float | None:
        known = self._windows.get((provider, credential))
        return used_percent(known.values(), now) if known else None

    async def refresh(self) -> None:
        """Take the readings other workers stored since (silently: the worker that read them told the bus)."""
        if self._table is None:
            return
        now = self._clock()
        for w in await self._table.read():
            known = self._windows.setdefault((w.provider, w.credential), {})
            mine = known.get(w.name)
            if mine is None or w.observed_at > mine.observed_at:
                known[w.name] = w
                self.alerts.seed(w, now)

    def merge_remote(self, windows: list[QuotaWindow]) -> None:
        """Readings another replica took (team mode), kept where newer (silently: that replica told its bus)."""
        now = self._clock()
        for w in windows:
            known = self._windows.setdefault((w.provider, w.credential), {})
            mine = known.get(w.name)
            if mine is None or w.observed_at > mine.observed_at:
                known[w.name] = w
                self.alerts.seed(w, now)

    async def refresh_forever(self, interval: float = FLUSH_INTERVAL_S) -> None:
        """Under `serve --workers N` (and replicas in team mode): every one routes by what any of them read."""
        failing = False
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except (sqlite3.Error, StorageUnavailable) as e:
                if not failing:  # an outage is logged once, not every second
                    log.warning("quota readings could not be re-read (%s); trying again", e)
                failing = True
                continue
            failing = False

    # -- what people see ----------------------------------------------------------------------------

    def windows(self) -> list[QuotaWindow]:
        return [w for known in self._windows.values() for w in known.values()]

    async def snapshot(self) -> list[QuotaWindow]:
        """This process's readings merged with the table's (other workers write there too)."""
        await self.flush()
        merged = {w.key: w for w in self.windows()}
        if self._table is not None:
            try:
                stored = await self._table.read()
            except StorageUnavailable as e:  # team mode, PostgreSQL away: this process's own readings
                log.warning("stored quota readings cannot be read (%s); showing this engine's own", e)
                stored = []
            for w in stored:
                mine = merged.get(w.key)
                if mine is None or w.observed_at > mine.observed_at:
                    merged[w.key] = w
        return list(merged.values())


def quota_report(
    windows: Sequence[QuotaWindow], now: float, labels: dict[CredKey, str] | None = None
) -> dict[str, Any]:
    """The `/v0/quota` JSON: one entry per credential with its windows, tightest first."""
    by_cred: dict[CredKey, list[QuotaWindow]] = {}
    for w in windows:
        by_cred.setdefault((w.provider, w.credential), []).append(w)
    creds = []
    for (provider, credential), ws in sorted(by_cred.items()):
        shown = sorted((w.as_dict(now) for w in ws), key=lambda d: (-d["used_percent"], d["name"]))
        entry = {"provider": provider, "credential": credential, "windows": shown,
                 "blocked_until": blocked_until(ws, now)}  # fmt: skip
        if labels and (provider, credential) in labels:
            entry["label"] = labels[(provider, credential)]
        creds.append(entry)
    return {"now": now, "credentials": creds}
