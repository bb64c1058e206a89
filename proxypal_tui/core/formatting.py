"""Short, stable renderings of numbers for narrow terminals (80 columns)."""

from __future__ import annotations

import time


def count(n: float | None) -> str:
    """1234 -> '1.2k'; keeps tiles narrow."""
    if n is None:
        return "—"
    n = float(n)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= limit:
            return f"{n / limit:.1f}{suffix}"
    return f"{int(n)}" if n == int(n) else f"{n:.1f}"


def money(usd: float | None) -> str:
    """Dollars at a width that fits a tile; a cost too small to show reads `<$0.0001`, never `$0.0000`."""
    if usd is None:
        return "—"
    if usd >= 100:
        return f"${usd:,.0f}"
    if usd >= 1:
        return f"${usd:.2f}"
    if not usd:
        return "$0"
    return f"${usd:.4f}" if usd >= 0.0001 else "<$0.0001"


def millis(ms: float | None) -> str:
    if ms is None:
        return "—"
    if ms >= 10_000:
        return f"{ms / 1000:.0f}s"
    if ms >= 1000:
        return f"{ms / 1000:.1f}s"
    return f"{ms:.0f}ms"


def percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.1f}%"


def duration(seconds: float | None) -> str:
    """Uptime: '42s', '5m03s', '3h07m', '2d04h'."""
    if seconds is None:
        return "—"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def clock_time(epoch: float | None) -> str:
    """Local wall-clock time of a request, HH:MM:SS."""
    if epoch is None:
        return "—"
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def day_key(epoch: float) -> str:
    """The usage ledger's day key for an instant (local date, YYYY-MM-DD)."""
    return time.strftime("%Y-%m-%d", time.localtime(epoch))


def megabytes(n_bytes: int | None) -> str:
    return "—" if n_bytes is None else f"{n_bytes / 1_048_576:.0f}MB"
