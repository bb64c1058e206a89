"""Spend counters per scope, shared by every replica: check-and-reserve, then settle.

A counter is one Redis hash per (scope, period start): `spent` (settled micro-dollars, integers so
totals are exact) and `held:<replica>` (what that replica's in-flight requests have reserved).
`reserve` checks every scope of a request and reserves its estimate in all of them in one Lua
script, so two replicas can never both take the last dollar: a request is refused once
`spent + held + estimate > limit` (or `spent >= limit`). Overspend is therefore bounded by what
in-flight requests cost beyond their estimates, never by the number of replicas or timing.
`settle` moves the estimate from `held` to the real cost in `spent`.

Holds are per replica, so a replica that restarts (its requests gone) clears its own holds, and
the holds of a replica that stopped renewing its `pp:alive:<replica>` mark (every 3 s, expiring
after 10 s: it was killed) no longer count.
While Redis is down, spend is counted locally (`pending`) and checked against the last total
seen plus that; `reconcile` pushes it when Redis returns (or, when Redis lost its data, seeds
the counter from the ledger, which already holds those requests). A counter Redis lost is seeded
by the first replica that reconciles, from the ledger as that replica reads it: a request another
replica finished in the same moment and has not written to the ledger yet is missing from it
until the period ends (the ledger itself, and `/v0/usage`, keep it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from proxy_engine.team_state.link import RedisDown, RedisLink

log = logging.getLogger("proxy_engine.team_state")

MICRO = 1_000_000
ALIVE_TTL_S = 10
ALIVE_EVERY_S = 3.0
PREFIX = "pp:spend:"

# KEYS: the counters. ARGV: estimate, replica, ttl, then per key its limit and its seed (both µUSD).
# Holds of a replica whose `pp:alive:<replica>` mark has expired (it died) are not counted.
# Returns {0} when reserved, else {index of the first full counter, spent, held}.
_RESERVE = """
local est = tonumber(ARGV[1])
local field = 'held:' .. ARGV[2]
local ttl = tonumber(ARGV[3])
for i, k in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 + 2 * i])
  redis.call('HSETNX', k, 'spent', ARGV[3 + 2 * i])
  local spent = tonumber(redis.call('HGET', k, 'spent'))
  local held = 0
  local all = redis.call('HGETALL', k)
  for j = 1, #all, 2 do
    local name = all[j]
    if string.sub(name, 1, 5) == 'held:' and redis.call('EXISTS', 'pp:alive:' .. string.sub(name, 6)) == 1 then
      held = held + tonumber(all[j + 1])
    end
  end
  if spent >= limit or (est > 0 and spent + held + est > limit) then
    return {i, spent, held}
  end
end
for _, k in ipairs(KEYS) do
  redis.call('HINCRBY', k, field, est)
  redis.call('EXPIRE', k, ttl)
end
return {0}
"""

# KEYS: the counters. ARGV: estimate held, real cost, replica, then per key its seed. A hold never
# goes below zero (Redis may have restarted and lost it); a counter it lost is seeded first.
_SETTLE = """
local field = 'held:' .. ARGV[3]
local spent = {}
for i, k in ipairs(KEYS) do
  redis.call('HSETNX', k, 'spent', ARGV[3 + i])
  local held = redis.call('HINCRBY', k, field, 0 - tonumber(ARGV[1]))
  if held <= 0 then redis.call('HDEL', k, field) end
  spent[i] = redis.call('HINCRBY', k, 'spent', ARGV[2])
end
return spent
"""


def micro(usd: float) -> int:
    return max(0, round(usd * MICRO))


@dataclass(frozen=True)
class Counter:
    """One scope in one period, with its limit (`seed`: the spend known locally when Redis has none)."""

    key: str
    limit_usd: float
    seed_usd: float
    ttl_s: int


@dataclass
class Reservation:
    counters: list[Counter]
    estimate: int  # µUSD held in each counter
    in_redis: bool  # False: made on local state while Redis was down


@dataclass(frozen=True)
class Refusal:
    counter: Counter
    spent_usd: float


@dataclass
class SpendCounters:
    """The replica's side of the shared counters (one per engine)."""

    link: RedisLink
    last_seen: dict[str, int] = field(default_factory=dict)  # key -> spent + held, at the last answer
    pending: dict[str, int] = field(default_factory=dict)  # key -> µUSD settled while Redis was down
    holding: dict[str, int] = field(default_factory=dict)  # key -> µUSD this replica holds in Redis now
    _reserve: object = None
    _settle: object = None

    def __post_init__(self) -> None:
        self._reserve = self.link.client.register_script(_RESERVE)
        self._settle = self.link.client.register_script(_SETTLE)

    async def reserve(self, counters: list[Counter], estimate_usd: float) -> Reservation | Refusal:
        """Reserve `estimate_usd` in every counter, or say which one is full."""
        est = micro(estimate_usd)
        args: list[object] = [est, self.link.replica_id, max(c.ttl_s for c in counters)]
        for c in counters:
            args += [micro(c.limit_usd), micro(c.seed_usd)]
        keys = [c.key for c in counters]
        try:
            got = await self.link.run(lambda r: self._reserve(keys=keys, args=args, client=r))  # type: ignore[operator]
        except RedisDown:
            return self._reserve_locally(counters, est)
        if int(got[0]) != 0:
            c = counters[int(got[0]) - 1]
            self.last_seen[c.key] = int(got[1]) + int(got[2])
            return Refusal(c, int(got[1]) / MICRO)
        for k in keys:
            self.holding[k] = self.holding.get(k, 0) + est
        return Reservation(counters, est, in_redis=True)

    def _reserve_locally(self, counters: list[Counter], est: int) -> Reservation | Refusal:
        """Redis down: the last team total seen, plus what this replica spent and holds since."""
        for c in counters:
            known = max(self.last_seen.get(c.key, 0), micro(c.seed_usd))
            spent = known + self.pending.get(c.key, 0)
            if spent >= micro(c.limit_usd) or (est > 0 and spent + est > micro(c.limit_usd)):
                return Refusal(c, spent / MICRO)
        return Reservation(counters, est, in_redis=False)

    async def settle(self, res: Reservation, cost_usd: float) -> list[float] | None:
        """Move the reservation to the real cost: each counter's spend after it (USD), or None when
        Redis is down (then the cost is kept locally and pushed later)."""
        cost = micro(cost_usd)
        keys = [c.key for c in res.counters]
        if res.in_redis:
            for k in keys:
                left = self.holding.get(k, 0) - res.estimate
                if left > 0:
                    self.holding[k] = left
                else:
                    self.holding.pop(k, None)
        args = [
            res.estimate if res.in_redis else 0,
            cost,
            self.link.replica_id,
            *(micro(c.seed_usd) for c in res.counters),
        ]
        try:
            got = await self.link.run(lambda r: self._settle(keys=keys, args=args, client=r))  # type: ignore[operator]
        except RedisDown:
            for k in keys:
                self.pending[k] = self.pending.get(k, 0) + cost
            return None
        spent = [int(x) for x in got]
        for k, v in zip(keys, spent, strict=True):
            self.last_seen[k] = v
        return [v / MICRO for v in spent]

    async def keep_alive(self) -> None:
        """Renew this replica's mark for as long as it runs (its holds count only while it is there)."""
        mark = f"pp:alive:{self.link.replica_id}"
        while True:
            with contextlib.suppress(RedisDown):  # degraded: the probe brings the link back, the next beat renews
                await self.link.run(lambda r: r.set(mark, "1", ex=ALIVE_TTL_S))
            await asyncio.sleep(ALIVE_EVERY_S)

    async def clear_own_holds(self) -> None:
        """At start: this replica has nothing in flight, so holds left under its name are stale."""
        field_ = f"held:{self.link.replica_id}"

        async def scan(r: aioredis.Redis) -> None:
            async for key in r.scan_iter(match=PREFIX + "*", count=500):
                await r.hdel(key, field_)

        await self.link.run(scan)

    async def reconcile(self, seed: Callable[[str], Awaitable[int | None]]) -> None:
        """Redis is back: push the spend counted locally, and set this replica's holds to what it holds.

        When Redis lost its data (`link.lost_data`), the spend counted locally is already in the
        ledger: each counter is seeded from `seed(key)` (the ledger) instead, never counted twice."""
        pending, self.pending = self.pending, {}
        field_ = f"held:{self.link.replica_id}"
        lost = self.link.lost_data
        try:
            for key in set(pending) | set(self.holding):
                if lost:
                    base = await seed(key)
                    if base is not None:
                        await self.link.run(lambda r, k=key, b=base: r.hsetnx(k, "spent", b), reconciling=True)
                elif pending.get(key):
                    d = pending[key]
                    await self.link.run(lambda r, k=key, d=d: r.hincrby(k, "spent", d), reconciling=True)
                held = self.holding.get(key, 0)
                if held:
                    await self.link.run(lambda r, k=key, h=held: r.hset(k, field_, h), reconciling=True)
                else:
                    await self.link.run(lambda r, k=key: r.hdel(k, field_), reconciling=True)
                pending.pop(key, None)
        finally:
            for k, v in pending.items():  # not pushed yet: kept for the next reconcile
                self.pending[k] = self.pending.get(k, 0) + v

    async def read(self, key: str) -> tuple[int, int] | None:
        """(spent, held) in µUSD, for status and tests; None when Redis has no such counter."""
        got = await self.link.run(lambda r: r.hgetall(key))
        if not got:
            return None
        spent = int(got.get(b"spent", 0))
        held = sum(int(v) for f, v in got.items() if f.startswith(b"held:"))
        return spent, held
