"""The engine's credentials broker: API keys, stored logins and AWS profiles, pooled per provider.

Opened once at startup (secret store, token refresher, cooldown table in the ledger's
database) and re-synced whenever the config or the set of logins changes. The request
path asks it for a credential (`pick`), turns that into headers (`call_for`, which may
refresh an OAuth token), and reports the outcome (`report`, off the hot path).

It is given only what it needs (paths, a runtime getter and an emit callable), not the
engine state, so `state.py` can own one without an import cycle. What differs by kind
(which credentials a provider has, how a login becomes headers) is the provider kind's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from proxy_engine.credentials.affinity import SessionAffinity
from proxy_engine.credentials.call import UpstreamCall
from proxy_engine.credentials.cooldowns import Cooldown, CooldownStore, CooldownTable
from proxy_engine.credentials.pool import Credential, CredentialPool
from proxy_engine.logins.errors import AuthError
from proxy_engine.protocol import AuthChanged, EventPayload
from proxy_engine.quota.ledger import QuotaLedger
from proxy_engine.quota.store import QuotaTable
from proxy_engine.secrets.base import SecretStoreError

if TYPE_CHECKING:
    from proxy_engine.logins.refresher import AuthEvent, TokenRefresher
    from proxy_engine.paths import Paths
    from proxy_engine.providers import Provider
    from proxy_engine.providers.sigv4 import AwsCredentials
    from proxy_engine.runtime import Runtime
    from proxy_engine.secrets.base import SecretStore
    from proxy_engine.team_state.refresh_lock import SharedRefresh

log = logging.getLogger("proxy_engine.credentials")
Emit = Callable[[EventPayload], None]
_AWS_TTL = 300.0
_STORE_WAIT = 5.0


class CredentialBroker:
    """One per engine: the pools, the cooldown table, the secret store and the token refresher."""

    def __init__(self, paths: Paths, runtime: Callable[[], Runtime], emit: Emit) -> None:
        self.paths = paths
        self._runtime = runtime
        self._emit = emit
        self.pools: dict[str, CredentialPool] = {}
        self.cooldowns: CooldownStore | None = None
        self.cooldown_table: CooldownTable | None = None  # None: the ledger's SQLite file (team mode sets it)
        self.quota_table: QuotaTable | None = None  # likewise, for the quota readings
        self.shared_refresh: SharedRefresh | None = None  # team mode with Redis: one replica refreshes a login
        self.refresher: TokenRefresher | None = None
        self.store_backend = "unavailable"
        self.store_notice: str | None = None
        self.store_error: str | None = None
        self._store: SecretStore | None = None
        self._store_opening: asyncio.Task[None] | None = None
        self._logins: dict[str, list[str]] = {}  # login provider -> credential ids
        self._tasks: set[asyncio.Task] = set()
        self._aws: dict[str, tuple[float, AwsCredentials]] = {}
        self.affinity = SessionAffinity()  # an agent session keeps its credential per provider
        self.quota = QuotaLedger(emit)  # read from replies by the request path; asked by the pools

    # -- lifecycle ------------------------------------------------------------------------------

    async def open(self) -> None:
        self.cooldowns = await CooldownStore.open(self.paths.ledger_file, self.cooldown_table)
        await self.quota.open(self.paths.ledger_file, self.quota_table)
        self.sync()  # starts opening the store when a provider uses logins
        if self._store_opening is not None:
            await self.ensure_store()

    def _uses_logins(self) -> bool:
        """Whether a configured provider can be served by a stored login: only then is the store needed at
        start (opening it loads keyring and probes D-Bus, about 10 MiB, for nothing on an API-key proxy)."""
        return any(p.login for p in self._runtime().providers.values())

    async def ensure_store(self) -> None:
        """Open the secret store once (a provider uses logins, `/v0/auth/status` or `/v0/auth/reload` asked),
        waiting at most `_STORE_WAIT`: a desktop keyring may wait for the user to unlock it, and API keys
        are served meanwhile."""
        opening = self._start_store()
        if opening.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(opening), _STORE_WAIT)
        except TimeoutError:
            log.warning("the secret store is slow to open (locked keyring?); logins become usable once it opens")

    async def _open_store(self) -> None:
        from proxy_engine.logins.refresher import TokenRefresher  # loaded here, not by every importer of the broker
        from proxy_engine.secrets.store import open_secret_store

        try:
            store = await asyncio.to_thread(open_secret_store, self.paths)
            await asyncio.to_thread(store.list_names)  # a locked file store fails here, not mid-request
        except SecretStoreError as e:
            self.store_error = str(e)
            log.error("the secret store cannot be opened (%s); stored logins are unavailable", e)
            return
        self._store = store
        self.store_backend, self.store_notice = store.describe(), store.notice
        if store.notice:
            log.warning("secrets: %s", store.notice)
        self.refresher = TokenRefresher(store, on_event=self._on_auth_event)
        self.refresher.shared = self.shared_refresh
        await self._read_logins()
        self.refresher.start()

    async def close(self) -> None:
        for t in list(self._tasks):
            if t.get_name() == "secret-store":
                t.cancel()
            await asyncio.gather(t, return_exceptions=True)
        if self.refresher is not None:
            await self.refresher.aclose()
        await self.quota.close()

    async def reload_logins(self) -> int:
        if self._store_opening is None:  # a login stored elsewhere may be the first one: opening reads them
            await self.ensure_store()
            return sum(len(v) for v in self._logins.values())
        return await self._read_logins()

    async def _read_logins(self) -> int:
        if self.refresher is None:
            return 0
        try:
            await self.refresher.reload()
            if self._store is not None:  # `auth keyfile` may have changed how the store is opened
                self.store_backend = await asyncio.to_thread(self._store.describe)
            self.store_error = None
        except SecretStoreError as e:
            self.store_error = str(e)
            log.error("cannot read stored logins: %s", e)
        self._index_logins()
        self.sync()
        return sum(len(v) for v in self._logins.values())

    def _index_logins(self) -> None:
        logins: dict[str, list[str]] = {}
        for ev in self.refresher.status() if self.refresher else []:
            logins.setdefault(ev.provider, []).append(ev.credential)
        self._logins = logins

    def _on_auth_event(self, ev: AuthEvent) -> None:
        self._emit(ev.to_event())
        if ev.state in ("valid", "missing") and self.refresher is not None:
            self._index_logins()
            self.sync()

    # -- pools ------------------------------------------------------------------------------------

    def credentials_of(self, p: Provider) -> list[Credential]:
        return p.kind_rules.credentials(p, self._logins.get(p.login, []) if p.login else [])

    def sync(self) -> None:
        """Rebuild the pools for the current runtime; cooldowns and rotation of kept ids stay."""
        if self.cooldowns is None:
            return
        rt = self._runtime()
        self.quota.configure(rt.config.quota.alert_at)
        for name, p in rt.providers.items():
            strategy = p.strategy or rt.config.routing.strategy
            pool = self.pools.get(name)
            if pool is None:
                pool = CredentialPool(name, [], self.cooldowns, strategy=strategy, on_cooldown=self._on_cooldown)
                self.pools[name] = pool
            pool.strategy = strategy
            pool.quota, pool.max_used_percent = self.quota, p.settings.max_used_percent
            pool.set_credentials(self.credentials_of(p))
        for gone in set(self.pools) - set(rt.providers):
            del self.pools[gone]
        if self._store_opening is None and self._uses_logins():
            self._start_store()

    def _start_store(self) -> asyncio.Task[None]:
        if self._store_opening is None:
            self._store_opening = asyncio.create_task(self._open_store(), name="secret-store")
            self._tasks.add(self._store_opening)
            self._store_opening.add_done_callback(self._tasks.discard)
        return self._store_opening

    def _on_cooldown(self, c: Cooldown) -> None:
        log.warning("%s/%s cools down for %s until %s (%s, status %s)", c.provider, c.credential, c.model,
                    time.strftime("%H:%M:%S", time.localtime(c.until)), c.reason, c.status)  # fmt: skip
        self._emit(c.to_event())

    # -- the request path --------------------------------------------------------------------------

    def pick(self, p: Provider, model: str, exclude: set[str], session: str | None = None) -> Credential | None:
        pool = self.pools.get(p.name)
        if pool is None:
            return None
        return self.affinity.pick(pool, session, model, exclude) if session else pool.pick(model, exclude)

    def soonest(self, p: Provider, model: str) -> float | None:
        pool = self.pools.get(p.name)
        return pool.soonest_available(model) if pool is not None else None

    def out_of_quota(self, p: Provider) -> bool:
        pool = self.pools.get(p.name)
        return pool is not None and pool.out_of_quota()

    def has_credentials(self, p: Provider) -> bool:
        pool = self.pools.get(p.name)
        return pool is not None and not pool.empty

    async def call_for(self, p: Provider, cred: Credential, dialect: str) -> UpstreamCall:
        """Headers and base URL for one attempt. Raises AuthError when a login cannot be used."""
        if cred.kind == "api_key":
            return p.key_call(cred, dialect)
        if cred.kind == "none":
            return UpstreamCall(cred, p.base_url, {})
        if cred.kind == "aws":
            return UpstreamCall(cred, p.default_base(), {}, {"aws": await self._aws_credentials(p)})
        if self.refresher is None or not p.login:
            raise AuthError(f"{p.name}: the secret store is not available ({self.store_error or 'not opened'})")
        return await p.kind_rules.login_call(p, cred, self.refresher)

    async def _aws_credentials(self, p: Provider) -> AwsCredentials:
        profile = p.settings.profile or "default"
        cached = self._aws.get(profile)
        if cached and time.monotonic() - cached[0] < _AWS_TTL and not cached[1].expiring():
            return cached[1]
        from proxy_engine.providers.sigv4 import load_credentials

        creds = await asyncio.to_thread(load_credentials, p.settings.profile)
        self._aws[profile] = (time.monotonic(), creds)
        return creds

    def report(self, p: Provider, cred: Credential, model: str, status: int | None, retry_after: float | None) -> None:
        """Record an outcome without making the request wait for the SQLite write."""
        pool = self.pools.get(p.name)
        if pool is None or self.cooldowns is None:
            return
        ok = status is not None and 200 <= status < 400
        if ok and self.cooldowns.get(p.name, cred.id, model) is None:
            return  # the common case: nothing to clear, no task
        if cred.kind == "aws" and status in (401, 403):
            self._aws.clear()  # temporary credentials may have expired early: load them afresh next time
        if status == 401 and cred.kind in ("oauth", "service_account") and self.refresher is not None and p.login:
            self.refresher.invalidate(p.login, cred.id)
        task = asyncio.create_task(pool.report(cred, model, status, retry_after))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- management ---------------------------------------------------------------------------------

    async def clear(self, provider: str | None, credential: str | None, model: str | None) -> int:
        if self.cooldowns is None:
            return 0
        cleared = [c for c in self.cooldowns.list(include_expired=True)
                   if (provider is None or c.provider == provider)
                   and (credential is None or c.credential == credential)
                   and (model is None or c.model == model)]  # fmt: skip
        n = await self.cooldowns.clear(provider, credential, model)
        for prov, cred in sorted({(c.provider, c.credential) for c in cleared}):
            self._emit(AuthChanged(provider=prov, credential=cred, state="valid", message="cooldowns cleared"))
        return n

    def login_states(self) -> list[AuthChanged]:
        """Every stored login's state, for the `hello` snapshot (a late subscriber missed the events)."""
        return [ev.to_event() for ev in self.refresher.status()] if self.refresher else []

    def status(self) -> dict[str, Any]:
        now = time.time()
        logins = {(e.provider, e.credential): e for e in (self.refresher.status() if self.refresher else [])}
        providers = []
        for p in self._runtime().providers.values():
            pool = self.pools.get(p.name)
            active = pool.cooldowns() if pool else []
            creds = []
            for c in pool.credentials if pool else []:
                cools = [{"model": x.model, "until": x.until, "reason": x.reason, "status": x.status}
                         for x in active if x.credential == c.id]  # fmt: skip
                out_until = self.quota.blocked_until(p.name, c.id, now)
                if out_until is not None:  # an exhausted quota window rests it for every model
                    cools.append({"model": "*", "until": out_until, "reason": "quota_exhausted", "status": 429})
                login = logins.get((p.login or "", c.id))
                state = login.state if login else "valid"
                if state == "valid" and cools:
                    state = "cooling"
                creds.append({"id": c.id, "type": c.kind, "state": state, "source": c.ref or None, "label": c.label,
                              "priority": c.priority, "message": login.message if login else "",
                              "expires_at": None, "cooldowns": cools})  # fmt: skip
            for ref in p.unreadable:
                creds.append({"id": ref, "type": "api_key", "state": "missing", "source": ref, "label": ref,
                              "priority": 0, "message": f"{ref} cannot be read", "expires_at": None,
                              "cooldowns": []})  # fmt: skip
            if p.login and not self._logins.get(p.login) and not p.key_credentials:
                creds.append({"id": p.login, "type": "oauth", "state": "missing", "source": f"login:{p.login}",
                              "label": p.login, "priority": 0, "expires_at": None, "cooldowns": [],
                              "message": f"not logged in: run `proxypal-engine login {p.login}`"})  # fmt: skip
            providers.append({"name": p.name, "kind": p.kind, "base_url": p.base_url or p.default_base(),
                              "strategy": pool.strategy if pool else None, "login": p.login,
                              "credentials": creds})  # fmt: skip
        store = {"backend": self.store_backend, "notice": self.store_notice, "error": self.store_error}
        return {"store": store, "providers": providers, "now": now}
