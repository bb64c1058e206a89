"""No secret a test provider hands out may appear in logs, events, exceptions, reprs or the cooldown table."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from proxy_engine.credentials.cooldowns import CooldownStore
from proxy_engine.credentials.pool import Credential, CredentialPool
from proxy_engine.logins.endpoints import endpoints_for
from proxy_engine.logins.errors import AuthError
from proxy_engine.logins.flows import browser_login, device_login
from proxy_engine.logins.providers import provider_auth
from proxy_engine.logins.refresher import AuthEvent, TokenRefresher
from proxy_engine.logins.tokens import load_tokens, save_tokens
from proxy_engine.secrets.store import KeyringStore
from tests.logins.helpers import browser_opener
from tests.logins.oauth_server import FakeIdP
from tests.logins.scripted_ui import ScriptedUI

# Log records emitted by the *fake provider* (authlib's server side logs issued tokens at DEBUG)
# are the provider's business, not ours; everything else in the process is scanned.
_SERVER_LOGGERS = (
    "authlib.oauth2.rfc6749",
    "authlib.oauth2.rfc8628",
    "authlib.oauth2.rfc7523",
    "aiohttp.access",
)


async def test_no_secret_leaks_anywhere(
    idp: FakeIdP, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    providers = {n: provider_auth(n, endpoints_for(n, idp.endpoints(n))) for n in ("claude", "copilot", "codex")}
    store = KeyringStore()
    texts: list[str] = []
    events: list[AuthEvent] = []

    claude = await browser_login(providers["claude"], ScriptedUI(idp), http=http, open_browser=browser_opener())
    codex = await browser_login(providers["codex"], ScriptedUI(idp, paste=True), http=http, no_browser=True)
    copilot = await device_login(providers["copilot"], ScriptedUI(idp), http=http)
    for t in (claude, codex, copilot):
        save_tokens(store, t)
        texts += [repr(t), str(t), repr(providers[t.provider].upstream(t))]

    # refresh once successfully, then make the refresh fail and collect what the user sees
    near = load_tokens(store, "claude", claude.credential)
    assert near is not None
    near.expires_at = time.time() + 60  # inside the lead window
    save_tokens(store, near)
    refresher = TokenRefresher(store, providers=providers, on_event=events.append, retry_after_error=0.0)
    try:
        refreshed = await refresher.access_token("claude", claude.credential)
        assert refreshed != claude.access_token
        idp.revoke_refresh_tokens()
        refresher.invalidate("claude", claude.credential)  # the upstream answered 401
        with pytest.raises(AuthError) as err:
            await refresher.access_token("claude", claude.credential)
        texts += [str(err.value), repr(err.value)]
        texts += [repr(s) for s in refresher.status()]
    finally:
        await refresher.aclose()

    # cooldowns are stored next to the ledger: make sure no key material goes in there
    db = tmp_path / "usage.db"
    pool = CredentialPool("claude", [Credential(claude.credential, kind="oauth")], await CooldownStore.open(db))
    await pool.report(claude.credential, "claude-opus-4-5", 429, retry_after=30)
    with sqlite3.connect(db) as conn:
        texts.append(repr(conn.execute("SELECT * FROM credential_cooldowns").fetchall()))

    texts += [repr(e.to_protocol()) for e in events]
    texts += [r.getMessage() for r in caplog.records if not r.name.startswith(_SERVER_LOGGERS)]
    texts.append(store.describe())
    haystack = "\n".join(texts)

    assert any(e.state == "error" for e in events)  # the scan covered a failure path too
    assert len(idp.issued) >= 6
    for secret in idp.issued:
        assert secret not in haystack, "a token leaked"
    for code in idp.seen:
        if code.path == "/oauth/token" and "code" in code.params:
            assert code.params["code"] not in haystack, "an authorization code leaked"
            assert code.params.get("code_verifier", "\0") not in haystack, "a PKCE verifier leaked"
