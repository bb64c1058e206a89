"""Keeps OAuth logins fresh inside the engine, and makes every failure loud.

`TokenRefresher.access_token()` is what the request path calls: it returns a usable access
token, refreshing first when the token is inside the lead window (one refresh per credential
at a time, however many requests wait). A background task refreshes ahead of expiry so the
request path rarely waits. A failed refresh is persisted on the login (so `auth status`
exits non-zero) and reported through `on_event` with state "error" (the engine maps it to
`auth.changed`); it is never swallowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from proxy_engine.logins.errors import AuthError
from proxy_engine.logins.tokens import (
    DEFAULT_LEAD_SECONDS,
    TokenSet,
    list_token_ids,
    load_tokens,
    redact,
    save_tokens,
)
from proxy_engine.logs import REDACTOR
from proxy_engine.protocol import AuthChanged
from proxy_engine.secrets.store import SecretStore, SecretStoreError

if TYPE_CHECKING:
    import httpx

    from proxy_engine.logins.providers import ProviderAuth, UpstreamAuth
    from proxy_engine.team_state.refresh_lock import SharedRefresh

log = logging.getLogger(__name__)

Key = tuple[str, str]


@dataclass(frozen=True)
class AuthEvent:
    """Payload of the `auth.changed` event; never carries a secret."""

    provider: str
    credential: str
    state: str  # valid | expiring | expired | refreshing | error | missing
    message: str = ""

    def to_event(self) -> AuthChanged:
        return AuthChanged(provider=self.provider, credential=self.credential, state=self.state, message=self.message)

    def to_protocol(self) -> dict[str, str]:
        return self.to_event().to_dict()


class TokenRefresher:
    def __init__(
        self,
        store: SecretStore,
        *,
        providers: dict[str, ProviderAuth] | None = None,
        on_event: Callable[[AuthEvent], None] | None = None,
        http: httpx.AsyncClient | None = None,
        lead: float = DEFAULT_LEAD_SECONDS,
        retry_after_error: float = 60.0,
        max_sleep: float = 60.0,
        min_refresh_gap: float = 30.0,
    ) -> None:
        self._store = store
        self._providers = dict(providers or {})
        self._on_event = on_event
        self._http = http
        self._own_http = http is None
        self._lead = lead
        self._retry_after_error = retry_after_error
        self._max_sleep = max_sleep
        self._min_gap = min_refresh_gap
        self._tokens: dict[Key, TokenSet] = {}
        self._locks: dict[Key, asyncio.Lock] = {}
        self.shared: SharedRefresh | None = None  # team mode: the lock across replicas (team_state/refresh_lock.py)
        self._last_state: dict[Key, str] = {}
        self._last_attempt: dict[Key, float] = {}
        self._rejected: dict[Key, str] = {}  # access tokens the upstream refused (401)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    # -- plumbing ------------------------------------------------------------------------------

    def provider(self, name: str) -> ProviderAuth:
        from proxy_engine.logins.providers import PROVIDER_CLASSES  # OAuth flows load with the first login

        if name not in self._providers:
            self._providers[name] = PROVIDER_CLASSES[name]()
        return self._providers[name]

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(timeout=httpx.Timeout(30.0), follow_redirects=False)
        return self._http

    def _emit(self, key: Key, state: str, message: str = "", *, force: bool = False) -> None:
        if not force and self._last_state.get(key) == state:
            return
        self._last_state[key] = state
        if state == "error":
            log.warning("login %s/%s: %s", key[0], key[1], message)
        if self._on_event is not None:
            self._on_event(AuthEvent(key[0], key[1], state, message))

    async def reload(self) -> list[Key]:
        """Re-read every stored login (after `login`/`logout` in another process)."""
        ids = await asyncio.to_thread(list_token_ids, self._store)
        fresh: dict[Key, TokenSet] = {}
        if ids:  # with no stored login, the OAuth flows (httpx, authlib) are never loaded
            from proxy_engine.logins.providers import PROVIDER_CLASSES
        for prov, cred in ids:
            if prov not in PROVIDER_CLASSES and prov not in self._providers:
                continue
            tokens = await asyncio.to_thread(load_tokens, self._store, prov, cred)
            if tokens is not None:
                _redact_everywhere(tokens)
                fresh[(prov, cred)] = tokens
        for key in set(self._tokens) - set(fresh):
            self._emit(key, "missing", "the login was removed")
        self._tokens = fresh
        for key, tokens in fresh.items():
            self._emit(key, tokens.state(lead=self._lead), tokens.error or "")
        self._wake.set()
        return sorted(fresh)

    async def _load(self, key: Key) -> TokenSet | None:
        tokens = await asyncio.to_thread(load_tokens, self._store, *key)
        if tokens is None:
            self._tokens.pop(key, None)
        else:
            _redact_everywhere(tokens)
            self._tokens[key] = tokens
        return tokens

    # -- the request path ----------------------------------------------------------------------

    async def access_token(self, provider: str, credential: str) -> str:
        return (await self.tokens(provider, credential)).access_token

    async def upstream(self, provider: str, credential: str) -> UpstreamAuth:
        """Base URL and headers for a request with this login (refreshed first if needed)."""
        tokens = await self.tokens(provider, credential)
        return self.provider(provider).upstream(tokens)

    async def tokens(self, provider: str, credential: str) -> TokenSet:
        key = (provider, credential)
        tokens = self._tokens.get(key) or await self._load(key)
        if tokens is None:
            self._emit(key, "missing", "no stored login")
            raise AuthError(f"{provider}/{credential}: not logged in")
        if not self._needs_refresh(key, tokens):
            return self._fallback(tokens) if tokens.error else tokens
        return await self.refresh(provider, credential)

    def _needs_refresh(self, key: Key, tokens: TokenSet) -> bool:
        """Expired, or inside the lead window and not refreshed in the last `min_refresh_gap`.

        The gap keeps a provider that hands out tokens shorter than the lead window from being
        asked again in a tight loop.
        """
        if self._rejected.get(key) == tokens.access_token:
            return True
        if tokens.expires_at is None:
            return False
        now = time.time()
        if now >= tokens.expires_at:
            return True
        if now < tokens.expires_at - self._lead:
            return False
        return time.monotonic() - self._last_attempt.get(key, float("-inf")) >= self._min_gap

    def invalidate(self, provider: str, credential: str) -> None:
        """The upstream rejected the access token (401): refresh before the next use."""
        key = (provider, credential)
        tokens = self._tokens.get(key)
        if tokens is not None:
            self._rejected[key] = tokens.access_token

    async def refresh(self, provider: str, credential: str, *, force: bool = False) -> TokenSet:
        """Refresh now if needed (or `force`). Raises AuthError when the token cannot be used."""
        key = (provider, credential)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            current = self._tokens.get(key)
            if current is None or current.error or self._needs_refresh(key, current):
                current = await self._load(key) or current  # maybe another process logged in again
            if current is None:
                self._emit(key, "missing", "no stored login")
                raise AuthError(f"{provider}/{credential}: not logged in")
            if not force and not self._needs_refresh(key, current):
                return self._fallback(current) if current.error else current
            last = self._last_attempt.get(key, float("-inf"))
            if current.error and not force and time.monotonic() - last < self._retry_after_error:
                return self._fallback(current)
            if self.shared is not None:  # team mode: one replica refreshes, the others adopt its result
                return await self.shared.refresh(key, current, self._do_refresh, self._adopt)
            return await self._do_refresh(key, current)

    async def _adopt(self, key: Key, tokens: TokenSet) -> TokenSet:
        """Take the token set another replica refreshed, and keep it in this replica's store."""
        tokens.provider, tokens.credential, tokens.error = key[0], key[1], None
        _redact_everywhere(tokens)
        self._rejected.pop(key, None)
        self._tokens[key] = tokens
        self._last_attempt[key] = time.monotonic()
        try:
            await asyncio.to_thread(save_tokens, self._store, tokens)
        except SecretStoreError as exc:
            self._emit(key, "error", f"taken from another replica, but saving the new tokens failed: {exc}", force=True)
            return tokens
        self._emit(key, "valid", "refreshed by another replica", force=True)
        return tokens

    def _fallback(self, tokens: TokenSet) -> TokenSet:
        """After a failed refresh: keep serving a still-valid access token, else fail loudly."""
        rejected = self._rejected.get((tokens.provider, tokens.credential)) == tokens.access_token
        if not rejected and (tokens.expires_at is None or time.time() < tokens.expires_at):
            return tokens
        why = "was rejected by the provider" if rejected else "expired"
        raise AuthError(f"{tokens.provider}/{tokens.credential}: login {why} and refresh failed: {tokens.error}")

    async def _do_refresh(self, key: Key, current: TokenSet) -> TokenSet:
        self._last_attempt[key] = time.monotonic()
        self._emit(key, "refreshing")
        try:
            fresh = await self.provider(key[0]).refresh(self._client(), current)
        except (AuthError, ValueError, KeyError, TypeError) as exc:
            # A malformed provider answer is as much a failed refresh as an invalid_grant.
            text = str(exc) if isinstance(exc, AuthError) else f"unexpected answer ({type(exc).__name__})"
            message = redact(text, current.secrets())
            current.error = message
            await asyncio.to_thread(save_tokens, self._store, current)
            self._tokens[key] = current
            self._emit(key, "error", message, force=True)
            return self._fallback(current)
        fresh.provider, fresh.credential, fresh.error = key[0], key[1], None
        _redact_everywhere(fresh)
        self._rejected.pop(key, None)
        self._tokens[key] = fresh
        try:
            await asyncio.to_thread(save_tokens, self._store, fresh)
        except SecretStoreError as exc:
            # The new tokens work, but a rotated refresh token that is not saved is lost at the
            # next restart: that needs a human, so say it loudly.
            self._emit(key, "error", f"refreshed, but saving the new tokens failed: {exc}", force=True)
            return fresh
        self._emit(key, "valid", "refreshed", force=True)
        return fresh

    # -- background -----------------------------------------------------------------------------

    def status(self) -> list[AuthEvent]:
        """Current state of every known login (for /v0/auth/status)."""
        out = []
        for key, tokens in sorted(self._tokens.items()):
            out.append(AuthEvent(key[0], key[1], tokens.state(lead=self._lead), tokens.error or ""))
        return out

    def _next_due(self) -> float:
        """Seconds until the background loop has work: the earliest lead-window entry, never
        sooner than `min_refresh_gap` after the last attempt (a provider handing out tokens that
        are already inside the lead window must not be asked again in a tight loop)."""
        now_wall, now_mono = time.time(), time.monotonic()
        due = self._max_sleep
        for key, tokens in self._tokens.items():
            if tokens.expires_at is None or not tokens.refresh_token:
                continue
            last = self._last_attempt.get(key, float("-inf"))
            if tokens.error:
                wait = last + self._retry_after_error - now_mono
            else:
                wait = max(tokens.expires_at - self._lead - now_wall, last + self._min_gap - now_mono)
            due = min(due, max(wait, 0.0))
        return due

    async def _refresh_due(self) -> None:
        now_mono = time.monotonic()
        for key, tokens in list(self._tokens.items()):
            if not tokens.refresh_token:
                continue
            recent = now_mono - self._last_attempt.get(key, float("-inf")) < self._min_gap
            if not tokens.error and (recent or not self._needs_refresh(key, tokens)):
                continue
            try:
                await self.refresh(*key)
            except AuthError:
                continue  # already reported through on_event with state "error"

    async def _run(self) -> None:
        loaded = False
        while True:
            try:
                if not loaded:
                    await self.reload()
                    loaded = True
                self._wake.clear()
                pause = self._next_due()
                if pause > 0:
                    try:
                        await asyncio.wait_for(self._wake.wait(), pause)
                    except TimeoutError:
                        await self.reload()  # pick up logins made by the CLI meanwhile
                await self._refresh_due()
            except SecretStoreError as exc:
                # e.g. the encrypted file needs a passphrase: say so, keep trying, never die silently
                log.error("token refresher cannot read the secret store: %s", exc)
                await asyncio.sleep(self._max_sleep)

    def start(self) -> asyncio.Task[None]:
        """Start the background refresher (keep the returned task; `aclose()` stops it)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="proxypal-token-refresher")
        return self._task

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._own_http and self._http is not None:
            await self._http.aclose()
            self._http = None


def _redact_everywhere(tokens: TokenSet) -> None:
    """A login's access and refresh tokens join the engine's redactor as soon as they are in memory:
    logs, and upstream error text passed on to clients (an upstream may echo the token it got)."""
    for secret in tokens.secrets():
        REDACTOR.add(secret)
