"""The one error a store raises when its database cannot be reached: callers keep their data and retry."""

from __future__ import annotations


class StorageUnavailable(Exception):
    """The database is down or unreachable (the message never carries the connection URL)."""
