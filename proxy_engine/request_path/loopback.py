"""Model calls the engine derives from a client's call, sent to its own routes.

A Responses WebSocket turn served by translation, or a compaction summarised by the routed model,
is one more model call: it goes to this engine's own `POST .../responses` (on the address the
client reached, under the same route family), so it is authenticated with the client's key,
routed, failed over, translated, recorded in the ledger and announced like any other call.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from proxy_engine.request_path.headers import CLIENT_CREDENTIALS, FORWARDED_HEADER_PREFIX, FORWARDED_HEADERS
from proxy_engine.state import ENGINE

# The client's headers a derived call keeps: its key and what a Responses call forwards, except
# the WebSocket beta flag, which means nothing on HTTP.
_KEPT = (FORWARDED_HEADERS["openai_responses"] - {"openai-beta", "content-type", "accept"}) | set(CLIENT_CREDENTIALS)


class OwnAddressUnknown(ConnectionError):
    """The client's connection is already gone, so there is no address to call."""


def own_url(request: web.Request, path: str) -> str:
    """This engine's URL for `path`, on the local address the client's connection reached."""
    transport = request.transport
    sock = transport.get_extra_info("sockname") if transport is not None else None
    if not sock:
        raise OwnAddressUnknown("the client's connection is closed")
    host, port = sock[0], sock[1]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{path}"


def derived_headers(request: web.Request, *, stream: bool) -> dict[str, str]:
    out = {
        k: v for k, v in request.headers.items() if k.lower() in _KEPT or k.lower().startswith(FORWARDED_HEADER_PREFIX)
    }
    out["Accept"] = "text/event-stream" if stream else "application/json"
    return out


async def post_responses(request: web.Request, path: str, body: dict[str, Any]) -> aiohttp.ClientResponse:
    """POST a Responses request to this engine; the caller reads (and releases) the reply."""
    session = request.app[ENGINE].session
    assert session is not None  # opened at startup, before any route serves
    headers = derived_headers(request, stream=body.get("stream") is True)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    return await session.post(own_url(request, path), json=body, headers=headers, timeout=timeout)
