"""Cooldowns reach every replica at once, through Redis pub/sub (quota readings: `quota_sync.py`).

A replica that cools a credential (or clears a cooldown) stores it as before (its table:
PostgreSQL in team mode) and publishes it on `pp:cooldowns`; the others mirror it into their
in-memory view, which `CredentialPool.pick` reads, so they skip the credential within
milliseconds instead of at their next table read. After a Redis outage each replica re-reads
the table, so nothing published meanwhile is missed.
"""

from __future__ import annotations

import asyncio
import json
import logging

from proxy_engine.credentials.cooldowns import Cooldown, CooldownStore, Key
from proxy_engine.team_state.link import RedisDown, RedisLink

log = logging.getLogger("proxy_engine.team_state")

CHANNEL = "pp:cooldowns"


class CooldownSync:
    def __init__(self, link: RedisLink, store: CooldownStore) -> None:
        self.link = link
        self.store = store
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self.store.on_change = self.changed
        self.link.listen(CHANNEL, self.received)
        self.link.on_recover(self.store.refresh)

    def changed(self, cooldown: Cooldown | None, key: Key) -> None:
        """Called by the store on every local change: publish it without waiting."""
        if not self.link.ok:
            return  # the others re-read the table when Redis is back
        body = {"replica": self.link.replica_id, "key": list(key),
                "cooldown": None if cooldown is None else [cooldown.until, cooldown.reason, cooldown.status,
                                                           cooldown.failures]}  # fmt: skip
        data = json.dumps(body)
        task = asyncio.get_running_loop().create_task(self._publish(data), name="cooldown-publish")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, data: str) -> None:
        try:
            await self.link.run(lambda r: r.publish(CHANNEL, data))
        except RedisDown:
            return  # degraded; the recovery re-read covers it

    def received(self, data: bytes) -> None:
        msg = json.loads(data)
        if not isinstance(msg, dict) or msg.get("replica") == self.link.replica_id:
            return
        key = msg.get("key")
        if not (isinstance(key, list) and len(key) == 3 and all(isinstance(k, str) for k in key)):
            return
        provider, credential, model = key
        c = msg.get("cooldown")
        if c is None:
            self.store.apply_remote(None, (provider, credential, model))
            return
        until, reason, status, failures = c
        self.store.apply_remote(
            Cooldown(provider, credential, model, float(until), str(reason), int(status), int(failures)),
            (provider, credential, model),
        )

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
