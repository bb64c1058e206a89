"""Browser logins (authorization code + PKCE) end to end against the local authorization server."""

from __future__ import annotations

import socket
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from proxy_engine.logins.endpoints import DEFAULTS, endpoints_for
from proxy_engine.logins.flows import browser_login
from proxy_engine.logins.oauth import AuthError, LoginDenied, LoginTimeout, TokenEndpointError
from proxy_engine.logins.providers import provider_auth
from tests.logins.helpers import browser_get, browser_opener, fetch_authorize
from tests.logins.oauth_server import FakeIdP
from tests.logins.scripted_ui import ScriptedUI


def _provider(idp: FakeIdP, name: str, **more: object):  # type: ignore[no-untyped-def]
    return provider_auth(name, endpoints_for(name, {**idp.endpoints(name), **more}))


def _token_posts(idp: FakeIdP, grant: str) -> list:
    return [s for s in idp.seen if s.path == "/oauth/token" and s.params.get("grant_type") == grant]


async def test_claude_login_through_the_local_listener(idp: FakeIdP, http: httpx.AsyncClient) -> None:
    ui = ScriptedUI(idp)
    browser = browser_opener()
    tokens = await browser_login(_provider(idp, "claude"), ui, http=http, open_browser=browser)

    assert tokens.provider == "claude"
    assert tokens.account == "ann@example.com" and tokens.credential == "ann@example.com"
    assert tokens.access_token in idp.access and tokens.refresh_token in idp.refresh
    assert tokens.expires_at is not None
    # the authorize request carried Claude Code's public client and PKCE S256
    query = parse_qs(urlsplit(browser.opened[0]).query)
    assert query["client_id"] == [DEFAULTS["claude"].client_id]
    assert query["code"] == ["true"] and query["code_challenge_method"] == ["S256"]
    assert query["scope"] == ["org:create_api_key user:profile user:inference"]
    redirect = urlsplit(query["redirect_uri"][0])
    assert (redirect.hostname, redirect.path) == ("localhost", "/callback")
    # Claude's token endpoint takes JSON, with the state echoed and the PKCE verifier
    (exchange,) = _token_posts(idp, "authorization_code")
    assert exchange.content_type.startswith("application/json")
    assert exchange.params["state"] == query["state"][0]
    assert len(exchange.params["code_verifier"]) >= 43
    assert "authorize browser_opened=True listening=True" in ui.messages


async def test_codex_login_by_pasting_the_redirect_url(idp: FakeIdP, http: httpx.AsyncClient) -> None:
    ui = ScriptedUI(idp, paste=True)
    provider = _provider(idp, "codex")
    tokens = await browser_login(provider, ui, http=http, no_browser=True, open_browser=None)

    assert tokens.account == "ann@example.com"
    assert tokens.extra == {"account_id": "acct-123", "plan": "plus"}
    query = parse_qs(urlsplit(ui.urls[0]).query)
    assert query["codex_cli_simplified_flow"] == ["true"] and query["id_token_add_organizations"] == ["true"]
    assert urlsplit(query["redirect_uri"][0]).path == "/auth/callback"
    (exchange,) = _token_posts(idp, "authorization_code")
    assert exchange.content_type.startswith("application/x-www-form-urlencoded")
    up = provider.upstream(tokens)
    assert up.dialect == "openai_responses" and up.base_url.endswith("/backend-api/codex")
    assert up.headers["chatgpt-account-id"] == "acct-123"
    assert up.headers["Authorization"] == f"Bearer {tokens.access_token}"
    assert "listening=False" in ui.messages[0]


async def test_claude_code_hash_state_paste_form(idp: FakeIdP, http: httpx.AsyncClient) -> None:
    """Claude's hosted callback page shows `code#state`; pasting that works too."""

    class CodeHashUI(ScriptedUI):
        async def _copy_from_browser(self, url: str) -> None:
            q = parse_qs(urlsplit(await fetch_authorize(url)).query)
            await self._pasted.put(f"{q['code'][0]}#{q['state'][0]}")

    tokens = await browser_login(_provider(idp, "claude"), CodeHashUI(idp, paste=True), http=http, no_browser=True)
    assert tokens.access_token in idp.access


async def test_gemini_cli_login_onboards_a_free_tier_project(idp: FakeIdP, http: httpx.AsyncClient) -> None:
    provider = _provider(idp, "gemini-cli")
    tokens = await browser_login(provider, ScriptedUI(idp), http=http, open_browser=browser_opener())

    assert tokens.account == "ann@example.com"
    assert tokens.extra == {"project_id": "managed-42", "tier": "free-tier"}
    (exchange,) = _token_posts(idp, "authorization_code")
    assert exchange.params["client_secret"] == DEFAULTS["gemini-cli"].client_secret  # installed-app client
    onboard = [s for s in idp.seen if s.path == "/v1internal:onboardUser"]
    assert onboard and onboard[0].params["tierId"] == "free-tier"
    assert "cloudaicompanionProject" not in onboard[0].params  # free tier must not name a project
    up = provider.upstream(tokens)
    assert up.dialect == "gemini" and up.extra == {"project": "managed-42"}


async def test_gemini_cli_login_uses_an_existing_code_assist_project(idp: FakeIdP, http: httpx.AsyncClient) -> None:
    idp.code_assist_project = "my-team-project"
    tokens = await browser_login(
        _provider(idp, "gemini-cli"),
        ScriptedUI(idp),
        http=http,
        open_browser=browser_opener(),
        project="my-team-project",
    )
    assert tokens.extra["project_id"] == "my-team-project"
    assert not [s for s in idp.seen if s.path == "/v1internal:onboardUser"]


@pytest.mark.parametrize("paste", [False, True])
async def test_denied_consent_is_reported(idp: FakeIdP, http: httpx.AsyncClient, paste: bool) -> None:
    idp.consent = "deny"
    ui = ScriptedUI(idp, paste=paste)
    with pytest.raises(LoginDenied, match="access_denied"):
        await browser_login(
            _provider(idp, "claude"),
            ui,
            http=http,
            no_browser=paste,
            open_browser=None if paste else browser_opener(),
        )
    assert not idp.access


async def test_a_pasted_url_from_another_login_is_refused(idp: FakeIdP, http: httpx.AsyncClient) -> None:
    stale = "http://localhost:54545/callback?code=abc123&state=not-this-login"
    with pytest.raises(AuthError, match="state does not match"):
        await browser_login(_provider(idp, "claude"), ScriptedUI(idp, paste_text=stale), http=http, no_browser=True)


async def test_a_bogus_code_fails_at_the_token_endpoint_without_echoing_it(
    idp: FakeIdP, http: httpx.AsyncClient
) -> None:
    class BogusCodeUI(ScriptedUI):
        async def _copy_from_browser(self, url: str) -> None:
            state = parse_qs(urlsplit(url).query)["state"][0]
            await self._pasted.put(f"http://localhost:1/cb?code=BOGUS-CODE-777&state={state}")

    with pytest.raises(TokenEndpointError) as err:
        await browser_login(_provider(idp, "codex"), BogusCodeUI(idp, paste=True), http=http, no_browser=True)
    assert err.value.status == 400 and err.value.error == "invalid_grant"
    assert "BOGUS-CODE-777" not in str(err.value)


async def test_busy_callback_port_falls_back_to_pasting(idp: FakeIdP, http: httpx.AsyncClient) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        busy = blocker.getsockname()[1]
        ui = ScriptedUI(idp, paste=True)
        tokens = await browser_login(
            _provider(idp, "claude", redirect_port=busy), ui, http=http, open_browser=browser_opener()
        )
    assert tokens.access_token in idp.access
    assert any(f"port {busy} is in use" in m for m in ui.messages)
    assert parse_qs(urlsplit(ui.urls[0]).query)["redirect_uri"] == [f"http://localhost:{busy}/callback"]


async def test_nobody_finishing_times_out(idp: FakeIdP, http: httpx.AsyncClient) -> None:
    never = ScriptedUI(idp)  # no browser, nothing pasted, listener waits
    with pytest.raises(LoginTimeout):
        await browser_login(
            _provider(idp, "claude"), never, http=http, open_browser=lambda url: False, wait_seconds=0.3
        )


async def test_listener_answers_the_browser_and_closes(idp: FakeIdP, http: httpx.AsyncClient) -> None:
    pages: list[str] = []

    def browser(url: str) -> bool:
        _, headers, _ = browser_get(url)
        pages.append(browser_get(headers["location"])[2])
        return True

    await browser_login(_provider(idp, "claude"), ScriptedUI(idp), http=http, open_browser=browser)
    assert "Login received" in pages[0]
    port = urlsplit(idp.seen[0].params["redirect_uri"]).port
    assert port
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # the listener is gone
