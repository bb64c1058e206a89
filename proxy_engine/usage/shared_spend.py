"""Budget spend shared by the worker processes of one engine, exact at the moment it is read.

With `serve --workers N` a budget must hold across workers: a request finished by one worker
counts for the next request on any other at once, so overspend is bounded by requests already
in flight. A small file in the runtime directory is mapped into every process (`mmap`), one
region per writer: region 0 holds what the supervisor read from the ledger at start, region
i+1 what worker i has added since. A region has one writer only, so no lock is needed: an entry
is written before the count that publishes it, and an 8-byte aligned float is written in one
store. A reader sums a key over all regions; its index of each region only grows.
"""

from __future__ import annotations

import hashlib
import logging
import mmap
import os
import struct
from pathlib import Path

log = logging.getLogger("proxy_engine.shared_spend")

SLOTS = 4096  # keys per region: (period, start, client) pairs, two per client and period
_COUNT = struct.Struct("<Q")
_ENTRY = struct.Struct("<Qd")  # key hash, usd
_REGION = _COUNT.size + SLOTS * _ENTRY.size


def _key_hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


class SharedSpend:
    """Reads every region; writes only its own (`region`)."""

    def __init__(self, path: Path, region: int) -> None:
        self.path = path
        self.region = region
        fd = os.open(path, os.O_RDWR)
        try:
            size = os.fstat(fd).st_size
            self._map = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self.regions = size // _REGION
        if not 0 <= region < self.regions:
            raise ValueError(f"{path} has {self.regions} regions; region {region} does not exist")
        self._index: list[dict[int, int]] = [{} for _ in range(self.regions)]  # hash -> entry offset
        self._seen = [0] * self.regions
        self._hashes: dict[str, int] = {}
        self._full_logged = False

    @staticmethod
    def create(path: Path, regions: int) -> SharedSpend:
        """A fresh, zeroed file (0600) for `regions` writers; the creator writes region 0."""
        tmp = path.with_name(path.name + ".new")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, regions * _REGION)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        return SharedSpend(path, 0)

    def _hash(self, key: str) -> int:
        h = self._hashes.get(key)
        if h is None:
            h = self._hashes[key] = _key_hash(key)
        return h

    def _catch_up(self, r: int) -> dict[int, int]:
        base = r * _REGION
        (count,) = _COUNT.unpack_from(self._map, base)
        index = self._index[r]
        for i in range(self._seen[r], min(count, SLOTS)):
            off = base + _COUNT.size + i * _ENTRY.size
            index[_ENTRY.unpack_from(self._map, off)[0]] = off
        self._seen[r] = count
        return index

    def add(self, key: str, usd: float) -> None:
        h = self._hash(key)
        index = self._catch_up(self.region)
        off = index.get(h)
        if off is not None:
            struct.pack_into("<d", self._map, off + 8, struct.unpack_from("<d", self._map, off + 8)[0] + usd)
            return
        count = self._seen[self.region]
        if count >= SLOTS:
            if not self._full_logged:
                self._full_logged = True
                log.error("shared budget spend is full (%d keys); new spend is counted by the ledger only "
                          "until the engine restarts", SLOTS)  # fmt: skip
            return
        base = self.region * _REGION
        off = base + _COUNT.size + count * _ENTRY.size
        _ENTRY.pack_into(self._map, off, h, usd)
        _COUNT.pack_into(self._map, base, count + 1)  # publishes the entry written above
        index[h] = off
        self._seen[self.region] = count + 1

    def total(self, key: str) -> float:
        h = self._hash(key)
        usd = 0.0
        for r in range(self.regions):
            off = self._catch_up(r).get(h)
            if off is not None:
                usd += struct.unpack_from("<d", self._map, off + 8)[0]
        return usd

    def close(self) -> None:
        self._map.close()
