"""Token lifecycle in the engine: refresh ahead of expiry, single flight, loud failures."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from proxy_engine.logins.endpoints import endpoints_for
from proxy_engine.logins.errors import AuthError
from proxy_engine.logins.flows import browser_login, device_login
from proxy_engine.logins.providers import provider_auth
from proxy_engine.logins.refresher import AuthEvent, TokenRefresher
from proxy_engine.logins.tokens import load_tokens, save_tokens
from proxy_engine.secrets.store import KeyringStore
from tests.logins.helpers import browser_opener, wait_for
from tests.logins.oauth_server import FakeIdP
from tests.logins.scripted_ui import ScriptedUI


def _providers(idp: FakeIdP) -> dict:
    return {n: provider_auth(n, endpoints_for(n, idp.endpoints(n))) for n in ("claude", "copilot", "qwen")}


async def _claude_login(idp: FakeIdP, http: httpx.AsyncClient, store: KeyringStore):  # type: ignore[no-untyped-def]
    tokens = await browser_login(_providers(idp)["claude"], ScriptedUI(idp), http=http, open_browser=browser_opener())
    save_tokens(store, tokens)
    return tokens


def _refresh_posts(idp: FakeIdP) -> list:
    return [s for s in idp.seen if s.path == "/oauth/token" and s.params.get("grant_type") == "refresh_token"]


@pytest.fixture
def events() -> list[AuthEvent]:
    return []


def _refresher(idp: FakeIdP, store: KeyringStore, events: list[AuthEvent], **kw: float) -> TokenRefresher:
    return TokenRefresher(store, providers=_providers(idp), on_event=events.append, lead=300, **kw)


async def test_valid_token_is_served_without_refreshing(idp: FakeIdP, http: httpx.AsyncClient, events: list) -> None:
    store = KeyringStore()
    tokens = await _claude_login(idp, http, store)
    refresher = _refresher(idp, store, events)
    try:
        assert await refresher.access_token("claude", tokens.credential) == tokens.access_token
        up = await refresher.upstream("claude", tokens.credential)
        assert up.headers["anthropic-beta"] == "oauth-2025-04-20" and up.dialect == "anthropic"
    finally:
        await refresher.aclose()
    assert not _refresh_posts(idp)


async def test_token_inside_the_lead_window_is_refreshed_first(
    idp: FakeIdP, http: httpx.AsyncClient, events: list
) -> None:
    idp.expires_in = 120  # shorter than the 300 s lead: "expiring" right away
    store = KeyringStore()
    tokens = await _claude_login(idp, http, store)
    refresher = _refresher(idp, store, events)
    try:
        fresh = await refresher.access_token("claude", tokens.credential)
    finally:
        await refresher.aclose()
    assert fresh != tokens.access_token and fresh in idp.access
    (post,) = _refresh_posts(idp)
    assert post.content_type.startswith("application/json")  # Claude refreshes with a JSON body
    stored = load_tokens(store, "claude", tokens.credential)
    assert stored is not None and stored.access_token == fresh and stored.error is None
    assert [e.state for e in events] == ["refreshing", "valid"]


async def test_concurrent_requests_share_one_refresh(idp: FakeIdP, http: httpx.AsyncClient, events: list) -> None:
    idp.expires_in = 120
    store = KeyringStore()
    tokens = await _claude_login(idp, http, store)
    refresher = _refresher(idp, store, events)
    try:
        results = await asyncio.gather(*(refresher.access_token("claude", tokens.credential) for _ in range(10)))
    finally:
        await refresher.aclose()
    assert len(set(results)) == 1
    assert len(_refresh_posts(idp)) == 1


async def test_background_task_refreshes_ahead_of_expiry(idp: FakeIdP, http: httpx.AsyncClient, events: list) -> None:
    store = KeyringStore()
    tokens = await _claude_login(idp, http, store)
    idp.expires_in = 3600
    stored = load_tokens(store, "claude", tokens.credential)
    assert stored is not None
    stored.expires_at = time.time() + 60  # enters the lead window without any request asking for it
    save_tokens(store, stored)
    refresher = _refresher(idp, store, events)
    refresher.start()
    try:
        await wait_for(lambda: any(e.state == "valid" and e.message == "refreshed" for e in events))
    finally:
        await refresher.aclose()
    after = load_tokens(store, "claude", tokens.credential)
    assert after is not None and after.access_token != tokens.access_token
    assert after.expires_at is not None and after.expires_at > time.time() + 3000
    assert refresher.status()[0].state == "valid"


async def test_failed_refresh_is_loud_and_persisted(idp: FakeIdP, http: httpx.AsyncClient, events: list) -> None:
    store = KeyringStore()
    tokens = await _claude_login(idp, http, store)
    idp.revoke_refresh_tokens()
    stored = load_tokens(store, "claude", tokens.credential)
    assert stored is not None
    stored.expires_at = time.time() - 1  # already expired: nothing left to serve
    save_tokens(store, stored)
    refresher = _refresher(idp, store, events, retry_after_error=60.0)
    try:
        with pytest.raises(AuthError, match="invalid_grant") as err:
            await refresher.access_token("claude", tokens.credential)
        # a second request inside the retry window fails at once, without hammering the provider
        with pytest.raises(AuthError):
            await refresher.access_token("claude", tokens.credential)
    finally:
        await refresher.aclose()
    assert len(_refresh_posts(idp)) == 1
    assert events[-1].state == "error" and "invalid_grant" in events[-1].message
    assert events[-1].to_protocol()["state"] == "error"
    saved = load_tokens(store, "claude", tokens.credential)
    assert saved is not None and saved.state() == "error" and "invalid_grant" in (saved.error or "")
    for secret in (tokens.access_token, tokens.refresh_token):
        assert secret and secret not in str(err.value) and secret not in events[-1].message


async def test_failed_refresh_still_serves_a_token_that_has_not_expired(
    idp: FakeIdP, http: httpx.AsyncClient, events: list
) -> None:
    idp.expires_in = 120
    store = KeyringStore()
    tokens = await _claude_login(idp, http, store)
    idp.revoke_refresh_tokens()
    refresher = _refresher(idp, store, events)
    try:
        assert await refresher.access_token("claude", tokens.credential) == tokens.access_token
    finally:
        await refresher.aclose()
    assert events[-1].state == "error"  # loud even though requests keep working for now


async def test_a_new_login_clears_the_error(idp: FakeIdP, http: httpx.AsyncClient, events: list) -> None:
    store = KeyringStore()
    tokens = await _claude_login(idp, http, store)
    idp.revoke_refresh_tokens()
    stored = load_tokens(store, "claude", tokens.credential)
    assert stored is not None
    stored.expires_at = time.time() - 1
    save_tokens(store, stored)
    refresher = _refresher(idp, store, events)
    try:
        with pytest.raises(AuthError):
            await refresher.access_token("claude", tokens.credential)
        relogin = await _claude_login(idp, http, store)  # the user runs `login claude` again
        assert await refresher.access_token("claude", tokens.credential) == relogin.access_token
        await refresher.reload()
        assert [s.state for s in refresher.status()] == ["valid"]
    finally:
        await refresher.aclose()


async def test_copilot_session_is_renewed_from_the_github_token(
    idp: FakeIdP, http: httpx.AsyncClient, events: list
) -> None:
    idp.copilot_ttl = 100  # Copilot sessions are short-lived
    store = KeyringStore()
    tokens = await device_login(_providers(idp)["copilot"], ScriptedUI(idp), http=http)
    save_tokens(store, tokens)
    refresher = _refresher(idp, store, events)
    try:
        up = await refresher.upstream("copilot", tokens.credential)
    finally:
        await refresher.aclose()
    assert up.headers["Authorization"] != f"Bearer {tokens.access_token}"
    assert up.headers["Copilot-Integration-Id"] == "vscode-chat"


async def test_missing_login_is_reported(idp: FakeIdP, events: list) -> None:
    refresher = _refresher(idp, KeyringStore(), events)
    try:
        with pytest.raises(AuthError, match="not logged in"):
            await refresher.access_token("claude", "nobody")
    finally:
        await refresher.aclose()
    assert events == [AuthEvent("claude", "nobody", "missing", "no stored login")]


async def test_short_lived_tokens_do_not_make_the_background_loop_spin(
    idp: FakeIdP, http: httpx.AsyncClient, events: list
) -> None:
    idp.expires_in = 120  # every token the provider hands out is already inside the 300 s lead window
    store = KeyringStore()
    tokens = await _claude_login(idp, http, store)
    refresher = _refresher(idp, store, events, min_refresh_gap=0.2)
    refresher.start()
    try:
        await wait_for(lambda: len(_refresh_posts(idp)) >= 2)
        await asyncio.sleep(0.3)
    finally:
        await refresher.aclose()
    assert 2 <= len(_refresh_posts(idp)) <= 4  # paced by the gap, not a tight loop
    assert load_tokens(store, "claude", tokens.credential).access_token in idp.access  # type: ignore[union-attr]
