"""OAuth refresh under a distributed lock: one replica refreshes a login, the others take its result.

Providers rotate refresh tokens: the old one stops working once used, so two replicas refreshing
the same login at once leave one of them (and, after a restart, every one) with a dead login.
Before refreshing, a replica takes `pp:oauth:lock:<provider>:<credential>` (SET NX PX; released
only by its holder, in Lua). The holder refreshes and publishes the new token set under
`pp:oauth:tokens:...` (expiring with the access token); every other replica waits for the lock
to go, then adopts that token set (and saves it in its own secret store) instead of refreshing.
Redis therefore holds the team's current login for its lifetime: it must be private (password,
private network), as the PostgreSQL holding the ledger is. With Redis down a replica refreshes
alone, as an embedded engine does.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from proxy_engine.logins.tokens import TokenSet
from proxy_engine.team_state.link import RedisDown, RedisLink

log = logging.getLogger("proxy_engine.team_state")

Key = tuple[str, str]
LOCK_TTL_MS = 30_000  # a holder that dies mid-refresh frees the login after this
_WAIT_S = 45.0
_POLL_S = 0.05
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def _newer(shared: TokenSet | None, current: TokenSet) -> bool:
    """A token set another replica got after the one this replica holds."""
    if shared is None or shared.error or shared.access_token == current.access_token:
        return False
    return (shared.expires_at or 0.0) > (current.expires_at or 0.0)


class SharedRefresh:
    def __init__(self, link: RedisLink) -> None:
        self.link = link
        self._release = link.client.register_script(_RELEASE)

    async def _shared(self, key: Key) -> TokenSet | None:
        raw = await self.link.run(lambda r: r.get(f"pp:oauth:tokens:{key[0]}:{key[1]}"))
        if raw is None:
            return None
        try:
            return TokenSet.from_json(raw)
        except (ValueError, TypeError):
            return None

    async def refresh(
        self,
        key: Key,
        current: TokenSet,
        do_refresh: Callable[[Key, TokenSet], Awaitable[TokenSet]],
        adopt: Callable[[Key, TokenSet], Awaitable[TokenSet]],
    ) -> TokenSet:
        """`do_refresh` on exactly one replica at a time; the others `adopt` what it got."""
        lock = f"pp:oauth:lock:{key[0]}:{key[1]}"
        mine = secrets.token_hex(16)
        deadline = time.monotonic() + _WAIT_S
        while True:
            try:
                shared = await self._shared(key)
                if _newer(shared, current):
                    return await adopt(key, shared)  # type: ignore[arg-type]
                got = await self.link.run(lambda r: r.set(lock, mine, nx=True, px=LOCK_TTL_MS))
            except RedisDown:
                log.warning("team state: Redis unavailable; refreshing %s/%s without the team lock", *key)
                return await do_refresh(key, current)
            if got:
                return await self._refresh_holding(key, lock, mine, current, do_refresh, adopt)
            while time.monotonic() < deadline:  # another replica is refreshing: wait for its result
                await asyncio.sleep(_POLL_S)
                try:
                    if not await self.link.run(lambda r: r.exists(lock)):
                        break
                except RedisDown:
                    break
            else:
                log.warning("team state: the refresh of %s/%s by another replica takes too long; "
                            "refreshing here", *key)  # fmt: skip
                return await do_refresh(key, current)

    async def _refresh_holding(
        self,
        key: Key,
        lock: str,
        mine: str,
        current: TokenSet,
        do_refresh: Callable[[Key, TokenSet], Awaitable[TokenSet]],
        adopt: Callable[[Key, TokenSet], Awaitable[TokenSet]],
    ) -> TokenSet:
        try:
            try:
                shared = await self._shared(key)  # the holder before us may have finished just now
            except RedisDown:
                shared = None
            if _newer(shared, current):
                return await adopt(key, shared)  # type: ignore[arg-type]
            fresh = await do_refresh(key, current)
            if fresh is not current and not fresh.error:
                ttl = max(60, int((fresh.expires_at or time.time() + 3600) - time.time()))
                data = fresh.to_json()
                try:
                    await self.link.run(lambda r: r.set(f"pp:oauth:tokens:{key[0]}:{key[1]}", data, ex=ttl))
                except RedisDown:
                    log.warning("team state: the refreshed login of %s/%s could not be shared", *key)
            return fresh
        finally:
            try:
                await self.link.run(lambda r: self._release(keys=[lock], args=[mine], client=r))  # type: ignore[operator]
            except RedisDown:
                log.warning("team state: the refresh lock of %s/%s is left to expire", *key)
