"""Google-specific steps: service-account JWTs (Vertex AI) and Code Assist onboarding (Gemini CLI).

Service account: an RS256 JWT signed with the key file's private key is traded for an access
token at the key's `token_uri` (RFC 7523 JWT-bearer grant). Code Assist: after a Gemini CLI
sign-in, `loadCodeAssist` names the user's Cloud project, and users without one are
onboarded to the default tier (a long-running operation polled until done).
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
from authlib.oauth2.rfc7523 import JWTBearerGrant
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from proxy_engine.logins.oauth import USER_AGENT, AuthError, error_from_response, post_token

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_CA_METADATA = {"ideType": "IDE_UNSPECIFIED", "platform": "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI"}


def parse_service_account(text: str) -> dict:
    """Validate a service-account key file's JSON; raise AuthError naming what is missing."""
    try:
        info = json.loads(text)
    except ValueError:
        raise AuthError("the service-account file is not JSON") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise AuthError("the file is not a Google service-account key (type must be service_account)")
    missing = [k for k in ("client_email", "private_key", "project_id") if not info.get(k)]
    if missing:
        raise AuthError(f"the service-account key lacks: {', '.join(missing)}")
    return info


def service_account_assertion(info: dict, *, scopes: tuple[str, ...], token_url: str, lifetime: int = 3600) -> str:
    """A signed RS256 JWT asserting the service account, audience = the token endpoint."""
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT"}
    if info.get("private_key_id"):
        header["kid"] = info["private_key_id"]
    try:
        key = RSAKey.import_key(info["private_key"])
    except (ValueError, TypeError, JoseError):
        raise AuthError("the service-account private key could not be loaded") from None
    try:
        return JWTBearerGrant.sign(
            key,
            issuer=info["client_email"],
            audience=token_url,
            issued_at=now,
            expires_at=now + lifetime,
            claims={"scope": " ".join(scopes)},
            header=header,
        )
    except (ValueError, JoseError):
        raise AuthError("signing the service-account assertion failed") from None


async def service_account_token(
    http: httpx.AsyncClient, info: dict, *, scopes: tuple[str, ...], default_token_url: str
) -> dict:
    token_url = info.get("token_uri") or default_token_url
    assertion = service_account_assertion(info, scopes=scopes, token_url=token_url)
    return await post_token(
        http,
        token_url,
        {"grant_type": JWT_BEARER, "assertion": assertion},
        what="service-account token request",
    )


async def _ca_call(http: httpx.AsyncClient, url: str, token: str, body: dict | None, what: str) -> dict:
    headers = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT, "Accept": "application/json"}
    try:
        if body is None:
            resp = await http.get(url, headers=headers)
        else:
            resp = await http.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise AuthError(f"{what} failed: cannot reach Code Assist ({type(exc).__name__})") from None
    if resp.status_code >= 400:
        raise error_from_response(what, resp, [token])
    try:
        data = resp.json()
    except ValueError:
        raise AuthError(f"{what} failed: the answer was not JSON") from None
    return data if isinstance(data, dict) else {}


async def code_assist_onboard(
    http: httpx.AsyncClient,
    base_url: str,
    access_token: str,
    *,
    project_id: str | None = None,
    poll_interval: float = 5.0,
    max_polls: int = 60,
) -> dict:
    """Find or create the Code Assist project for a Gemini CLI login.

    Returns {"project_id", "tier"}. Mirrors the public Gemini CLI: the free tier uses a
    Google-managed project (no project may be sent); other tiers need the user's project.
    """
    load = await _ca_call(
        http,
        f"{base_url}:loadCodeAssist",
        access_token,
        {"cloudaicompanionProject": project_id, "metadata": {**_CA_METADATA, "duetProject": project_id}},
        "Code Assist loadCodeAssist",
    )
    current = load.get("currentTier") or None
    if current:
        project = load.get("cloudaicompanionProject") or project_id
        if not project:
            raise AuthError(_ineligible(load))
        return {"project_id": _project_id(project), "tier": (load.get("paidTier") or current).get("id", "")}
    tier = next((t for t in load.get("allowedTiers") or [] if t.get("isDefault")), {"id": "legacy-tier"})
    tier_id = tier.get("id", "legacy-tier")
    request: dict = {"tierId": tier_id, "metadata": dict(_CA_METADATA)}
    if tier_id != "free-tier":
        request["cloudaicompanionProject"] = project_id
        request["metadata"]["duetProject"] = project_id
    op = await _ca_call(http, f"{base_url}:onboardUser", access_token, request, "Code Assist onboardUser")
    polls = 0
    while not op.get("done"):
        name = op.get("name")
        if not name or polls >= max_polls:
            raise AuthError("Code Assist onboarding did not finish; try again later")
        polls += 1
        await asyncio.sleep(poll_interval)
        op = await _ca_call(http, f"{base_url}/{name}", access_token, None, "Code Assist onboarding status")
    project = ((op.get("response") or {}).get("cloudaicompanionProject") or {}).get("id") or project_id
    if not project:
        raise AuthError(_ineligible(load))
    return {"project_id": project, "tier": tier_id}


def _project_id(project: object) -> str:
    if isinstance(project, dict):
        return str(project.get("id") or "")
    return str(project)


def _ineligible(load: dict) -> str:
    reasons = [str(t.get("reasonMessage", "")) for t in load.get("ineligibleTiers") or [] if t.get("reasonMessage")]
    if reasons:
        return "Code Assist refused this account: " + "; ".join(reasons)[:300]
    return "this account needs a Google Cloud project: log in again with --project PROJECT_ID"
