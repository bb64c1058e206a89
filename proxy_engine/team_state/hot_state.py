"""`TeamHotState`: what a replica shares through Redis, built from `team.redis` at start-up.

The engine holds one (`RunningEngine.team`, None without `team.redis`) and asks it at three
points: admission (budgets), the end of a request (settle), and status. The rest runs beside the
request path: cooldown and event fan-out, the refresh lock, the Redis probe and reconciliation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from proxy_engine.protocol import TeamHealth
from proxy_engine.team_state.cooldown_sync import CooldownSync
from proxy_engine.team_state.event_fanout import EventFanout
from proxy_engine.team_state.link import RedisDown, RedisLink
from proxy_engine.team_state.quota_sync import QuotaSync
from proxy_engine.team_state.rate_limits import RateLimiter
from proxy_engine.team_state.refresh_lock import SharedRefresh
from proxy_engine.team_state.spend import PREFIX, SpendCounters, micro
from proxy_engine.team_state.team_budgets import TeamBudgets
from proxy_engine.usage.budgets import period_start

if TYPE_CHECKING:
    from proxy_engine.credentials.cooldowns import CooldownStore
    from proxy_engine.events import EventBus
    from proxy_engine.quota.ledger import QuotaLedger
    from proxy_engine.usage.budgets import BudgetTracker
    from proxy_engine.usage.ledger import CostLedger

log = logging.getLogger("proxy_engine.team_state")


def resolve_url(ref: str) -> str | None:
    """The URL itself, or what its `keyring:`/`env:` reference holds; added to the log redactor."""
    from urllib.parse import urlsplit

    from proxy_engine.config import SECRET_REF
    from proxy_engine.logs import REDACTOR
    from proxy_engine.runtime import resolve_ref

    value = resolve_ref(ref) if SECRET_REF.match(ref) else ref
    if value:
        REDACTOR.add(value)
        with contextlib.suppress(ValueError):
            REDACTOR.add(urlsplit(value).password)
    return value


class TeamHotState:
    def __init__(self, link: RedisLink, bus: EventBus, tracker: BudgetTracker, ledger: CostLedger) -> None:
        self.link = link
        self.bus = bus
        self.tracker = tracker
        self.ledger = ledger
        self.spend = SpendCounters(link)
        self.budgets = TeamBudgets(self.spend, tracker, bus.publish)
        self.rates = RateLimiter(link)
        self.refresh = SharedRefresh(link)
        self.events = EventFanout(link, bus)
        self.cooldowns: CooldownSync | None = None
        self.quota: QuotaSync | None = None
        self._alive: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls, ref: str, replica_id: str, bus: EventBus, tracker: BudgetTracker, ledger: CostLedger
    ) -> TeamHotState | None:
        url = await asyncio.to_thread(resolve_url, ref)
        if not url:
            log.error("team.redis names a secret that is not set; the replicas share no hot state")
            return None
        try:
            link = RedisLink(url, replica_id)
        except ValueError:  # not said how: the message may quote the URL
            log.error("team.redis is not a usable redis:// URL; the replicas share no hot state")
            return None
        team = cls(link, bus, tracker, ledger)
        await team.link.open()
        if team.link.ok:
            try:
                await team.spend.clear_own_holds()
            except RedisDown:
                log.warning("team state: stale holds of this replica are left until Redis is back")
        team.link.on_recover(team._reconcile_spend)
        team._alive = asyncio.get_running_loop().create_task(team.spend.keep_alive(), name="replica-alive")
        bus.replica = replica_id
        team.events.start()
        return team

    async def start_credential_sync(self, store: CooldownStore, quota: QuotaLedger) -> None:
        """Once the broker has opened its cooldowns and quota ledger: share both."""
        self.cooldowns = CooldownSync(self.link, store)
        self.cooldowns.start()
        self.quota = QuotaSync(self.link, quota)
        await self.quota.start()

    async def _reconcile_spend(self) -> None:
        await self.ledger.flush()  # rows of the outage first, so a re-seed from the ledger holds them
        cache: dict[tuple[str, float], dict[str, float]] = {}

        async def seed(key: str) -> int | None:
            """A counter Redis lost: its spend from the ledger (the embedded limits' scopes only)."""
            for lim in self.tracker.limits:
                start = period_start(lim.period, time.time())
                if key != f"{PREFIX}{lim.scope}:{lim.period}:{start:.0f}":
                    continue
                if (lim.period, start) not in cache:
                    cache[(lim.period, start)] = await self.ledger.spend_by_client(start)
                by_client = cache[(lim.period, start)]
                usd = by_client.get(lim.client, 0.0) if lim.client is not None else sum(by_client.values())
                return micro(usd)
            return None

        if self.link.lost_data:  # every budget's counter from the ledger, before any request seeds one itself
            for lim in self.tracker.limits:
                key = f"{PREFIX}{lim.scope}:{lim.period}:{period_start(lim.period, time.time()):.0f}"
                base = await seed(key)
                await self.link.run(lambda r, k=key, b=base: r.hsetnx(k, "spent", b), reconciling=True)
        await self.spend.reconcile(seed)

    def health(self) -> TeamHealth:
        return TeamHealth.from_dict(self.link.health())

    async def close(self) -> None:
        await self.budgets.drain()
        if self._alive is not None:
            self._alive.cancel()
            await asyncio.gather(self._alive, return_exceptions=True)
        await self.events.close()
        if self.cooldowns is not None:
            await self.cooldowns.close()
        if self.quota is not None:
            await self.quota.close()
        await self.link.close()
