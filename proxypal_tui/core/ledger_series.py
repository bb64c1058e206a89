"""The dashboard's per-minute charts and today's distribution, rebuilt from the ledger (`/v0/history`).

The engine's `stats` count only since it started, so after a restart (or on attach) the charts would
start again from zero. The ledger keeps every request: each usage load asks it for the last hour per
minute and for today's split by provider and model; live events then add to today's split until the
next load replaces it, as the Today tiles do.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from proxy_engine.protocol import RequestFinished
from proxypal_tui.core import formatting as fmt
from proxypal_tui.core.api import ApiError, ManagementClient

MinuteRow = tuple[float, float, float]  # requests, tokens, cost


@dataclass
class LedgerSeries:
    day: str  # the local day the split counts (fmt.day_key)
    minutes: dict[int, MinuteRow] = field(default_factory=dict)  # minute epoch -> row
    providers: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)

    @classmethod
    def from_history(
        cls,
        day: str,
        minute_rows: list[dict[str, Any]],
        provider_rows: list[dict[str, Any]],
        model_rows: list[dict[str, Any]],
    ) -> LedgerSeries:
        """From `/v0/history?by=minute` and today's `by=day&group=provider|model` rows; odd rows are skipped."""
        minutes: dict[int, MinuteRow] = {}
        for row in minute_rows:
            period = row.get("period")
            if isinstance(period, int | float) and not isinstance(period, bool):
                tokens = float(row.get("input_tokens") or 0) + float(row.get("output_tokens") or 0)
                minutes[int(period) // 60 * 60] = (float(row.get("requests") or 0), tokens,
                                                   float(row.get("cost_usd") or 0.0))  # fmt: skip
        return cls(day, minutes, _counts(provider_rows, "provider", skip="-"), _counts(model_rows, "model"))

    def fold(self, ev: RequestFinished) -> None:
        """A live request counts in today's split at once."""
        if fmt.day_key(ev.ts_start or ev.ts) != self.day:
            return
        if ev.provider:
            self.providers[ev.provider] += 1
        self.models[ev.model or ev.model_requested or "-"] += 1


def _counts(rows: list[dict[str, Any]], key: str, skip: str = "") -> Counter[str]:
    out: Counter[str] = Counter()
    for row in rows:
        name = row.get(key)
        if isinstance(name, str) and name and name != skip:
            out[name] += int(row.get("requests") or 0)
    return out


async def ledger_series(api: ManagementClient, now: float, span_s: float = 3600) -> LedgerSeries | None:
    """Ask the ledger; None when it cannot answer (an older engine without `by=minute`, or none)."""
    t = time.localtime(now)
    midnight = time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1))
    try:
        minutes = await api.history("minute", "", since=now - span_s)
        providers = await api.history("day", "provider", since=midnight)
        models = await api.history("day", "model", since=midnight)
        rows = [list(answer.get("rows") or []) for answer in (minutes, providers, models)]
    except (ApiError, AttributeError, TypeError):
        return None
    return LedgerSeries.from_history(fmt.day_key(now), *rows)
