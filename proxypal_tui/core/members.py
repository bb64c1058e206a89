"""The Members screen's data: each member key's row of `GET /v0/usage?group=member` (the engine reads its
ledger and key table), and the budget bar drawn from it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

BAR_WIDTH = 10


@dataclass(frozen=True)
class MemberUsage:
    """One member key this month: who, what it may spend, and what it did."""

    id: str
    name: str
    team: str
    active: bool
    spend_usd: float
    budget_usd: float | None
    requests: int
    errors: int
    models: tuple[str, ...]  # most used first
    last_seen: float | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> MemberUsage:
        models = r.get("models") if isinstance(r.get("models"), dict) else {}
        budget = r.get("monthly_budget_usd")
        return cls(
            id=str(r.get("id") or ""),
            name=str(r.get("name") or "-"),
            team=str(r.get("team") or "-"),
            active=bool(r.get("active")),
            spend_usd=float(r.get("spend_usd") or 0.0),
            budget_usd=float(budget) if isinstance(budget, int | float) else None,
            requests=int(r.get("requests") or 0),
            errors=int(r.get("errors") or 0),
            models=tuple(str(m) for m in models),
            last_seen=float(r["last_seen"]) if isinstance(r.get("last_seen"), int | float) else None,
        )

    @property
    def budget_used(self) -> float | None:
        """Share of the monthly budget spent (may pass 1: requests in flight when it ran out)."""
        if self.budget_usd is None:
            return None
        return self.spend_usd / self.budget_usd if self.budget_usd > 0 else 1.0


def budget_bar(used: float | None, width: int = BAR_WIDTH) -> str:
    """`▇▇▇▁▁▁▁▁▁▁ 31%`; no budget is "no limit"."""
    if used is None:
        return "no limit"
    full = min(width, max(0, math.ceil(used * width - 0.05)))
    return "▇" * full + "▁" * (width - full) + f" {math.floor(used * 100 + 0.5)}%"


@dataclass
class MemberRoster:
    """The last answer; `version` counts answers so the screen redraws only when it changes."""

    members: list[MemberUsage] = field(default_factory=list)
    version: int = 0
    error: str = ""

    def load(self, rows: list[dict[str, Any]]) -> None:
        parsed = [MemberUsage.from_row(r) for r in rows if isinstance(r, dict)]
        self.members = sorted(parsed, key=lambda m: (not m.active, -m.spend_usd, m.name))
        self.error = ""
        self.version += 1

    def failed(self, error: str) -> None:
        self.error = error
        self.version += 1

    def total_spend(self) -> float:
        return sum(m.spend_usd for m in self.members)
