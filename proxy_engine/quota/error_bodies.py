"""Quota windows from a Gemini 429's error body: `google.rpc.QuotaFailure` and `google.rpc.RetryInfo`.

Google sends no quota headers. A 429 `RESOURCE_EXHAUSTED` names each violated quota
(`quotaId` such as `GenerateRequestsPerDayPerProjectPerModel-FreeTier`, `quotaValue` the limit)
and how long to wait (`retryDelay: "22s"`). Each violation becomes an exhausted window:
per-minute ones reset after the retry delay, per-day ones at midnight Pacific time (when the
Gemini API's daily quotas reset), or after the retry delay where that time zone is unknown.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from proxy_engine.quota.headers import duration, number
from proxy_engine.quota.window import REJECTED, QuotaWindow, plausible

log = logging.getLogger("proxy_engine.quota")
_QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_PERIODS = (("PerDay", "day"), ("PerMinute", "minute"), ("PerHour", "hour"))
_PERIOD_S = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}


def read_error_body(body: bytes, provider: str, credential: str, now: float) -> list[QuotaWindow]:
    """The exhausted windows a Google error body names; [] for any other body (without parsing it)."""
    if b"QuotaFailure" not in body:
        return []
    try:
        error = json.loads(body).get("error")
        details = error.get("details") if isinstance(error, dict) else None
    except (ValueError, AttributeError, RecursionError):
        return []
    if not isinstance(details, list):
        return []
    delay = None
    violations: list[dict[str, Any]] = []
    for d in details:
        if not isinstance(d, dict):
            continue
        if d.get("@type") == _RETRY_INFO and isinstance(d.get("retryDelay"), str):
            delay = duration(d["retryDelay"])
        elif d.get("@type") == _QUOTA_FAILURE and isinstance(d.get("violations"), list):
            violations += [v for v in d["violations"] if isinstance(v, dict)]
    out: dict[str, QuotaWindow] = {}
    for v in violations:
        quota_id = str(v.get("quotaId") or v.get("quotaMetric") or "")
        name, period = _name(quota_id)
        limit = number(str(v["quotaValue"])) if v.get("quotaValue") is not None else None
        reset = _reset(period, delay, now)
        out[name] = QuotaWindow(provider, credential, name, 100.0, reset, now, limit=limit,
                                remaining=0.0 if limit else None, status=REJECTED,
                                window_s=_PERIOD_S.get(period))  # fmt: skip
    return [plausible(w) for w in out.values()]


def _name(quota_id: str) -> tuple[str, str]:
    """`GenerateRequestsPerDayPerProjectPerModel-FreeTier` -> ("requests/day", "day")."""
    lowered = quota_id.lower()
    what = "input_tokens" if "inputtoken" in lowered else "tokens" if "token" in lowered else "requests"
    period = next((p for marker, p in _PERIODS if marker in quota_id), "window")
    return f"{what}/{period}", period


def _reset(period: str, delay: float | None, now: float) -> float | None:
    if period == "day":
        midnight = _pacific_midnight_after(now)
        if midnight is not None:
            return midnight
    if delay is not None:
        return now + delay
    return now + _PERIOD_S[period] if period in _PERIOD_S else None


def _pacific_midnight_after(now: float) -> float | None:
    try:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    except ImportError:  # pragma: no cover - always there on 3.11
        return None
    try:
        zone = ZoneInfo("America/Los_Angeles")
    except ZoneInfoNotFoundError:
        log.debug("no tz database: a Gemini daily quota resets after its retry delay here")
        return None
    local = datetime.fromtimestamp(now, zone)
    return (local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)).timestamp()
