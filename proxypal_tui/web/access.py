"""Who may see the web view: one login with the management key per browser session.

The key is compared in constant time. A good login gets a random session id in an HttpOnly,
SameSite=Strict cookie with no expiry date (it ends with the browser session); the server keeps
only the ids' SHA-256 in memory, so a restart signs everyone out. Every route except the login
page needs a live session — the app's websocket too, since that is where the app really runs.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from proxypal_tui.core.api import read_management_key

SESSION_COOKIE = "proxypal_web_session"
LOGIN_PATH = "/login"
IDLE_LIMIT_S = 12 * 3600.0
MAX_SESSIONS = 256

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SessionBook:
    """Live browser sessions, by the digest of their id, each forgotten after a long idle spell."""

    def __init__(
        self, idle_limit: float = IDLE_LIMIT_S, limit: int = MAX_SESSIONS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._idle_limit = idle_limit
        self._limit = limit
        self._clock = clock

    def open(self) -> str:
        """A new session id (256 random bits); the oldest session goes when the book is full."""
        token = secrets.token_urlsafe(32)
        self._seen[_digest(token)] = self._clock()
        while len(self._seen) > self._limit:
            self._seen.popitem(last=False)
        return token

    def valid(self, token: str | None) -> bool:
        """True for a live session; using it keeps it alive."""
        if not token:
            return False
        key = _digest(token)
        last = self._seen.get(key)
        now = self._clock()
        if last is None:
            return False
        if now - last > self._idle_limit:
            del self._seen[key]
            return False
        self._seen[key] = now
        self._seen.move_to_end(key)
        return True

    def __len__(self) -> int:
        return len(self._seen)


def key_matches(given: str, key_file: Path) -> bool | None:
    """Constant-time comparison with the engine's management key; None while there is no key yet."""
    expected = read_management_key(key_file)
    if expected is None:
        return None
    return hmac.compare_digest(given.strip().encode("utf-8"), expected.encode("utf-8"))


def same_origin(request: web.Request) -> bool:
    """A browser's Origin, when it sends one, must name this server (no cross-site logins or sockets)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == request.host.lower()


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>ProxyPal — sign in</title>
<style>
body {{ background: #0c181f; color: #e8eef2; font: 16px/1.5 system-ui, sans-serif; display: flex;
       min-height: 100vh; margin: 0; align-items: center; justify-content: center; }}
main {{ background: #12232d; padding: 2rem 2.5rem; border-radius: 8px; max-width: 30rem; }}
h1 {{ font-size: 1.4rem; margin-top: 0; }}
input {{ width: 100%; box-sizing: border-box; padding: .5rem; font: inherit; margin: .5rem 0 1rem; }}
button {{ padding: .5rem 1.5rem; font: inherit; background: #5e0ba7; color: #fff; border: 0; cursor: pointer; }}
.error {{ color: #ff8a80; font-weight: bold; }}
code {{ color: #9cdcfe; }}
</style></head>
<body><main>
<h1>ProxyPal control centre</h1>
{message}
<form method="post" action="{action}">
<label for="key">Management key</label>
<input id="key" name="key" type="password" autocomplete="current-password" autofocus required>
<button type="submit">Sign in</button>
</form>
<p>The key is in <code>management.key</code> in ProxyPal's data folder on the machine that runs it;
<code>proxypal-tui --web</code> printed where. You sign in once per browser session.</p>
</main></body></html>
"""


def login_page(message: str = "", status: int = 200) -> web.Response:
    """The sign-in form, with an optional error line; never cached."""
    note = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    body = _PAGE.format(message=note, action=LOGIN_PATH)
    return web.Response(text=body, status=status, content_type="text/html", headers={"Cache-Control": "no-store"})


class LoginGate:
    """The login routes and the middleware that keeps everything else behind a session."""

    def __init__(self, key_file: Path, secure_cookie: bool, book: SessionBook | None = None) -> None:
        self.key_file = key_file
        self.secure_cookie = secure_cookie
        self.book = book or SessionBook()

    def routes(self) -> list[web.RouteDef]:
        return [web.get(LOGIN_PATH, self.show_login), web.post(LOGIN_PATH, self.sign_in)]

    async def show_login(self, request: web.Request) -> web.StreamResponse:
        if self.book.valid(request.cookies.get(SESSION_COOKIE)):
            raise web.HTTPSeeOther("/")
        return login_page()

    async def sign_in(self, request: web.Request) -> web.StreamResponse:
        if not same_origin(request):
            return login_page("Sign-in refused: the form was sent from another site.", status=403)
        form = await request.post()
        given = form.get("key")
        if not isinstance(given, str) or not given.strip():
            return login_page("Enter the management key.", status=400)
        match = key_matches(given, self.key_file)
        if match is None:
            return login_page(
                "The engine has not created its management key yet; try again once it has started.", status=503
            )
        if not match:
            return login_page("Wrong management key: access refused.", status=401)
        response = web.HTTPSeeOther("/")
        response.set_cookie(
            SESSION_COOKIE,
            self.book.open(),
            httponly=True,
            samesite="Strict",
            secure=self.secure_cookie,
            path="/",
        )
        raise response

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == LOGIN_PATH:
            return await handler(request)
        if not self.book.valid(request.cookies.get(SESSION_COOKIE)):
            if request.method == "GET" and request.path == "/":
                raise web.HTTPSeeOther(LOGIN_PATH)
            raise web.HTTPUnauthorized(text=f"sign in at {LOGIN_PATH} first\n")
        if not same_origin(request):
            raise web.HTTPForbidden(text="requests from another site are refused\n")
        return await handler(request)


async def add_safety_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer: no framing (clickjacking), no sniffing, and no referrer to other sites.

    (`same-origin`, not `no-referrer`: with the latter Chromium sends `Origin: null` on our own form.)
    """
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
