"""Requests and tokens per minute per scope, held exactly across replicas.

One fixed one-minute window per scope in Redis, on Redis's own clock (`TIME`), so every replica
counts into the same window. `acquire` checks and counts a request in one Lua script: it is
refused when the window already holds `rpm` requests, or `tpm` tokens (counting the request's
estimate). `add_tokens` corrects the window by the real tokens once the request is done. Limits
come from the caller (member keys, clients); 0 means no limit of that kind. While Redis is down a
replica counts locally, so each replica alone still holds the limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from proxy_engine.team_state.link import RedisDown, RedisLink

PREFIX = "pp:rate:"
WINDOW_S = 60

# KEYS[1]: the scope's prefix. ARGV: rpm, tpm, tokens estimate.
# Returns {allowed (1/0), which limit ("rpm"/"tpm"/""), seconds left in the window, window id}.
_ACQUIRE = """
local now = redis.call('TIME')
local window = math.floor(tonumber(now[1]) / 60)
local left = 60 - (tonumber(now[1]) % 60)
local k = KEYS[1] .. window
local rpm, tpm, est = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local req = tonumber(redis.call('HGET', k, 'req') or '0')
local tok = tonumber(redis.call('HGET', k, 'tok') or '0')
if rpm > 0 and req >= rpm then return {0, 'rpm', left, window} end
if tpm > 0 and (tok >= tpm or (est > 0 and tok + est > tpm)) then return {0, 'tpm', left, window} end
redis.call('HINCRBY', k, 'req', 1)
if est > 0 then redis.call('HINCRBY', k, 'tok', est) end
redis.call('EXPIRE', k, 120)
return {1, '', left, window}
"""


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: str = ""  # "rpm" or "tpm" when refused
    retry_after_s: float = 0.0
    window: int = 0  # the window counted into (for `add_tokens`)
    shared: bool = True  # False: decided on this replica's own count (Redis down)


class RateLimiter:
    def __init__(self, link: RedisLink) -> None:
        self.link = link
        self._acquire = link.client.register_script(_ACQUIRE)
        self._local: dict[str, tuple[int, int, int]] = {}  # scope -> (window, requests, tokens)

    async def acquire(self, scope: str, rpm: int = 0, tpm: int = 0, tokens: int = 0) -> RateDecision:
        """Count one request for `scope`, or refuse it (with seconds until the window turns)."""
        if not rpm and not tpm:
            return RateDecision(True)
        try:
            got = await self.link.run(
                lambda r: self._acquire(keys=[f"{PREFIX}{scope}:"], args=[rpm, tpm, max(0, tokens)], client=r)  # type: ignore[operator]
            )
        except RedisDown:
            return self._acquire_locally(scope, rpm, tpm, tokens)
        limit = got[1].decode() if isinstance(got[1], bytes) else str(got[1])
        return RateDecision(bool(int(got[0])), limit, float(got[2]), int(got[3]))

    def _acquire_locally(self, scope: str, rpm: int, tpm: int, tokens: int) -> RateDecision:
        now = time.time()
        window = int(now // WINDOW_S)
        left = WINDOW_S - now % WINDOW_S
        w, req, tok = self._local.get(scope, (window, 0, 0))
        if w != window:
            req, tok = 0, 0
        if rpm and req >= rpm:
            return RateDecision(False, "rpm", left, window, shared=False)
        if tpm and (tok >= tpm or (tokens > 0 and tok + tokens > tpm)):
            return RateDecision(False, "tpm", left, window, shared=False)
        self._local[scope] = (window, req + 1, tok + max(0, tokens))
        return RateDecision(True, "", left, window, shared=False)

    async def add_tokens(self, scope: str, decision: RateDecision, tokens: int) -> None:
        """Count the request's real tokens (minus the estimate it was admitted with) in its window."""
        if not tokens or not decision.allowed:
            return
        if not decision.shared:
            w, req, tok = self._local.get(scope, (decision.window, 0, 0))
            if w == decision.window:
                self._local[scope] = (w, req, tok + tokens)
            return
        key = f"{PREFIX}{scope}:{decision.window}"
        try:
            await self.link.run(lambda r: r.hincrby(key, "tok", tokens))
        except RedisDown:
            return  # the window is a minute long: a correction Redis missed is not worth keeping

    async def release(self, scope: str, decision: RateDecision) -> None:
        """Take back a request counted by `acquire` that was refused for another reason (a budget)."""
        if not decision.allowed:
            return
        if not decision.shared:
            w, req, tok = self._local.get(scope, (decision.window, 0, 0))
            if w == decision.window and req > 0:
                self._local[scope] = (w, req - 1, tok)
            return
        key = f"{PREFIX}{scope}:{decision.window}"
        try:
            await self.link.run(lambda r: r.hincrby(key, "req", -1))
        except RedisDown:
            return  # the window is a minute long: one request too many in it is not worth keeping
