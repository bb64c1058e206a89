"""The local redirect listener for browser logins.

Providers only redirect to the loopback port they registered for their CLI (54545 for
Claude, 1455 for Codex, 8085 for Gemini CLI), so the listener binds that exact port on
127.0.0.1 (and ::1 when it can, since browsers may resolve "localhost" to either). It
answers one request on the registered path and hands the full URL to the login flow.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import socket

from aiohttp import web

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>ProxyPal</title></head>
<body style="font-family:sans-serif;margin:3em"><h2>{title}</h2><p>{body}</p></body></html>"""


def _bind(host: str, port: int, family: socket.AddressFamily) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(16)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class CallbackListener:
    """Serve GET <path> on the loopback port until one redirect arrives."""

    def __init__(self, port: int, path: str) -> None:
        self.port = port
        self.path = path
        self._runner: web.AppRunner | None = None
        self._result: asyncio.Future[str] | None = None

    async def start(self) -> int:
        """Bind and return the port actually used. Raises OSError if the port is taken."""
        loop = asyncio.get_running_loop()
        self._result = loop.create_future()
        app = web.Application()
        app.router.add_get(self.path, self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            sock = _bind("127.0.0.1", self.port, socket.AF_INET)
            self.port = sock.getsockname()[1]
            await web.SockSite(self._runner, sock).start()
            if socket.has_ipv6:
                with contextlib.suppress(OSError):  # no ::1 on this host, or taken: 127.0.0.1 is enough
                    await web.SockSite(self._runner, _bind("::1", self.port, socket.AF_INET6)).start()
        except OSError:
            await self.close()
            raise
        return self.port

    async def _handle(self, request: web.Request) -> web.Response:
        if self._result is not None and not self._result.done():
            self._result.set_result(str(request.url))
        if "error" in request.query:
            title, body = (
                "Login was not completed",
                "The provider said: " + html.escape(request.query["error"][:64]),
            )
        else:
            title, body = "Login received", "You can close this tab and go back to the terminal."
        return web.Response(text=_PAGE.format(title=title, body=body), content_type="text/html")

    async def wait(self) -> str:
        """The full redirect URL (query includes code/state or error)."""
        if self._result is None:
            raise RuntimeError("listener not started")
        return await self._result

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> CallbackListener:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
