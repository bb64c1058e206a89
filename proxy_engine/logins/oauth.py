"""OAuth 2.0 client mechanics shared by every login: PKCE, authorize URLs, redirects, token calls.

authlib supplies the protocol pieces (PKCE challenge, grant URI, token request bodies);
httpx does the I/O. Errors carry the provider's `error` code and a redacted description,
never a token, code or verifier.
"""

from __future__ import annotations

import hmac
import json
import time
from urllib.parse import parse_qsl, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from proxy_engine.logins.endpoints import Endpoints
from proxy_engine.logins.errors import AuthError
from proxy_engine.logins.tokens import TokenSet, credential_slug, redact

USER_AGENT = "proxypal-auth/0.1"


class LoginDenied(AuthError):
    """The user (or the provider) refused consent."""


class LoginExpired(AuthError):
    """The device code or authorization request expired before the user finished."""


class LoginTimeout(AuthError):
    """Nobody completed the login in time."""


class TokenEndpointError(AuthError):
    def __init__(self, message: str, *, status: int, error: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.error = error


def new_pkce() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) per RFC 7636."""
    verifier = generate_token(64)
    return verifier, create_s256_code_challenge(verifier)


def new_state() -> str:
    return generate_token(32)


def authorize_url(ep: Endpoints, *, redirect_uri: str, state: str, code_challenge: str) -> str:
    return prepare_grant_uri(
        ep.authorize_url,
        client_id=ep.client_id,
        response_type="code",
        redirect_uri=redirect_uri,
        scope=list(ep.scopes),
        state=state,
        code_challenge=code_challenge,
        code_challenge_method="S256",
        **ep.extra_authorize_params,
    )


def code_from_redirect(text: str, expected_state: str) -> str:
    """The authorization code from whatever the user pasted or the listener received.

    Accepts the full redirect URL, its query string, Claude's `code#state` display form, or a
    bare code. A state that is present must match; an `error` parameter means denial.
    """
    text = text.strip()
    if not text:
        raise AuthError("nothing was pasted")
    if "?" in text or text.startswith(("http://", "https://")) or "code=" in text or "error=" in text:
        query = urlsplit(text).query if "://" in text or text.startswith("/") else text.lstrip("?")
        params = dict(parse_qsl(query, keep_blank_values=True))
        if not params and "#" in text:
            params = dict(parse_qsl(text.split("#", 1)[1]))
    elif "#" in text:
        code, state = text.split("#", 1)
        params = {"code": code, "state": state}
    else:
        params = {"code": text}
    if "error" in params:
        err = params["error"][:64]
        desc = params.get("error_description", "")[:200]
        message = f"the provider refused the login: {err}" + (f" ({desc})" if desc else "")
        if err == "access_denied":
            raise LoginDenied(message)
        raise AuthError(message)
    state = params.get("state")
    if state is not None and not hmac.compare_digest(state.encode(), expected_state.encode()):
        raise AuthError("the redirect's state does not match this login (stale or forged URL); start again")
    code = params.get("code", "")
    if not code:
        raise AuthError("the pasted text has no authorization code")
    return code


def error_from_response(what: str, resp: httpx.Response, secrets: list[str]) -> TokenEndpointError:
    error, desc = "", ""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):  # some providers nest {"error": {"type":..., "message":...}}
            error = str(err.get("type") or err.get("code") or "")
            desc = str(err.get("message") or "")
        else:
            error = str(err or "")
            desc = str(body.get("error_description") or body.get("message") or "")
    msg = f"{what} failed: HTTP {resp.status_code}"
    if error:
        msg += f" {error}"
    if desc:
        msg += f": {desc[:200]}"
    return TokenEndpointError(redact(msg, secrets), status=resp.status_code, error=error)


async def post_token(
    http: httpx.AsyncClient,
    url: str,
    data: dict[str, str],
    *,
    json_body: bool = False,
    what: str = "token request",
    headers: dict[str, str] | None = None,
) -> dict:
    """POST a token request (form, or JSON for providers that want it) and return the JSON answer."""
    secrets = [v for k, v in data.items() if k not in {"grant_type", "client_id", "scope", "redirect_uri"}]
    hdrs = {"Accept": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
    try:
        if json_body:
            resp = await http.post(url, content=json.dumps(data), headers={**hdrs, "Content-Type": "application/json"})
        else:
            resp = await http.post(url, data=data, headers=hdrs)
    except httpx.HTTPError as exc:
        raise AuthError(f"{what} failed: cannot reach {urlsplit(url).netloc} ({type(exc).__name__})") from None
    if resp.status_code >= 400:
        raise error_from_response(what, resp, secrets)
    try:
        body = resp.json()
    except ValueError:
        raise AuthError(f"{what} failed: the answer was not JSON (HTTP {resp.status_code})") from None
    if not isinstance(body, dict):
        raise AuthError(f"{what} failed: unexpected answer shape")
    if body.get("error"):  # GitHub answers 200 with an error field
        raise error_from_response(what, resp, secrets)
    return body


async def get_json(http: httpx.AsyncClient, url: str, *, token: str, what: str, scheme: str = "Bearer") -> dict:
    """GET a JSON resource with a bearer-style token (userinfo, GitHub /user, Copilot exchange)."""
    try:
        resp = await http.get(
            url,
            headers={
                "Authorization": f"{scheme} {token}",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
        )
    except httpx.HTTPError as exc:
        raise AuthError(f"{what} failed: cannot reach {urlsplit(url).netloc} ({type(exc).__name__})") from None
    if resp.status_code >= 400:
        raise error_from_response(what, resp, [token])
    try:
        body = resp.json()
    except ValueError:
        raise AuthError(f"{what} failed: the answer was not JSON") from None
    return body if isinstance(body, dict) else {}


def token_set(
    provider: str,
    body: dict,
    *,
    account: str = "",
    previous: TokenSet | None = None,
    extra: dict | None = None,
) -> TokenSet:
    """Build a TokenSet from a token endpoint answer; keep the old refresh token if none is returned."""
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise AuthError(f"{provider}: the token answer has no access_token")
    expires_in = body.get("expires_in")
    expires_at = None
    if isinstance(expires_in, int | float) or (isinstance(expires_in, str) and expires_in.isdigit()):
        expires_at = time.time() + float(expires_in)
    refresh = body.get("refresh_token") or (previous.refresh_token if previous else None)
    label = account or (previous.account if previous else "") or "default"
    merged = {**(previous.extra if previous else {}), **(extra or {})}
    return TokenSet(
        provider=provider,
        credential=previous.credential if previous else credential_slug(label),
        access_token=access,
        refresh_token=refresh,
        expires_at=expires_at,
        account=label,
        token_type=str(body.get("token_type") or "Bearer"),
        scope=str(body.get("scope") or (previous.scope if previous else "")),
        extra=merged,
    )
