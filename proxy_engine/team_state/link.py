"""One replica's connection to Redis, and whether it is reachable.

Every caller goes through `RedisLink.run`: a Redis error marks the link degraded (logged once,
shown in `/v0/status` and the stats event) and raises `RedisDown`, so the caller falls back to its
local state. While degraded a probe pings every half second; when Redis answers again the
recovery hooks run (push local deltas, re-read cooldowns) before the link counts as healthy.
The URL may hold a password: it is resolved in a thread, added to the log redactor, and
never logged, stored or echoed (error texts are redacted before they are kept).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from proxy_engine.logs import REDACTOR

log = logging.getLogger("proxy_engine.team_state")

T = TypeVar("T")
PROBE_INTERVAL_S = 0.5
_TIMEOUT_S = 1.0  # a Redis that does not answer within this counts as down for this call


class RedisDown(Exception):
    """Redis cannot be used right now; the caller falls back to local state."""


class RedisLink:
    def __init__(self, url: str, replica_id: str) -> None:
        self.replica_id = replica_id
        self.client: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_timeout=_TIMEOUT_S,
            socket_connect_timeout=_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0),
            decode_responses=False,
        )
        self.ok = False
        self.last_error = ""
        self.degraded_since: float | None = None
        self.reconciled_at: float | None = None
        self._recover_hooks: list[Callable[[], Awaitable[None]]] = []
        self._probe: asyncio.Task[None] | None = None
        self._reconciling = False
        self.epoch = b""  # a random mark this replica saw in Redis; another one means Redis lost its data
        self.lost_data = False  # set for the recovery hooks: Redis came back empty
        self._usable = asyncio.Event()  # set while `ok`: the pub/sub listener waits on it
        self._channels: dict[str, Callable[[bytes], None]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._ending: set[asyncio.Task[None]] = set()  # listeners replaced by one with more channels

    def on_recover(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run `hook` when Redis answers again after an outage (before the link is marked ok)."""
        self._recover_hooks.append(hook)

    async def open(self) -> None:
        """Connect once; an unreachable Redis leaves the replica serving, degraded, and probing."""
        try:
            await asyncio.wait_for(self.client.ping(), _TIMEOUT_S * 2)
            self.epoch = await self._epoch()
            self.ok = True
            self._usable.set()
            log.info("team state: Redis reachable (replica %s)", self.replica_id)
        except (RedisError, OSError, TimeoutError) as e:
            self.mark_down(e)

    async def run(self, call: Callable[[aioredis.Redis], Awaitable[T]], *, reconciling: bool = False) -> T:
        """`call(client)`, or `RedisDown` (and the degraded state) when Redis fails.

        While the link reconciles only the recovery hooks' calls (`reconciling=True`) go through."""
        if not self.ok and not (reconciling and self._reconciling):
            raise RedisDown(self.last_error)
        try:
            return await call(self.client)
        except ResponseError as e:  # Redis answered, but refused the command: this call only
            text = REDACTOR.redact(f"{type(e).__name__}: {e}")[:300]
            log.error("team state: Redis refused a command (%s); this request uses local state", text)
            raise RedisDown(text) from None
        except (RedisError, OSError, TimeoutError) as e:
            self.mark_down(e)
            raise RedisDown(self.last_error) from None

    async def _epoch(self) -> bytes:
        """The mark the first replica set in this Redis's life (a restarted, empty Redis gets a new one)."""
        await self.client.set("pp:epoch", secrets.token_hex(8), nx=True)
        return await self.client.get("pp:epoch") or b""

    def listen(self, channel: str, handler: Callable[[bytes], None]) -> None:
        """Call `handler(message)` for every message on `channel` (from every replica, this one included)."""
        self._channels[channel] = handler
        if self._listener is not None:  # subscribed without this channel: start over with all of them
            self._listener.cancel()
            self._ending.add(self._listener)
            self._listener.add_done_callback(self._ending.discard)
        self._listener = asyncio.get_running_loop().create_task(self._listen_forever(), name="redis-pubsub")

    async def _listen_forever(self) -> None:
        """One pub/sub connection for every channel; after an outage it subscribes again."""
        while True:
            await self._usable.wait()
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*self._channels)
                while True:
                    msg = await pubsub.get_message(timeout=1.0)
                    if msg is None or msg.get("type") != "message":
                        continue
                    channel = msg["channel"].decode() if isinstance(msg["channel"], bytes) else msg["channel"]
                    handler = self._channels.get(channel)
                    if handler is not None:
                        try:
                            handler(msg["data"])
                        except Exception:
                            log.exception("team state: a message on %s could not be handled", channel)
            except (RedisError, OSError, TimeoutError) as e:
                if self.ok:
                    self.mark_down(e)
            finally:
                try:
                    await pubsub.aclose()
                except (RedisError, OSError, TimeoutError) as e:
                    log.debug("team state: closing the pub/sub connection: %s", type(e).__name__)

    def mark_down(self, e: BaseException) -> None:
        text = REDACTOR.redact(f"{type(e).__name__}: {e}")[:300]
        self.last_error = text
        if self.ok or self.degraded_since is None:
            self.degraded_since = time.time()
            log.error("team state: Redis unavailable (%s); serving on local limits until it returns", text)
        self.ok = False
        self._usable.clear()
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(self._probe_until_back(), name="redis-probe")

    async def _probe_until_back(self) -> None:
        while True:
            await asyncio.sleep(PROBE_INTERVAL_S)
            try:
                await self.client.ping()
            except (RedisError, OSError, TimeoutError) as e:
                self.last_error = REDACTOR.redact(f"{type(e).__name__}: {e}")[:300]
                continue
            self._reconciling = True  # requests keep to local state until the hooks are done
            try:
                epoch = await self._epoch()
                self.lost_data, self.epoch = epoch != self.epoch, epoch
                for hook in self._recover_hooks:
                    await hook()
            except (RedisError, OSError, TimeoutError, RedisDown) as e:
                self.last_error = REDACTOR.redact(f"{type(e).__name__}: {e}")[:300]
                continue  # down again mid-reconcile: the next probe tries again
            except Exception:
                log.exception("team state: reconciling with Redis failed; trying again")
                continue
            finally:
                self._reconciling = False
            self.ok = True
            self._usable.set()
            self.degraded_since = None
            self.reconciled_at = time.time()
            log.warning("team state: Redis is back; local spend and cooldowns reconciled")
            return

    def health(self) -> dict[str, object]:
        """`/v0/status` `team` and the stats event: degraded while Redis cannot be used."""
        return {
            "redis": "ok" if self.ok else "degraded",
            "replica": self.replica_id,
            "last_error": "" if self.ok else self.last_error,
            "degraded_since": self.degraded_since,
            "reconciled_at": self.reconciled_at,
        }

    async def close(self) -> None:
        for task in (self._probe, self._listener):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.client.aclose()
