"""Usage per member key and per team, straight from the ledger table (either backend, portable SQL)."""

from __future__ import annotations

import time
from typing import Any

from proxy_engine.members.key_admin import key_view
from proxy_engine.storage.database import Database
from proxy_engine.storage.member_keys import MemberKey

_BY_MEMBER = """SELECT member, count(*), sum(CASE WHEN status >= 400 THEN 1 ELSE 0 END),
  CAST(coalesce(sum(input_tokens), 0) AS BIGINT), CAST(coalesce(sum(output_tokens), 0) AS BIGINT),
  coalesce(sum(cost_usd), 0.0), max(ts_start)
  FROM requests WHERE ts_start >= ? AND member IS NOT NULL {only} GROUP BY member"""
_MODELS = """SELECT member, coalesce(model, model_requested, '-'), count(*)
  FROM requests WHERE ts_start >= ? AND member IS NOT NULL {only} GROUP BY 1, 2"""


async def member_usage(db: Database, keys: list[MemberKey], since: float, only: str | None = None) -> list[dict]:
    """One row per key (every key in `keys`, used or not): its limits, spend, requests, models, last seen."""
    where, args = ("AND member = ?", (since, only)) if only else ("", (since,))
    stats = {r[0]: r[1:] for r in await db.fetch(_BY_MEMBER.format(only=where), *args)}
    models: dict[str, dict[str, int]] = {}
    for member, model, n in await db.fetch(_MODELS.format(only=where), *args):
        models.setdefault(member, {})[model] = int(n)
    rows = []
    for k in keys:
        n, errors, tin, tout, cost, last = stats.get(k.id, (0, 0, 0, 0, 0.0, None))
        rows.append({
            **key_view(k), "requests": int(n), "errors": int(errors or 0), "input_tokens": int(tin),
            "output_tokens": int(tout), "spend_usd": round(float(cost), 6), "last_seen": last,
            "models": dict(sorted(models.get(k.id, {}).items(), key=lambda m: -m[1])),
            "allowed_models": None if k.models is None else list(k.models),
        })  # fmt: skip
    return rows


def team_usage(members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The member rows summed per team (members without a team under "-")."""
    teams: dict[str, dict[str, Any]] = {}
    for m in members:
        t = teams.setdefault(m["team"] or "-", {"team": m["team"] or "-", "members": 0, "requests": 0, "errors": 0,
                                                "input_tokens": 0, "output_tokens": 0, "spend_usd": 0.0,
                                                "monthly_budget_usd": 0.0, "last_seen": None})  # fmt: skip
        t["members"] += 1
        for f in ("requests", "errors", "input_tokens", "output_tokens", "spend_usd"):
            t[f] += m[f]
        t["spend_usd"] = round(t["spend_usd"], 6)
        t["monthly_budget_usd"] += m["monthly_budget_usd"] or 0.0
        if m["last_seen"] and (t["last_seen"] is None or m["last_seen"] > t["last_seen"]):
            t["last_seen"] = m["last_seen"]
    return sorted(teams.values(), key=lambda t: t["team"])


def default_since(now: float | None = None) -> float:
    from proxy_engine.usage.budgets import period_start

    return period_start("month", time.time() if now is None else now)
