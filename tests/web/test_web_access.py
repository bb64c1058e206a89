"""The web view's gate and bind policy, without a browser: a real aiohttp server on loopback.

The app behind the gate is textual-serve's own (its page, static files and websocket handler).
No websocket is opened here (that would start an app process); tests/web/test_web_view.py opens
them from a real browser.
"""

from __future__ import annotations

import datetime as dt
import shlex
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from textual_serve.server import Server

from proxypal_tui.web.access import SESSION_COOKIE, LoginGate, SessionBook
from proxypal_tui.web.bind import BindRefused, is_loopback, plan_bind
from proxypal_tui.web.server import build_web_app

REPO = Path(__file__).resolve().parents[2]
KEY = "the-management-key-0123456789"
WS_HEADERS = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"}


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "management.key"
    path.write_text(KEY + "\n")
    path.chmod(0o600)
    return path


def web_app(key_file: Path, secure: bool = False) -> web.Application:
    server = Server(shlex.join([sys.executable, "-c", "pass"]), title="ProxyPal")
    return build_web_app(server, LoginGate(key_file, secure_cookie=secure))


@pytest.fixture
async def base(key_file: Path) -> AsyncIterator[str]:
    server = TestServer(web_app(key_file), host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


def session() -> aiohttp.ClientSession:
    # unsafe=True: aiohttp's jar otherwise keeps no cookies for an IP address host
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def sign_in(client: aiohttp.ClientSession, base: str, key: str) -> aiohttp.ClientResponse:
    async with client.post(f"{base}/login", data={"key": key}, allow_redirects=False) as r:
        await r.read()
        return r


async def test_everything_but_the_login_page_needs_a_session(base: str) -> None:
    async with session() as client:
        async with client.get(f"{base}/", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/login"
        for path in ("/static/js/textual.js", "/download/anything", "/ws"):
            async with client.get(base + path) as r:
                assert r.status == 401, path
                assert "sign in" in await r.text()
        async with client.get(f"{base}/login") as r:
            assert r.status == 200 and r.headers["X-Frame-Options"] == "DENY"
            assert r.headers["Cache-Control"] == "no-store"


async def test_a_wrong_key_is_refused_without_a_cookie(base: str) -> None:
    async with session() as client:
        for wrong, status in ((KEY + "x", 401), (KEY[:-1], 401), ("", 400)):
            r = await sign_in(client, base, wrong)
            assert r.status == status, wrong
            assert SESSION_COOKIE not in r.cookies
        async with client.get(f"{base}/static/js/textual.js") as r:
            assert r.status == 401


async def test_the_right_key_opens_a_session_cookie_that_opens_the_app(base: str) -> None:
    async with session() as client:
        r = await sign_in(client, base, KEY)
        assert r.status == 303 and r.headers["Location"] == "/"
        cookie = r.cookies[SESSION_COOKIE]
        assert cookie["httponly"] and cookie["samesite"] == "Strict" and not cookie["secure"]
        assert not cookie["expires"] and not cookie["max-age"], "a browser-session cookie"
        assert KEY not in cookie.value and len(cookie.value) >= 40
        async with client.get(f"{base}/") as page:
            html = await page.text()
            assert page.status == 200
            host = base.split("://", 1)[1]
            assert f'data-session-websocket-url="ws://{host}/ws"' in html, "the socket on the host the browser used"
        async with client.get(f"{base}/static/js/textual.js") as js:
            assert js.status == 200
        async with client.get(f"{base}/login", allow_redirects=False) as again:
            assert again.status == 303, "a signed-in browser skips the form"


async def test_a_forged_cookie_or_a_foreign_origin_is_refused(base: str) -> None:
    async with session() as client:
        async with client.get(f"{base}/ws", headers=WS_HEADERS, cookies={SESSION_COOKIE: "forged"}) as r:
            assert r.status == 401
        await sign_in(client, base, KEY)
        async with client.get(f"{base}/ws", headers={**WS_HEADERS, "Origin": "http://evil.example"}) as r:
            assert r.status == 403
        r = await sign_in_from(client, base, "http://evil.example")
        assert r.status == 403


async def sign_in_from(client: aiohttp.ClientSession, base: str, origin: str) -> aiohttp.ClientResponse:
    async with client.post(f"{base}/login", data={"key": KEY}, headers={"Origin": origin}) as r:
        await r.read()
        return r


async def test_no_key_file_yet_is_a_clear_503(tmp_path: Path) -> None:
    server = TestServer(web_app(tmp_path / "missing.key"), host="127.0.0.1")
    await server.start_server()
    try:
        async with session() as client:
            r = await sign_in(client, str(server.make_url("")).rstrip("/"), KEY)
            assert r.status == 503
    finally:
        await server.close()


def test_sessions_expire_when_idle_and_the_book_is_bounded() -> None:
    now = [0.0]
    book = SessionBook(idle_limit=10.0, limit=2, clock=lambda: now[0])
    a = book.open()
    now[0] = 9.0
    assert book.valid(a)
    now[0] = 18.0
    assert book.valid(a), "use keeps a session alive"
    now[0] = 29.0
    assert not book.valid(a)
    b, c, d = book.open(), book.open(), book.open()
    assert len(book) == 2 and not book.valid(b) and book.valid(c) and book.valid(d)
    assert not book.valid(None) and not book.valid("")


def test_the_bind_policy() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.5", "example.com", "localhost.evil.example"):
        assert not is_loopback(host), host
    assert plan_bind("127.0.0.1", 8318).warning is None
    with pytest.raises(BindRefused, match="without TLS"):
        plan_bind("0.0.0.0", 8318)
    loud = plan_bind("0.0.0.0", 8318, insecure_public=True)
    assert loud.tls is None and loud.warning and "WITHOUT TLS" in loud.warning
    with pytest.raises(BindRefused, match="go together"):
        plan_bind("127.0.0.1", 8318, certfile=Path("cert.pem"))
    with pytest.raises(BindRefused, match="between 0 and 65535"):
        plan_bind("127.0.0.1", 70000)


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    keyfile.chmod(0o600)
    return certfile, keyfile


async def test_over_tls_the_session_cookie_is_secure(tmp_path: Path, key_file: Path) -> None:
    certfile, keyfile = self_signed(tmp_path)
    public = plan_bind("0.0.0.0", 8318, certfile, keyfile)
    assert public.tls is not None and public.warning is None, "TLS makes a public bind acceptable"
    plan = plan_bind("127.0.0.1", 0, certfile, keyfile)
    runner = web.AppRunner(web_app(key_file, secure=True))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=plan.tls)
    await site.start()
    try:
        port = runner.addresses[0][1]
        trust = ssl.create_default_context(cafile=str(certfile))
        trust.check_hostname = False
        async with session() as client:
            async with client.post(
                f"https://127.0.0.1:{port}/login", data={"key": KEY}, allow_redirects=False, ssl=trust
            ) as r:
                assert r.status == 303
                assert r.cookies[SESSION_COOKIE]["secure"]
            async with client.get(f"https://127.0.0.1:{port}/", ssl=trust) as page:
                assert f'"wss://127.0.0.1:{port}/ws"' in await page.text()
    finally:
        await runner.cleanup()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxypal_tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "PROXYPAL_HOME": "/nonexistent/never-created"},
    )


def test_the_cli_refuses_a_public_bind_without_tls_and_stray_web_flags() -> None:
    refused = run_cli("--web", "--host", "0.0.0.0", "--port", "1")
    assert refused.returncode == 2
    assert "refusing to serve the web view on '0.0.0.0' without TLS" in refused.stderr
    assert "--insecure-public" in refused.stderr
    stray = run_cli("--port", "9000")
    assert stray.returncode == 2 and "--port need --web" in stray.stderr
    half = run_cli("--web", "--certfile", "cert.pem")
    assert half.returncode == 2 and "--certfile and --keyfile go together" in half.stderr
