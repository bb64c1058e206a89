"""Request ids: they name a ledger row, a capture file and `X-ProxyPal-Request-Id`, and sort by time.

32 hex digits: the Unix time in milliseconds (48 bits, UUIDv7's timestamp field, RFC 9562 §5.7)
then 80 random bits from `os.urandom`. The ledger's primary key is this id, so rows written one
after another land on the last b-tree page instead of a random one (a random id cost SQLite about
twice the time per insert, more as the ledger grows). The random part keeps ids unique across
`serve --workers N` processes and team-mode replicas writing in the same millisecond: two of a
million ids made in one millisecond collide with a chance of about 4e-13.
Ledgers and captures written before hold 16 random hex digits; those still name their rows.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

_ID = re.compile(r"[0-9a-f]{32}|[0-9a-f]{16}")  # today's, and the random ids of older ledgers
_RANDOM_BYTES = 10
_BATCH = 400  # random parts read from os.urandom at once: one syscall per 400 ids instead of one each


def _random_parts() -> Iterator[bytes]:
    """Fresh random parts; each is handed out once (a list iterator's `next` is atomic, threads or not)."""
    block = os.urandom(_RANDOM_BYTES * _BATCH)
    return iter([block[i : i + _RANDOM_BYTES] for i in range(0, len(block), _RANDOM_BYTES)])


_parts = _random_parts()


def _forget_parts() -> None:
    """A forked child must not hand out the parent's remaining parts: same millisecond, same id."""
    global _parts
    _parts = _random_parts()


os.register_at_fork(after_in_child=_forget_parts)


def new_request_id(ts: float) -> str:
    """The id of a request that started at `ts` (seconds since the epoch, as `time.time()` gave)."""
    global _parts
    part = next(_parts, None)
    if part is None:
        _parts = _random_parts()
        part = next(_parts)
    return (int(ts * 1000).to_bytes(6, "big") + part).hex()


def is_request_id(text: str) -> bool:
    """Whether `text` is a request id, new or old (so it can safely name a file)."""
    return _ID.fullmatch(text) is not None
