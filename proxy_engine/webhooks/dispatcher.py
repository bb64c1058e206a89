"""The engine's webhooks: a tap on the event bus that hands each wanted event to its targets.

The tap runs inside `EventBus.emit`, so it only checks the event's type (as a string, so event
types added later, like `quota.alert`, need nothing here) and queues; sending is each target's
own task. Targets follow the config: they are rebuilt (secrets resolved in a thread) when a
`config.reloaded` event says a new config is serving, and a target whose entry did not change
keeps its queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp

from proxy_engine.logs import REDACTOR
from proxy_engine.protocol import CONFIG_RELOADED
from proxy_engine.webhooks.target import ATTEMPT_TIMEOUT_S, WebhookTarget, where

if TYPE_CHECKING:
    from proxy_engine.config import WebhookConfig
    from proxy_engine.events import EventBus
    from proxy_engine.runtime import Runtime

log = logging.getLogger("proxy_engine.webhooks")
Spec = tuple[str, str, frozenset[str]]  # url, secret reference, events


class WebhookDispatcher:
    def __init__(self, bus: EventBus, runtime: Callable[[], Runtime]) -> None:
        self._bus = bus
        self._runtime = runtime
        self._targets: dict[Spec, WebhookTarget] = {}
        self._wanted: frozenset[str] = frozenset()
        self._session: aiohttp.ClientSession | None = None
        self._configuring: asyncio.Task[None] | None = None
        self._stale = False  # a config was reloaded while the targets were being rebuilt

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT_S)
        # trust_env=False: a delivery never goes through a proxy from the environment.
        self._session = aiohttp.ClientSession(timeout=timeout, trust_env=False)
        await self._configure()
        self._bus.add_tap(self._tap)

    async def close(self) -> None:
        self._bus.remove_tap(self._tap)
        if self._configuring is not None:
            self._configuring.cancel()
            await asyncio.gather(self._configuring, return_exceptions=True)
        await asyncio.gather(*(t.close() for t in self._targets.values()))
        self._targets.clear()
        if self._session is not None:
            await self._session.close()

    def _tap(self, event: str, fields: dict[str, Any]) -> None:
        if event == CONFIG_RELOADED:
            if fields.get("ok"):
                self._stale = True
                if self._configuring is None or self._configuring.done():
                    self._configuring = asyncio.create_task(self._follow_config(), name="webhooks-configure")
            return
        if event not in self._wanted:
            return
        try:
            for target in self._targets.values():
                target.offer(event, fields)
        except Exception:  # called inside EventBus.emit: a delivery that cannot be built never reaches the emitter
            log.exception("webhooks: a %s delivery could not be queued; skipped", event)

    async def _follow_config(self) -> None:
        while self._stale:
            self._stale = False
            try:
                await self._configure()
            except Exception:
                log.exception("webhooks could not follow the new config; the previous ones keep sending")

    async def _configure(self) -> None:
        """Follow the config's `webhooks:`: keep unchanged targets, start new ones, stop the rest."""
        assert self._session is not None
        hooks = self._runtime().config.webhooks
        specs = {(h.url, h.secret, frozenset(h.events)): h for h in hooks}
        targets: dict[Spec, WebhookTarget] = {}
        for spec, hook in specs.items():
            if (kept := self._targets.pop(spec, None)) is not None:
                targets[spec] = kept
            elif (target := await self._build(hook)) is not None:
                targets[spec] = target
        gone, self._targets = self._targets, targets
        self._wanted = frozenset(e for spec in targets for e in spec[2])
        await asyncio.gather(*(t.close() for t in gone.values()))
        if targets or gone:
            log.info("webhooks: %s", ", ".join(f"{t.where} ({', '.join(sorted(t.events))})"
                                               for t in targets.values()) or "none")  # fmt: skip

    async def _build(self, hook: WebhookConfig) -> WebhookTarget | None:
        from proxy_engine.runtime import resolve_ref

        assert self._session is not None
        secret = await asyncio.to_thread(resolve_ref, hook.secret)
        if not secret:
            log.error("webhook %s: its secret %s cannot be read; this webhook is off", where(hook.url), hook.secret)
            return None
        REDACTOR.add(secret)
        target = WebhookTarget(hook.url, secret.encode(), frozenset(hook.events), self._session)
        target.start()
        return target
