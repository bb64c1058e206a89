"""How much quota a credential has to spend, for the `headroom` strategy and the `max_used_percent` ceiling.

A window's headroom is its unused fraction divided by the fraction of the window still to
run: 1.0 is on pace, above 1 there is quota that resets before it could be used, below 1 the
credential is spending faster than its window refills. A credential's headroom is that of its
tightest window. A window of unknown length (or without a reset time) counts its unused
fraction alone. A credential with no readings comes first (`UNREAD`), so its quota gets read
(a fresh account usually has all of it).
"""

from __future__ import annotations

from collections.abc import Iterable

from proxy_engine.quota.window import QuotaWindow

_MIN_LEFT = 0.02  # a window about to reset is not infinitely attractive
UNREAD = 1e9  # the headroom of a credential with no readings


def headroom(windows: Iterable[QuotaWindow], now: float) -> float:
    scores = []
    for w in windows:
        w = w.current(now)
        unused = max(0.0, 1.0 - w.used_percent / 100.0)
        if w.resets_at is not None and w.window_s:
            left = min(1.0, max(_MIN_LEFT, (w.resets_at - now) / w.window_s))
            scores.append(unused / left)
        else:
            scores.append(unused)
    return min(scores) if scores else UNREAD


def used_percent(windows: Iterable[QuotaWindow], now: float) -> float | None:
    """The highest use of any window now; None with no readings."""
    return max((w.current(now).used_percent for w in windows), default=None)


def blocked_until(windows: Iterable[QuotaWindow], now: float) -> float | None:
    """When an exhausted credential can be used again (its last exhausted window resets); None if usable."""
    untils = [w.resets_at for w in windows if w.resets_at is not None and w.exhausted(now)]
    return max(untils) if untils else None
