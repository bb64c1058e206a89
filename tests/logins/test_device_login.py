"""Device-code logins (GitHub/Copilot, Qwen with PKCE, Codex's own flow) and Vertex service accounts."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from proxy_engine.logins.endpoints import DEFAULTS, endpoints_for
from proxy_engine.logins.flows import codex_device_login, device_login
from proxy_engine.logins.oauth import AuthError, LoginDenied, LoginExpired, TokenEndpointError
from proxy_engine.logins.providers import COPILOT_HEADERS, provider_auth
from tests.logins.helpers import rsa_service_account, wait_for
from tests.logins.oauth_models import DEVICE
from tests.logins.oauth_server import FakeIdP
from tests.logins.scripted_ui import ScriptedUI


def _provider(idp: FakeIdP, name: str, **more: object):  # type: ignore[no-untyped-def]
    return provider_auth(name, endpoints_for(name, {**idp.endpoints(name), **more}))


def _polls(idp: FakeIdP) -> list:
    return [s for s in idp.seen if s.path == "/oauth/token" and s.params.get("grant_type") == DEVICE]


async def _approve_later(idp: FakeIdP, ui: ScriptedUI, after_polls: int, allow: bool = True) -> None:
    await wait_for(lambda: ui.device_codes and len(_polls(idp)) >= after_polls)
    idp.approve_device(ui.device_codes[0][1], allow=allow)


async def test_copilot_device_login_then_session_token(idp: FakeIdP, http: httpx.AsyncClient) -> None:
    ui = ScriptedUI(idp, device="ignore")
    provider = _provider(idp, "copilot")
    approver = asyncio.ensure_future(_approve_later(idp, ui, after_polls=2))
    tokens = await device_login(provider, ui, http=http)
    await approver

    assert len(_polls(idp)) >= 3  # GitHub-style 200 + authorization_pending answers were polled through
    assert ui.device_codes[0][0] == f"{idp.base_url}/device"
    assert tokens.account == "ann-gh" and tokens.credential == "ann-gh"
    assert tokens.access_token.startswith("tid=copilot")  # the Copilot session token
    github_token = tokens.refresh_token
    assert github_token in idp.access  # the long-lived GitHub token is what refreshes it
    exchange = [s for s in idp.seen if s.path == "/copilot_internal/v2/token"]
    assert exchange[0].headers["Authorization"] == f"token {github_token}"
    up = provider.upstream(tokens)
    assert up.base_url == f"{idp.base_url}/copilot-api" and up.dialect == "openai_chat"
    for header, value in COPILOT_HEADERS.items():
        assert up.headers[header] == value
    fresh = await provider.refresh(http, tokens)
    assert fresh.access_token != tokens.access_token and fresh.refresh_token == github_token
    assert fresh.credential == tokens.credential


async def test_qwen_device_login_with_pkce(idp: FakeIdP, http: httpx.AsyncClient) -> None:
    provider = _provider(idp, "qwen")
    tokens = await device_login(provider, ScriptedUI(idp), http=http, pkce=True)
    start = next(s for s in idp.seen if s.path == "/oauth/device/code")
    assert start.params["client_id"] == DEFAULTS["qwen"].client_id
    assert start.params["code_challenge_method"] == "S256" and start.params["code_challenge"]
    assert _polls(idp)[-1].params["code_verifier"]  # the server checked it against the challenge
    assert tokens.refresh_token in idp.refresh
    assert provider.upstream(tokens).base_url == "https://portal.qwen.example/v1"
    fresh = await provider.refresh(http, tokens)
    assert fresh.access_token != tokens.access_token and fresh.refresh_token != tokens.refresh_token


async def test_qwen_poll_without_the_right_verifier_is_rejected(idp: FakeIdP, http: httpx.AsyncClient) -> None:
    """Proves the server really enforces PKCE, so the test above means something."""
    start = (
        await http.post(
            f"{idp.base_url}/oauth/device/code",
            data={
                "client_id": DEFAULTS["qwen"].client_id,
                "code_challenge": "x" * 43,
                "code_challenge_method": "S256",
            },
        )
    ).json()
    idp.approve_device(start["user_code"])
    resp = await http.post(
        f"{idp.base_url}/oauth/token",
        data={
            "grant_type": DEVICE,
            "client_id": DEFAULTS["qwen"].client_id,
            "device_code": start["device_code"],
        },
    )
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"


async def test_denied_device_login(idp: FakeIdP, http: httpx.AsyncClient) -> None:
    with pytest.raises(LoginDenied):
        await device_login(_provider(idp, "copilot"), ScriptedUI(idp, device="deny"), http=http)
    with pytest.raises(LoginDenied):
        await device_login(_provider(idp, "qwen"), ScriptedUI(idp, device="deny"), http=http, pkce=True)


async def test_expired_device_code(idp: FakeIdP, http: httpx.AsyncClient) -> None:
    idp.device_ttl = 0.15  # the server expires the code while the user has not approved it
    with pytest.raises(LoginExpired):
        await device_login(_provider(idp, "qwen"), ScriptedUI(idp, device="ignore"), http=http, pkce=True)
    assert any(s.path == "/oauth/token" for s in idp.seen)


async def test_codex_device_login(idp: FakeIdP, http: httpx.AsyncClient) -> None:
    ui = ScriptedUI(idp, device="ignore")
    provider = _provider(idp, "codex")

    async def approve() -> None:
        await wait_for(lambda: ui.device_codes)
        await asyncio.sleep(0.1)  # a few 404 "pending" polls first
        idp.approve_device(ui.device_codes[0][1])

    approver = asyncio.ensure_future(approve())
    tokens = await codex_device_login(provider, ui, http=http)
    await approver
    assert ui.device_codes[0][0] == f"{idp.base_url}/codex/device"
    assert tokens.account == "ann@example.com" and tokens.extra["account_id"] == "acct-123"
    exchange = next(s for s in idp.seen if s.params.get("grant_type") == "authorization_code")
    assert exchange.params["redirect_uri"] == f"{idp.base_url}/deviceauth/callback"
    assert exchange.params["client_id"] == DEFAULTS["codex"].client_id


async def test_codex_device_login_that_is_never_approved_expires(idp: FakeIdP, http: httpx.AsyncClient) -> None:
    with pytest.raises(LoginExpired):
        await codex_device_login(_provider(idp, "codex"), ScriptedUI(idp, device="ignore"), http=http, max_wait=0.3)


async def test_vertex_service_account_jwt_bearer(idp: FakeIdP, http: httpx.AsyncClient) -> None:
    key = rsa_service_account(idp)
    provider = _provider(idp, "vertex")
    tokens = await provider.login_service_account(http, json.dumps(key))
    assert tokens.account == key["client_email"] and tokens.extra["project_id"] == "proj-1"
    assert tokens.access_token in idp.access and tokens.expires_at is not None
    assert json.loads(tokens.refresh_token or "")["private_key"] == key["private_key"]
    grant = next(s for s in idp.seen if s.params.get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer")
    assert grant.params["assertion"].count(".") == 2  # a compact JWS; authlib verified its RS256 signature
    fresh = await provider.refresh(http, tokens)
    assert fresh.access_token != tokens.access_token
    up = provider.upstream(fresh, location="europe-west4")
    assert up.base_url.endswith("/projects/proj-1/locations/europe-west4")
    assert up.base_url.startswith("https://europe-west4-aiplatform.googleapis.com/v1")


async def test_vertex_unknown_service_account_is_refused_without_leaking_the_key(
    idp: FakeIdP, http: httpx.AsyncClient
) -> None:
    key = rsa_service_account(idp)
    idp.clients.pop(key["client_email"])  # the provider does not know this account
    with pytest.raises(TokenEndpointError) as err:
        await _provider(idp, "vertex").login_service_account(http, json.dumps(key))
    assert err.value.error == "invalid_grant"
    assert "PRIVATE KEY" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("not json", "not JSON"),
        (json.dumps({"type": "authorized_user"}), "type must be service_account"),
        (json.dumps({"type": "service_account", "client_email": "a@b"}), "lacks: private_key, project_id"),
    ],
)
async def test_vertex_rejects_bad_key_files(idp: FakeIdP, http: httpx.AsyncClient, text: str, match: str) -> None:
    with pytest.raises(AuthError, match=match):
        await _provider(idp, "vertex").login_service_account(http, text)


async def test_vertex_garbage_private_key(idp: FakeIdP, http: httpx.AsyncClient) -> None:
    key = {
        **rsa_service_account(idp),
        "private_key": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n",
    }
    with pytest.raises(AuthError, match="private key could not be loaded"):
        await _provider(idp, "vertex").login_service_account(http, json.dumps(key))
