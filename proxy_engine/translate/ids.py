"""Ids and creation timestamps for translated responses."""

from __future__ import annotations

import hashlib
import time
import uuid


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def stable_id(prefix: str, *parts: object) -> str:
    """A deterministic id for providers that give none (Gemini function calls)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return f"{prefix}{digest[:24]}"


def now() -> int:
    return int(time.time())
