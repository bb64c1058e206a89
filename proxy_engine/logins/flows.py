"""Interactive logins: browser authorization code + PKCE, RFC 8628 device code, Codex's device flow, API keys.

Every flow talks to the user through a `LoginUI` (the CLI prints and reads stdin; the TUI shows
a dialog; tests script it) and returns a `TokenSet` the caller saves with `save_tokens`.
"""

from __future__ import annotations

import asyncio
import webbrowser
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from proxy_engine.logins.callback import CallbackListener
from proxy_engine.logins.oauth import (
    USER_AGENT,
    AuthError,
    LoginDenied,
    LoginExpired,
    LoginTimeout,
    TokenEndpointError,
    authorize_url,
    code_from_redirect,
    error_from_response,
    new_pkce,
    new_state,
    post_token,
)
from proxy_engine.logins.providers import ProviderAuth
from proxy_engine.logins.tokens import TokenSet

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class LoginUI(Protocol):
    def show_authorize_url(self, url: str, *, browser_opened: bool, listening: bool) -> None:
        """Show the URL to open; say whether a browser was launched and whether a listener waits."""

    def show_device_code(self, verification_uri: str, user_code: str, complete_uri: str | None) -> None:
        """Tell the user where to go and which code to type."""

    async def read_redirect(self) -> str | None:
        """One pasted line (the redirect URL), or None when no paste is possible (EOF)."""

    def status(self, message: str) -> None:
        """A progress line. Never passed a secret."""


async def _first_redirect(listener: CallbackListener | None, ui: LoginUI) -> str:
    """Whichever comes first: the browser hitting the listener, or the user pasting the URL."""

    async def pasted() -> str:
        while True:
            text = await ui.read_redirect()
            if text is None:
                if listener is None:
                    raise AuthError("no redirect URL was pasted")
                await asyncio.Event().wait()  # no paste possible: only the listener can finish
            if text and text.strip():
                return text

    tasks = [asyncio.ensure_future(pasted())]
    if listener is not None:
        tasks.append(asyncio.ensure_future(listener.wait()))
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        return next(iter(done)).result()
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def browser_login(
    provider: ProviderAuth,
    ui: LoginUI,
    *,
    http: httpx.AsyncClient,
    no_browser: bool = False,
    open_browser: Callable[[str], bool] | None = webbrowser.open,
    wait_seconds: float = 600.0,
    label: str = "",
    project: str | None = None,
) -> TokenSet:
    """Authorization code + PKCE with a loopback listener, or paste-the-redirect-URL (`no_browser`).

    If the registered port is busy the flow falls back to pasting, since the redirect URI must
    stay the one registered with the provider.
    """
    ep = provider.ep
    verifier, challenge = new_pkce()
    state = new_state()
    listener: CallbackListener | None = None
    port = ep.redirect_port
    if not no_browser:
        listener = CallbackListener(ep.redirect_port, ep.redirect_path)
        try:
            port = await listener.start()
        except OSError:
            ui.status(f"port {ep.redirect_port} is in use; paste the redirect URL from the browser instead")
            listener = None
    redirect_uri = ep.redirect_uri(port)
    url = authorize_url(ep, redirect_uri=redirect_uri, state=state, code_challenge=challenge)
    opened = False
    if listener is not None and open_browser is not None:
        try:
            opened = bool(await asyncio.to_thread(open_browser, url))
        except webbrowser.Error:
            opened = False
    ui.show_authorize_url(url, browser_opened=opened, listening=listener is not None)
    try:
        redirect = await asyncio.wait_for(_first_redirect(listener, ui), wait_seconds)
    except TimeoutError:
        raise LoginTimeout(f"{provider.name}: nobody completed the login within {int(wait_seconds)} s") from None
    finally:
        if listener is not None:
            await listener.close()
    code = code_from_redirect(redirect, state)
    ui.status("exchanging the authorization code")
    body = await provider.exchange_code(http, code, verifier, redirect_uri, state)
    return await provider.complete(http, body, label=label, project=project)


def _interval(value: object, floor: float) -> float:
    try:
        seconds = float(value) if value is not None else 5.0
    except (TypeError, ValueError):
        seconds = 5.0
    return max(seconds, floor)


async def device_login(
    provider: ProviderAuth,
    ui: LoginUI,
    *,
    http: httpx.AsyncClient,
    pkce: bool = False,
    label: str = "",
) -> TokenSet:
    """RFC 8628 device authorization (GitHub for Copilot; Qwen adds PKCE)."""
    ep = provider.ep
    request = {"client_id": ep.client_id, "scope": " ".join(ep.scopes)}
    verifier = ""
    if pkce:
        verifier, challenge = new_pkce()
        request |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    start = await post_token(http, ep.device_code_url, request, what="device code request")
    device_code, user_code = start.get("device_code"), start.get("user_code")
    if not device_code or not user_code:
        raise AuthError(f"{provider.name}: the device code answer lacks device_code/user_code")
    verification = str(start.get("verification_uri") or start.get("verification_url") or ep.verification_url)
    ui.show_device_code(verification, str(user_code), start.get("verification_uri_complete"))
    interval = _interval(start.get("interval"), ep.min_poll_interval)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + float(start.get("expires_in") or 900)
    poll = {"grant_type": DEVICE_GRANT, "client_id": ep.client_id, "device_code": str(device_code)}
    if pkce:
        poll["code_verifier"] = verifier
    while True:
        if loop.time() >= deadline:
            raise LoginExpired(f"{provider.name}: the device code expired before the login was approved")
        await asyncio.sleep(interval)
        try:
            body = await post_token(http, ep.token_url, poll, what="device login")
        except TokenEndpointError as exc:
            if exc.error == "authorization_pending":
                continue
            if exc.error == "slow_down":
                interval += 5
                continue
            if exc.error == "access_denied":
                raise LoginDenied(f"{provider.name}: the login was denied") from None
            if exc.error == "expired_token":
                raise LoginExpired(f"{provider.name}: the device code expired before the login was approved") from None
            raise
        return await provider.complete(http, body, label=label)


async def _post_json(http: httpx.AsyncClient, url: str, body: dict, what: str) -> httpx.Response:
    try:
        return await http.post(url, json=body, headers={"Accept": "application/json", "User-Agent": USER_AGENT})
    except httpx.HTTPError as exc:
        raise AuthError(f"{what} failed: cannot reach {urlsplit(url).netloc} ({type(exc).__name__})") from None


async def codex_device_login(
    provider: ProviderAuth,
    ui: LoginUI,
    *,
    http: httpx.AsyncClient,
    label: str = "",
    max_wait: float = 900.0,
) -> TokenSet:
    """OpenAI's own device flow: user code -> poll for an authorization code -> PKCE exchange.

    The server mints the PKCE pair and returns the verifier with the code; a 403/404 poll
    answer means "not approved yet".
    """
    ep = provider.ep
    resp = await _post_json(http, ep.device_code_url, {"client_id": ep.client_id}, "device code request")
    if resp.status_code >= 400:
        raise error_from_response("device code request", resp, [])
    start = resp.json()
    device_auth_id, user_code = start.get("device_auth_id"), start.get("user_code") or start.get("usercode")
    if not device_auth_id or not user_code:
        raise AuthError("codex: the device code answer lacks device_auth_id/user_code")
    ui.show_device_code(ep.verification_url, str(user_code), None)
    interval = _interval(start.get("interval"), ep.min_poll_interval)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait
    while True:
        if loop.time() >= deadline:
            raise LoginExpired("codex: the device code expired before the login was approved")
        await asyncio.sleep(interval)
        poll = await _post_json(
            http,
            ep.device_token_url,
            {"device_auth_id": device_auth_id, "user_code": user_code},
            "device login",
        )
        if poll.status_code in (403, 404):
            continue
        if poll.status_code >= 400:
            raise error_from_response("device login", poll, [str(device_auth_id)])
        grant = poll.json()
        code, verifier = grant.get("authorization_code"), grant.get("code_verifier")
        if not code or not verifier:
            raise AuthError("codex: the approved device login carried no authorization code")
        break
    data = {
        "grant_type": "authorization_code",
        "code": str(code),
        "redirect_uri": ep.device_redirect_uri,
        "client_id": ep.client_id,
        "code_verifier": str(verifier),
    }
    body = await post_token(http, ep.token_url, data, what="code exchange")
    return await provider.complete(http, body, label=label)
