"""Member keys on the request path: who is calling (a member or a configured client) and may they.

`MemberAccess` is one per engine process. `caller` runs first on every inference route; `admit`
once the model is known (403 for a model the key may not use, 429 for its budget, RPM or TPM, each
with Retry-After); `finished` counts what a member's request cost. All of it is in memory: a dict
lookup and a few deque operations per request; storage is read only in the background.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proxy_engine.members.directory import REFRESH_S, KeyRefused, MemberDirectory
from proxy_engine.members.limits import LimitHit, MemberLimits
from proxy_engine.storage.errors import StorageUnavailable
from proxy_engine.storage.member_keys import MemberKey
from proxy_engine.usage.budgets import period_start

if TYPE_CHECKING:
    from proxy_engine.members.shared_limits import SharedMemberLimits
    from proxy_engine.runtime import Runtime
    from proxy_engine.storage.backend import Storage
    from proxy_engine.team_state.hot_state import TeamHotState

log = logging.getLogger("proxy_engine.members")


@dataclass(frozen=True)
class Caller:
    client: str  # the record's client: the member's name, or the configured client's
    member: MemberKey | None = None


class MemberAccess:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.directory = MemberDirectory(storage.member_keys)
        self.limits = MemberLimits()
        self.shared: SharedMemberLimits | None = None  # team mode with Redis: limits across replicas
        self.spend_loaded = False

    def share(self, team: TeamHotState) -> None:
        """Team mode with Redis: count RPM, TPM and budgets in the team's shared state from now on.

        Imported here: the shared limits bring redis, which an engine without team mode never loads."""
        from proxy_engine.members.shared_limits import SharedMemberLimits

        self.shared = SharedMemberLimits(team.rates, team.spend, self.limits)
        team.link.on_recover(lambda: self._after_outage(team))

    async def _after_outage(self, team: TeamHotState) -> None:
        """Redis came back empty: its member counters are gone, and the next admission seeds each from the
        local spend, so re-read that from the ledger (the budget hook flushed this replica's rows first)."""
        if team.link.lost_data:
            try:
                await self.load_spend()
            except (StorageUnavailable, sqlite3.Error, OSError) as e:
                log.error("member spend could not be re-read after Redis lost its data (%s)", e)

    async def open(self) -> None:
        """Read the keys and this month's spend per key. A database that does not answer yet is not waited
        for twice: the directory's refresh loop (`refresh_forever`) reads both once it answers."""
        try:
            await self.directory.refresh()
            await self.load_spend()
        except (StorageUnavailable, sqlite3.Error, OSError) as e:
            log.error("member keys cannot be read yet (%s); member keys are refused until they can", e)

    async def load_spend(self) -> None:
        start = period_start("month", time.time())
        rows = await self.storage.db.fetch(
            "SELECT member, sum(cost_usd) FROM requests WHERE ts_start >= ? AND member IS NOT NULL GROUP BY member",
            start,
        )
        self.limits.load_spend(start, {k: float(v or 0.0) for k, v in rows})
        self.spend_loaded = True

    async def refresh_forever(self) -> None:
        """Re-read the keys every `REFRESH_S` (and the month's spend, until it could be read once)."""
        while True:
            await asyncio.sleep(REFRESH_S)
            try:
                await self.directory.refresh()
                self.limits.forget(self.directory.live_ids())  # revoked keys' minute windows go
                if self.shared is not None:
                    self.shared.forget(self.directory.live_ids())
                if not self.spend_loaded:
                    await self.load_spend()
                    log.info("member keys and their spend are read")
            except (StorageUnavailable, sqlite3.Error, OSError) as e:
                log.warning("member keys could not be re-read (%s); the last copy stays in force", e)

    def caller(self, rt: Runtime, presented: str | None) -> Caller | None:
        """None: refused (no usable key). Raises `KeyRefused` for a member key that is unknown, revoked or expired."""
        member = self.directory.identify(presented)
        if member is not None:
            return Caller(member.name, member)
        client = rt.client_for(presented)
        return None if client is None else Caller(client)

    def client_name(self, rt: Runtime, presented: str | None) -> str | None:
        """For routes that only need to know the caller may call (model lists, sockets, Amp)."""
        try:
            c = self.caller(rt, presented)
        except KeyRefused:
            return None
        return None if c is None else c.client

    def admit(self, key_id: str, model: str) -> LimitHit | None:
        """The member's limits for a call to `model`; a key gone from the directory meanwhile is refused."""
        member = self.directory.by_id(key_id)
        if member is None:
            return LimitHit(401, "invalid_api_key", "this member key is not known here")
        return self.limits.admit(member, model)

    async def admit_request(self, request_id: str, key_id: str, model: str) -> LimitHit | None:
        """`admit`, across replicas in team mode with Redis (one round trip); in memory otherwise."""
        if self.shared is None:
            return self.admit(key_id, model)
        member = self.directory.by_id(key_id)
        if member is None:
            return LimitHit(401, "invalid_api_key", "this member key is not known here")
        return await self.shared.admit(request_id, member, model)

    def unused(self, request_id: str) -> None:
        """An admitted request that was never served under this id (the socket's derived call)."""
        if self.shared is not None:
            self.shared.release(request_id)

    def finished(self, record: dict[str, Any]) -> None:
        key_id = record.get("member")
        if key_id:
            tokens = int(record.get("input_tokens") or 0) + int(record.get("output_tokens") or 0)
            self.limits.finished(key_id, tokens, record.get("cost_usd"))
            if self.shared is not None:
                self.shared.finished(record["id"], key_id, tokens, record.get("cost_usd"))
