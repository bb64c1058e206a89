"""Ids and creation timestamps for translated responses."""

from __future__ import annotations

import hashlib
import os
import time


def new_id(prefix: str) -> str:
    """24 random hex digits after `prefix` (os.urandom directly: uuid4 costs five times as much, and
    every translated reply and stream takes one or more)."""
    return prefix + os.urandom(12).hex()


def stable_id(prefix: str, *parts: object) -> str:
    """A deterministic id for providers that give none (Gemini function calls)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return f"{prefix}{digest[:24]}"


def now() -> int:
    return int(time.time())
