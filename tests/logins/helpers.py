"""Test-side stand-ins for the user's browser and key files, and a polling helper."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

from joserfc.jwk import RSAKey

from tests.logins.oauth_server import FakeIdP


def rsa_service_account(idp: FakeIdP, email: str = "robot@proj-1.iam.gserviceaccount.com") -> dict:
    """A service-account key file (dict) whose public key the server trusts."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = RSAKey.import_key(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    idp.add_service_account(email, public)
    return {
        "type": "service_account",
        "project_id": "proj-1",
        "private_key_id": "kid-1",
        "private_key": pem,
        "client_email": email,
        "token_uri": f"{idp.base_url}/oauth/token",
    }


def browser_get(url: str) -> tuple[int, dict[str, str], str]:
    """One GET with no redirect following (http.client: unlike httpx it logs nothing, like a real
    browser whose history is not our process's log)."""
    import http.client

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=10)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode()
    finally:
        conn.close()


async def fetch_authorize(url: str) -> str:
    """Play the browser up to the provider's redirect: the Location header (code or error)."""
    status, headers, body = await asyncio.to_thread(browser_get, url)
    assert status == 302, body
    return headers["location"]


def browser_opener(*, follow: bool = True):  # type: ignore[no-untyped-def]
    """A stand-in browser for `browser_login(open_browser=...)` (runs in a worker thread)."""
    opened: list[str] = []

    def open_url(url: str) -> bool:
        opened.append(url)
        status, headers, _ = browser_get(url)
        if follow and status == 302:
            browser_get(headers["location"])
        return True

    open_url.opened = opened  # type: ignore[attr-defined]
    return open_url


async def wait_for(predicate, within: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)
