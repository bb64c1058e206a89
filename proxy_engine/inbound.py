"""Limits on reading client requests, so slow or idle clients cannot hold the proxy's connections.

- Headers: aiohttp closes a connection whose handler still waits for a complete request when its
  keep-alive timer fires, and that timer starts when the connection opens and after each reply.
  `serve` sets it to `inbound.header_timeout_s`, so a slowloris client (headers a byte at a time)
  is closed after that long, and so is a keep-alive connection left idle that long.
- Body: the request path reads a model call's body within `inbound.body_timeout_s` (else 408 and
  the connection closes, after aiohttp drains the unread rest for at most `server.LINGER_S`).
- Connections: `CappedTCPSite` refuses connections beyond `inbound.max_connections` with a 503.

None of these applies to writing a reply, so a long stream is never cut. They are read at start;
a config reload does not change them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

from aiohttp import web

log = logging.getLogger("proxy_engine.inbound")
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    b"Content-Length: 39\r\n\r\ntoo many open connections to the proxy\n"
)


class _Refusal(asyncio.Protocol):
    """A connection over the cap: told so, then closed, without ever reaching aiohttp."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # No isinstance check: uvloop's TCP transport writes like asyncio's but is not an asyncio.Transport.
        cast(asyncio.Transport, transport).write(_BUSY)
        transport.close()


class CappedTCPSite(web.TCPSite):
    """A TCP site that lets at most `max_connections` client connections be open at once."""

    def __init__(
        self, runner: web.BaseRunner, host: str, port: int, *, max_connections: int, reuse_port: bool = False
    ) -> None:
        """reuse_port: the workers of `serve --workers N` share the port (the cap is per worker)."""
        super().__init__(runner, host, port, reuse_address=True, reuse_port=reuse_port)
        self._max_connections = max_connections
        self._refused = 0

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol_factory(server), self._host, self._port,
            reuse_address=self._reuse_address, reuse_port=self._reuse_port, backlog=self._backlog,
        )  # fmt: skip

    def _protocol_factory(self, server: web.Server) -> Callable[[], asyncio.BaseProtocol]:
        def make() -> asyncio.BaseProtocol:
            if len(server.connections) < self._max_connections:
                return server()
            self._refused += 1
            if self._refused == 1 or self._refused % 100 == 0:
                log.warning("refused a connection: %d are open (inbound.max_connections)", self._max_connections)
            return _Refusal()

        return make
