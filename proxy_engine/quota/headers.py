"""Quota windows from an upstream reply's headers, one reader per header family.

Called once per upstream response (success or error, stream or not). A handful of
case-insensitive lookups decide whether any family is present; only then is anything parsed.
The families (header names checked against the sources named in docs/DESIGN.md):

- Anthropic subscription (Claude logins): `anthropic-ratelimit-unified-{5h,7d}-{utilization,reset,status}`
  (utilization a fraction 0..1, reset epoch seconds), `-unified-status`, `-unified-reset`,
  `-unified-representative-claim` (`five_hour` / `seven_day`).
- Anthropic API: `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`
  (reset RFC 3339).
- Codex / ChatGPT: `x-codex-{primary,secondary}-{used-percent,window-minutes,reset-at}` (reset-at epoch
  seconds; older servers send `reset-after-seconds`).
- OpenAI API: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` (reset a duration like `6m0s`, `12ms`).
- Copilot: `x-quota-snapshot-{premium_interactions,premium_models,chat,completions}` and
  `x-usage-ratelimit-{session,weekly}`, each `ent=..&ov=..&ovPerm=..&rem=<percent left>&rst=<ISO time>`
  (`ent=-1` is unlimited).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import parse_qs

from proxy_engine.quota.window import QuotaWindow, plausible

Headers = Mapping[str, str]  # case-insensitive (aiohttp's CIMultiDictProxy)

_UNIFIED = "anthropic-ratelimit-unified-"
_UNIFIED_WINDOWS = (("5h", "five_hour", 5 * 3600.0), ("7d", "seven_day", 7 * 86400.0))
_ANTHROPIC_API = ("requests", "tokens", "input-tokens", "output-tokens")
_CODEX_SLOTS = ("primary", "secondary")
# Premium requests used up do not stop Copilot: base models (and permitted overage) still answer.
_NOT_BLOCKING = frozenset({"premium_interactions", "premium_models"})
_COPILOT = (
    ("x-quota-snapshot-premium_interactions", "premium_interactions"),
    ("x-quota-snapshot-premium_models", "premium_models"),
    ("x-quota-snapshot-chat", "chat"),
    ("x-quota-snapshot-completions", "completions"),
    ("x-usage-ratelimit-session", "session"),
    ("x-usage-ratelimit-weekly", "weekly"),
)
# One header of each family: when none is there (most replies of keyless or local upstreams), stop.
_SENTINELS = (
    _UNIFIED + "status",
    _UNIFIED + "5h-utilization",
    _UNIFIED + "7d-utilization",
    "anthropic-ratelimit-requests-limit",
    "anthropic-ratelimit-tokens-limit",
    "anthropic-ratelimit-input-tokens-limit",
    "x-codex-primary-used-percent",
    "x-codex-secondary-used-percent",
    "x-ratelimit-limit-requests",
    "x-ratelimit-limit-tokens",
    *(name for name, _ in _COPILOT),
)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def read_headers(headers: Headers, provider: str, credential: str, now: float) -> list[QuotaWindow]:
    """Every quota window these reply headers describe; [] (cheaply) when they describe none."""
    if not any(k in headers for k in _SENTINELS):
        return []
    found: list[QuotaWindow] = []
    for sentinels, reader in _FAMILIES:
        if any(k in headers for k in sentinels):
            found += reader(headers, provider, credential, now)
    return [plausible(w) for w in found]


# -- value parsers: a bad value is skipped, never an exception ----------------------------------------


def number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        n = float(value.strip())
    except ValueError:
        return None
    return n if math.isfinite(n) else None


def epoch(value: str | None) -> float | None:
    """Epoch seconds (or milliseconds), or an RFC 3339 / ISO 8601 time."""
    if value is None or not value.strip():
        return None
    n = number(value)
    if n is not None:
        return n / 1000.0 if n > 1e11 else n
    try:
        return datetime.fromisoformat(value.strip()).timestamp()
    except (ValueError, OverflowError, OSError):
        return None


def duration(value: str | None) -> float | None:
    """`6m0s`, `1h2m3s`, `12ms`, `1.5s` or plain seconds."""
    if value is None:
        return None
    n = number(value)
    if n is not None:
        return max(n, 0.0)
    parts = _DURATION.findall(value.strip())
    if not parts or "".join(a + b for a, b in parts) != value.strip():
        return None
    return sum(float(a) * _UNIT_S[b] for a, b in parts)


def window_label(minutes: float | None, fallback: str) -> str:
    """300 -> "5h", 10080 -> "7d", 90 -> "90m"; the fallback when the length is unknown."""
    if not minutes or minutes <= 0:
        return fallback
    m = int(minutes)
    if m % 1440 == 0:
        return f"{m // 1440}d"
    if m % 60 == 0:
        return f"{m // 60}h"
    return f"{m}m"


# -- the families -------------------------------------------------------------------------------------


def _anthropic_unified(h: Headers, provider: str, credential: str, now: float) -> list[QuotaWindow]:
    overall = (h.get(_UNIFIED + "status") or "").strip().lower()
    claim = (h.get(_UNIFIED + "representative-claim") or "").strip().lower()
    out = []
    for tag, claim_name, seconds in _UNIFIED_WINDOWS:
        util = number(h.get(f"{_UNIFIED}{tag}-utilization"))
        status = (h.get(f"{_UNIFIED}{tag}-status") or "").strip().lower()
        reset = epoch(h.get(f"{_UNIFIED}{tag}-reset"))
        if util is None and not status and reset is None:
            continue
        binding = claim == claim_name
        if binding and overall == "rejected" and not status:
            status = "rejected"
        if reset is None and binding:
            reset = epoch(h.get(_UNIFIED + "reset"))
        used = util * 100.0 if util is not None else (100.0 if status == "rejected" else 0.0)
        out.append(QuotaWindow(provider, credential, tag, used, reset, now, status=status, window_s=seconds,
                               representative=binding))  # fmt: skip
    return out


def _anthropic_api(h: Headers, provider: str, credential: str, now: float) -> list[QuotaWindow]:
    out = []
    for kind in _ANTHROPIC_API:
        base = f"anthropic-ratelimit-{kind}-"
        window = _counted(kind.replace("-", "_"), number(h.get(base + "limit")), number(h.get(base + "remaining")),
                          epoch(h.get(base + "reset")), provider, credential, now)  # fmt: skip
        if window is not None:
            out.append(window)
    return out


def _openai(h: Headers, provider: str, credential: str, now: float) -> list[QuotaWindow]:
    out = []
    for kind in ("requests", "tokens"):
        after = duration(h.get(f"x-ratelimit-reset-{kind}"))
        window = _counted(kind, number(h.get(f"x-ratelimit-limit-{kind}")),
                          number(h.get(f"x-ratelimit-remaining-{kind}")),
                          None if after is None else now + after, provider, credential, now)  # fmt: skip
        if window is not None:
            out.append(window)
    return out


def _counted(
    name: str, limit: float | None, remaining: float | None, reset: float | None,
    provider: str, credential: str, now: float,
) -> QuotaWindow | None:  # fmt: skip
    """A per-minute window given as limit and remaining (Azure sends -1 for "no limit")."""
    if limit is None or remaining is None or limit <= 0 or remaining < 0:
        return None
    used = max(0.0, (limit - remaining) / limit * 100.0)
    return QuotaWindow(provider, credential, name, used, reset, now, limit=limit, remaining=remaining, window_s=60.0)


def _codex(h: Headers, provider: str, credential: str, now: float) -> list[QuotaWindow]:
    out = []
    for slot in _CODEX_SLOTS:
        used = number(h.get(f"x-codex-{slot}-used-percent"))
        if used is None:
            continue
        minutes = number(h.get(f"x-codex-{slot}-window-minutes"))
        reset = epoch(h.get(f"x-codex-{slot}-reset-at"))
        if reset is None:
            after = number(h.get(f"x-codex-{slot}-reset-after-seconds"))
            reset = None if after is None else now + after
        if used == 0 and not minutes and reset is None:
            continue  # an all-zero family carries no window
        out.append(QuotaWindow(provider, credential, window_label(minutes, slot), used, reset, now,
                               window_s=minutes * 60.0 if minutes else None))  # fmt: skip
    return out


def _copilot(h: Headers, provider: str, credential: str, now: float) -> list[QuotaWindow]:
    out = []
    for header, name in _COPILOT:
        raw = h.get(header)
        if not raw:
            continue
        fields = {k: v[0] for k, v in parse_qs(raw.replace(";", "&")).items() if v}
        entitlement, left = number(fields.get("ent")), number(fields.get("rem"))
        if left is None or (entitlement is not None and entitlement < 0) or fields.get("unlimited") == "true":
            continue  # unlimited
        limit = entitlement if entitlement and entitlement > 0 else None
        remaining = None if limit is None else limit * left / 100.0
        out.append(QuotaWindow(provider, credential, name, max(0.0, 100.0 - left), epoch(fields.get("rst")), now,
                               limit=limit, remaining=remaining, blocks=name not in _NOT_BLOCKING))  # fmt: skip
    return out


# Each family with the headers that show it is there (a reply carries one family, rarely two).
_FAMILIES = (
    ((_UNIFIED + "status", _UNIFIED + "5h-utilization", _UNIFIED + "7d-utilization"), _anthropic_unified),
    (tuple(f"anthropic-ratelimit-{k}-limit" for k in _ANTHROPIC_API), _anthropic_api),
    (("x-codex-primary-used-percent", "x-codex-secondary-used-percent"), _codex),
    (("x-ratelimit-limit-requests", "x-ratelimit-limit-tokens"), _openai),
    (tuple(name for name, _ in _COPILOT), _copilot),
)
