"""Between two observations, count what went through against a window's known limit.

A reply without quota headers (a backend that sends them only sometimes, or an upstream
that reports quota only when it refuses) still used the credential's quota. For windows whose
limit and remaining are known, that request and its tokens are taken off `remaining` and the
window is marked `estimated` until the next observation replaces it. Windows known only as a
percentage (subscription windows) have no unit to count in and keep their observed figure.
"""

from __future__ import annotations

import dataclasses

from proxy_engine.quota.window import ESTIMATED, QuotaWindow
from proxy_engine.usage.tokens import Usage


def spent_on(window_name: str, usage: Usage | None) -> float | None:
    """What one finished request took from a window of this name; None for windows counted otherwise."""
    if window_name == "requests":
        return 1.0
    if usage is None:
        return None
    if window_name == "tokens":
        return float(usage.total)
    if window_name == "input_tokens":
        return float(usage.input_tokens)
    if window_name == "output_tokens":
        return float(usage.output_tokens)
    return None


def estimate(window: QuotaWindow, usage: Usage | None, now: float) -> QuotaWindow | None:
    """The window after one more request, or None when it cannot be estimated (or has reset)."""
    if window.limit is None or window.remaining is None or window.limit <= 0 or window.is_reset(now):
        return None
    spent = spent_on(window.name, usage)
    if not spent:
        return None
    remaining = max(0.0, window.remaining - spent)
    used = (window.limit - remaining) / window.limit * 100.0
    return dataclasses.replace(window, remaining=remaining, used_percent=used, source=ESTIMATED)
