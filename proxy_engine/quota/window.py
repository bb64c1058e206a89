"""One quota window of one credential, as last seen: how much is used, until when, and how we know.

A window is either `observed` (read from an upstream's headers or error body) or `estimated`
(our own count of requests and tokens since the last observation, against its known limit).
A window whose reset time has passed is shown as `reset` (0 % used, limit fully remaining):
the upstream has refilled it, whatever the last figures said.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

OBSERVED = "observed"
ESTIMATED = "estimated"
RESET = "reset"

# statuses the Anthropic unified headers use; "rejected" means requests are refused now
REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class QuotaWindow:
    """One (provider, credential, window) reading. `used_percent` is 0..100 (may exceed 100)."""

    provider: str
    credential: str
    name: str  # "5h", "7d", "requests", "tokens", "premium_interactions", "requests/day" ...
    used_percent: float
    resets_at: float | None  # epoch seconds; None when the upstream did not say
    observed_at: float  # epoch seconds of the last observation (or estimate)
    source: str = OBSERVED
    limit: float | None = None  # requests or tokens per window, where the upstream says
    remaining: float | None = None
    status: str = ""  # the upstream's own word ("allowed", "allowed_warning", "rejected"), if any
    window_s: float | None = None  # the window's length, where known (5h = 18000)
    representative: bool = False  # Anthropic's representative claim: the window that binds now
    blocks: bool = True  # False: a used-up window that does not stop requests (Copilot premium requests)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.provider, self.credential, self.name)

    def is_reset(self, now: float) -> bool:
        return self.resets_at is not None and self.resets_at <= now

    def current(self, now: float) -> QuotaWindow:
        """This window as it stands at `now`: past its reset it is empty again."""
        if not self.is_reset(now):
            return self
        return dataclasses.replace(
            self,
            used_percent=0.0,
            remaining=self.limit,
            status="",
            source=RESET,
            representative=False,
        )

    def exhausted(self, now: float) -> bool:
        """Nothing more goes through until the reset: 100 %, status rejected, or 0 remaining."""
        if not self.blocks or self.is_reset(now):
            return False
        if self.status == REJECTED or self.used_percent >= 100.0:
            return True
        return self.remaining is not None and self.limit is not None and self.limit > 0 and self.remaining <= 0

    def same_reading(self, other: QuotaWindow | None) -> bool:
        """True when a new reading changes nothing a user would see (times of observation aside)."""
        if other is None:
            return False
        return (
            round(self.used_percent, 1) == round(other.used_percent, 1)
            and _same_time(self.resets_at, other.resets_at)
            and self.status == other.status
            and self.remaining == other.remaining
            and self.limit == other.limit
            and self.source == other.source
            and self.representative == other.representative
        )

    def as_dict(self, now: float) -> dict[str, Any]:
        """The `/v0/quota` and event shape of this window at `now`."""
        w = self.current(now)
        return {
            "name": w.name,
            "used_percent": round(w.used_percent, 2),
            "resets_at": w.resets_at,
            "observed_at": w.observed_at,
            "source": w.source,
            "limit": w.limit,
            "remaining": w.remaining,
            "status": w.status or None,
            "window_s": w.window_s,
            "representative": w.representative,
            "exhausted": w.exhausted(now),
        }


_LATEST = 4_102_444_800.0  # 2100-01-01: a reset later than this is a garbled header, not a time
_STATUS_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz_")


def plausible(window: QuotaWindow) -> QuotaWindow:
    """The window as a bounded reading: use within 0..100 %, a reset time that can be shown, and a
    status that is a plain word (header text from an upstream is never passed on as it came)."""
    resets = window.resets_at if window.resets_at is not None and 0 < window.resets_at < _LATEST else None
    status = window.status if len(window.status) <= 32 and set(window.status) <= _STATUS_CHARS else ""
    used = min(100.0, max(0.0, window.used_percent))
    if (resets, status, used) == (window.resets_at, window.status, window.used_percent):
        return window
    return dataclasses.replace(window, resets_at=resets, status=status, used_percent=used)


def _same_time(a: float | None, b: float | None) -> bool:
    """Reset times that differ by under 2 s are one time (relative resets drift with the clock)."""
    if a is None or b is None:
        return a is b
    return abs(a - b) < 2.0
