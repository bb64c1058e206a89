"""A member key: random, long, recognisable by its prefix, and never stored (only its SHA-256)."""

from __future__ import annotations

import datetime as dt
import secrets

KEY_PREFIX = "ppk_"  # tells a member key from a configured client key at a glance (and in logs' redaction)


def new_member_key() -> str:
    """256 random bits: a plain SHA-256 of it is as good as a slow hash, and a lookup is one equality."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def looks_like_member_key(key: str | None) -> bool:
    return bool(key) and key.startswith(KEY_PREFIX)  # type: ignore[union-attr]


def parse_expiry(text: str) -> float:
    """`YYYY-MM-DD` (the key works through that local day) or an ISO date-time; an epoch float."""
    text = text.strip()
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        day = None
    if day is not None and len(text) == 10:
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
        return end.timestamp()
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expires: {text!r} is not a date (YYYY-MM-DD) or an ISO date-time") from None
    return when.timestamp()
