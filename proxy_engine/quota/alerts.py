"""`quota.alert` thresholds: each window alerts once per threshold it crosses, until it falls below again.

A window that resets (or is read lower) re-arms the thresholds it is now under, so the next
period alerts afresh. Windows read from the store at start-up are taken as already alerted,
so a restart does not repeat yesterday's alerts.
"""

from __future__ import annotations

from collections.abc import Sequence

from proxy_engine.quota.window import QuotaWindow

Key = tuple[str, str, str]


class QuotaAlerts:
    def __init__(self, thresholds: Sequence[float] = (80.0, 95.0)) -> None:
        self.thresholds = sorted(set(thresholds))
        self._reached: dict[Key, float] = {}  # the highest threshold alerted for each window

    def configure(self, thresholds: Sequence[float]) -> None:
        self.thresholds = sorted(set(thresholds))

    def seed(self, window: QuotaWindow, now: float) -> None:
        """A window loaded at start-up: note what it already reached, without alerting."""
        self.crossed(window.current(now))

    def crossed(self, window: QuotaWindow) -> float | None:
        """The highest threshold this reading newly reached, or None."""
        reached = [t for t in self.thresholds if window.used_percent >= t]
        top = reached[-1] if reached else None
        before = self._reached.get(window.key)
        if top is None:
            self._reached.pop(window.key, None)
            return None
        self._reached[window.key] = top
        return top if before is None or top > before else None
