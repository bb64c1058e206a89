"""Each provider's quota headers and error details, exactly as the real services send them.

Builders for `Script(headers=...)` / `Script(error_details=...)`:
- Anthropic subscription (Claude logins): `anthropic-ratelimit-unified-*`, utilization a fraction
  0..1 and resets in epoch seconds (CLIProxyAPI's Claude rate-limit helper reads these names).
- Anthropic API keys: `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-*`, resets
  RFC 3339 (Anthropic's rate-limit docs).
- Codex / ChatGPT: `x-codex-{primary,secondary}-{used-percent,window-minutes,reset-at}` (codex-rs
  `codex-api/src/rate_limits.rs`).
- OpenAI API: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, resets as `6m0s`/`12ms`.
- Copilot: `x-quota-snapshot-*`, a query string `ent=..&ov=..&ovPerm=..&rem=..&rst=..`.
- Gemini: no headers; a 429 `RESOURCE_EXHAUSTED` whose details name a `google.rpc.QuotaFailure`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def anthropic_unified(
    five_hour: float, seven_day: float, five_hour_reset: float, seven_day_reset: float, *,
    status: str = "allowed", claim: str = "five_hour", five_hour_status: str | None = None,
) -> dict[str, str]:  # fmt: skip
    """A Claude login's reply: utilization as fractions (0.63 is 63 %)."""
    return {
        "anthropic-ratelimit-unified-status": status,
        "anthropic-ratelimit-unified-reset": str(int(five_hour_reset if claim == "five_hour" else seven_day_reset)),
        "anthropic-ratelimit-unified-representative-claim": claim,
        "anthropic-ratelimit-unified-5h-utilization": f"{five_hour:g}",
        "anthropic-ratelimit-unified-5h-reset": str(int(five_hour_reset)),
        "anthropic-ratelimit-unified-5h-status": five_hour_status or ("rejected" if five_hour >= 1 else "allowed"),
        "anthropic-ratelimit-unified-7d-utilization": f"{seven_day:g}",
        "anthropic-ratelimit-unified-7d-reset": str(int(seven_day_reset)),
        "anthropic-ratelimit-unified-7d-status": "rejected" if seven_day >= 1 else "allowed",
    }


def anthropic_api(requests: tuple[int, int], tokens: tuple[int, int], reset: float) -> dict[str, str]:
    """An API key's reply: (limit, remaining) per kind; input and output tokens follow `tokens`."""
    out = {}
    for kind, (limit, remaining) in (("requests", requests), ("tokens", tokens), ("input-tokens", tokens),
                                     ("output-tokens", tokens)):  # fmt: skip
        out[f"anthropic-ratelimit-{kind}-limit"] = str(limit)
        out[f"anthropic-ratelimit-{kind}-remaining"] = str(remaining)
        out[f"anthropic-ratelimit-{kind}-reset"] = _rfc3339(reset)
    return out


def codex(primary: float, secondary: float, primary_reset: float, secondary_reset: float) -> dict[str, str]:
    """A ChatGPT-backend reply: a 5-hour primary and a weekly secondary window, used in percent."""
    return {
        "x-codex-primary-used-percent": f"{primary:g}",
        "x-codex-primary-window-minutes": "300",
        "x-codex-primary-reset-at": str(int(primary_reset)),
        "x-codex-secondary-used-percent": f"{secondary:g}",
        "x-codex-secondary-window-minutes": "10080",
        "x-codex-secondary-reset-at": str(int(secondary_reset)),
    }


def openai_api(requests: tuple[int, int], tokens: tuple[int, int], reset_requests: str = "6m0s",
               reset_tokens: str = "12ms") -> dict[str, str]:  # fmt: skip
    return {
        "x-ratelimit-limit-requests": str(requests[0]),
        "x-ratelimit-remaining-requests": str(requests[1]),
        "x-ratelimit-reset-requests": reset_requests,
        "x-ratelimit-limit-tokens": str(tokens[0]),
        "x-ratelimit-remaining-tokens": str(tokens[1]),
        "x-ratelimit-reset-tokens": reset_tokens,
    }


def copilot(entitlement: int, remaining_percent: float, reset: float) -> dict[str, str]:
    value = f"ent={entitlement}&ov=0.0&ovPerm=false&rem={remaining_percent:g}&rst={quote(_rfc3339(reset), safe='')}"
    unlimited = "ent=-1&ov=0.0&ovPerm=false&rem=100.0&rst="
    return {"x-quota-snapshot-premium_interactions": value, "x-quota-snapshot-chat": unlimited}


def gemini_quota_failure(per_day_limit: int = 250, model: str = "gemini-2.5-flash") -> list[dict[str, Any]]:
    """The details of a free-tier daily-requests 429 (the RetryInfo entry comes from Script.retry_after)."""
    return [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                    "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
                    "quotaDimensions": {"location": "global", "model": model},
                    "quotaValue": str(per_day_limit),
                }
            ],
        },
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [{"description": "Learn more about Gemini API quotas",
                       "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}],
        },
    ]  # fmt: skip
