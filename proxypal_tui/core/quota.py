"""What the quota bars and the dashboard's quota tile draw: every credential's windows (headless).

Loaded whole from `GET /v0/quota`, then kept current by `quota.updated` events (each carries
all windows of one credential). `quota.alert` events are kept for the toasts. A window past its
reset is drawn as reset, whatever the last reading said.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from proxy_engine.protocol import QuotaAlert, QuotaUpdated
from proxypal_tui.core import formatting as fmt

BAR_CELLS = 5


@dataclass(frozen=True)
class QuotaBar:
    """One window of one credential, as the engine reported it."""

    name: str
    used_percent: float
    resets_at: float | None
    observed_at: float | None
    source: str

    def reset(self, now: float) -> bool:
        return self.resets_at is not None and self.resets_at <= now

    def used(self, now: float) -> float:
        return 0.0 if self.reset(now) else self.used_percent


def _opt_float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _bar(d: dict[str, Any]) -> QuotaBar:
    return QuotaBar(
        name=str(d.get("name") or "?"),
        used_percent=_opt_float(d.get("used_percent")) or 0.0,
        resets_at=_opt_float(d.get("resets_at")),
        observed_at=_opt_float(d.get("observed_at")),
        source=str(d.get("source") or ""),
    )


def cells(used_percent: float, width: int = BAR_CELLS) -> str:
    """`▇▇▇▇▁` for 63 % of five cells: a cell is filled once a twentieth of it is used."""
    full = min(width, max(0, math.ceil(used_percent / 100.0 * width - 0.05)))
    return "▇" * full + "▁" * (width - full)


def reset_clock(resets_at: float, now: float) -> str:
    """14:20 today, `Mon 09:00` beyond a day."""
    pattern = "%H:%M" if resets_at - now < 86400 else "%a %H:%M"
    return time.strftime(pattern, time.localtime(resets_at))


def bar_line(bar: QuotaBar, now: float) -> str:
    """`5h ▇▇▇▇▁ 63% · resets 14:20 · observed 40s ago`, or `… · estimated`, or `… · reset`."""
    used = bar.used(now)
    text = f"{bar.name} {cells(used)} {math.floor(used + 0.5)}%"
    if bar.reset(now):
        return text + " · reset"
    if bar.resets_at is not None:
        text += f" · resets {reset_clock(bar.resets_at, now)}"
    if bar.source == "estimated":
        return text + " · estimated"
    if bar.observed_at is not None:
        text += f" · observed {fmt.duration(now - bar.observed_at)} ago"
    return text


@dataclass(frozen=True)
class Tightest:
    """The most used window across every credential, for the dashboard tile."""

    provider: str
    credential: str
    bar: QuotaBar

    def text(self, now: float) -> str:
        """`Tightest quota: 81% ▇▇▇▇▇ requests, resets in 30s · openai/env:KEY` (whose last: it can be cut)."""
        used = math.floor(self.bar.used(now) + 0.5)
        left = f", resets in {fmt.duration(self.bar.resets_at - now)}" if self.bar.resets_at else ""
        return (f"Tightest quota: {used}% {cells(self.bar.used(now))} {self.bar.name}{left}"
                f" · {self.provider}/{self.credential}")  # fmt: skip


@dataclass
class QuotaBoard:
    windows: dict[tuple[str, str], list[QuotaBar]] = field(default_factory=dict)
    alerts: deque[QuotaAlert] = field(default_factory=lambda: deque(maxlen=50))
    version: int = 0
    loads: int = 0

    def load(self, answer: dict[str, Any]) -> None:
        """Replace everything from a `/v0/quota` answer."""
        fresh: dict[tuple[str, str], list[QuotaBar]] = {}
        for c in answer.get("credentials") or []:
            if isinstance(c, dict) and c.get("windows"):
                key = (str(c.get("provider") or ""), str(c.get("credential") or ""))
                fresh[key] = [_bar(w) for w in c["windows"] if isinstance(w, dict)]
        self.windows = fresh
        self.loads += 1
        self.version += 1

    def updated(self, ev: QuotaUpdated) -> None:
        bars = sorted((_bar(w) for w in ev.windows), key=lambda b: (-b.used_percent, b.name))
        self.windows[(ev.provider, ev.credential)] = bars
        self.version += 1

    def alert(self, ev: QuotaAlert) -> None:
        self.alerts.append(ev)

    def of(self, provider: str, credential: str) -> list[QuotaBar]:
        return self.windows.get((provider, credential), [])

    def tightest(self, now: float) -> Tightest | None:
        best: Tightest | None = None
        for (provider, credential), bars in sorted(self.windows.items()):
            for bar in bars:
                if best is None or bar.used(now) > best.bar.used(now):
                    best = Tightest(provider, credential, bar)
        return best
