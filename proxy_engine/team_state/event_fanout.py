"""Each replica's events go to the team; each replica passes the others' on to its team subscribers.

A tap on the bus collects this replica's events (already tagged `replica`), and every 50 ms one
message with the batch's encoded lines is published on `pp:events`. Each replica hands the
lines of the others to its subscribers that asked for the team view (`tail --team` sends
`{"team": true}` on the socket); a plain subscriber sees only its own replica, as before. While
Redis is down the batches are dropped (the local view and the ledger keep everything).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from proxy_engine.events import EventBus
from proxy_engine.protocol import HELLO, encode_event
from proxy_engine.team_state.link import RedisDown, RedisLink

log = logging.getLogger("proxy_engine.team_state")

CHANNEL = "pp:events"
_INTERVAL_S = 0.05
_MAX_BATCH = 2000  # events per replica waiting for a publish; older ones are dropped past it


class EventFanout:
    def __init__(self, link: RedisLink, bus: EventBus) -> None:
        self.link = link
        self.bus = bus
        self._batch: list[bytes] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.bus.add_tap(self.tap)
        self.link.listen(CHANNEL, self.received)
        self._task = asyncio.get_running_loop().create_task(self._publish_forever(), name="event-fanout")

    def tap(self, type_: str, fields: dict[str, Any]) -> None:
        if type_ == HELLO or not self.link.ok:
            return
        try:
            self._batch.append(encode_event(type_, fields, time.time()))
        except (TypeError, ValueError) as e:
            log.error("event %s not sent to the team: it cannot be encoded (%s)", type_, e)
            return
        if len(self._batch) > _MAX_BATCH:
            del self._batch[: len(self._batch) - _MAX_BATCH]

    async def _publish_forever(self) -> None:
        while True:
            await asyncio.sleep(_INTERVAL_S)
            if not self._batch:
                continue
            batch, self._batch = self._batch, []
            data = json.dumps({"replica": self.link.replica_id, "lines": [b.decode() for b in batch]})
            try:
                await self.link.run(lambda r, d=data: r.publish(CHANNEL, d))
            except RedisDown:
                continue

    def received(self, data: bytes) -> None:
        msg = json.loads(data)
        if not isinstance(msg, dict) or msg.get("replica") == self.link.replica_id:
            return
        lines = msg.get("lines")
        if isinstance(lines, list):
            self.bus.relay_team([line.encode() for line in lines if isinstance(line, str)])

    async def close(self) -> None:
        self.bus.remove_tap(self.tap)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
