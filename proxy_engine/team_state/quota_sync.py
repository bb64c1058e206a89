"""Quota readings reach every replica: what one replica read from a reply, the others route by.

Each replica's quota ledger hands its new readings here; every 100 ms they are published on
`pp:quota` and kept in the hash `pp:quota:windows` (one field per provider, credential and
window), which a replica reads whole when it starts and when Redis returns. The others merge a
reading where it is newer than theirs, so a window used up on one replica rests the credential
on all of them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging

import redis.asyncio as aioredis

from proxy_engine.quota.ledger import QuotaLedger
from proxy_engine.quota.window import QuotaWindow
from proxy_engine.team_state.link import RedisDown, RedisLink

log = logging.getLogger("proxy_engine.team_state")

CHANNEL = "pp:quota"
HASH = "pp:quota:windows"
_INTERVAL_S = 0.1
_FIELDS = frozenset(f.name for f in dataclasses.fields(QuotaWindow))


def _window(d: object) -> QuotaWindow | None:
    if not isinstance(d, dict) or not {"provider", "credential", "name", "used_percent", "observed_at"} <= set(d):
        return None
    try:
        return QuotaWindow(**{k: v for k, v in d.items() if k in _FIELDS})
    except TypeError:
        return None


class QuotaSync:
    def __init__(self, link: RedisLink, ledger: QuotaLedger) -> None:
        self.link = link
        self.ledger = ledger
        self._changed: dict[tuple[str, str, str], QuotaWindow] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.ledger.on_change = self.changed
        self.link.listen(CHANNEL, self.received)
        self.link.on_recover(self.load)
        self._task = asyncio.get_running_loop().create_task(self._publish_forever(), name="quota-publish")
        try:
            await self.load()
        except RedisDown:
            log.warning("team state: quota readings of the other replicas are read once Redis is back")

    def changed(self, windows: list[QuotaWindow]) -> None:
        for w in windows:
            self._changed[w.key] = w

    async def _publish_forever(self) -> None:
        while True:
            await asyncio.sleep(_INTERVAL_S)
            if not self._changed or not self.link.ok:
                continue
            batch, self._changed = list(self._changed.values()), {}
            rows = [dataclasses.asdict(w) for w in batch]
            fields = {"\x1f".join(w.key): json.dumps(r) for w, r in zip(batch, rows, strict=True)}
            data = json.dumps({"replica": self.link.replica_id, "windows": rows})

            async def send(r: aioredis.Redis, f: dict[str, str] = fields, d: str = data) -> None:
                async with r.pipeline(transaction=False) as pipe:
                    pipe.hset(HASH, mapping=f)
                    pipe.publish(CHANNEL, d)
                    await pipe.execute()

            try:
                await self.link.run(send)
            except RedisDown:
                for w in batch:  # sent with the next batch once Redis is back
                    self._changed.setdefault(w.key, w)

    def received(self, data: bytes) -> None:
        msg = json.loads(data)
        if not isinstance(msg, dict) or msg.get("replica") == self.link.replica_id:
            return
        rows = msg.get("windows")
        if isinstance(rows, list):
            self.ledger.merge_remote([w for w in map(_window, rows) if w is not None])

    async def load(self) -> None:
        """Every replica's last readings, as Redis holds them."""
        stored = await self.link.run(lambda r: r.hgetall(HASH), reconciling=True)
        windows = [_window(json.loads(v)) for v in stored.values()]
        self.ledger.merge_remote([w for w in windows if w is not None])

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
