"""Refuse what a web page could make a browser send to a keyless local proxy.

Without client keys, anything that reaches 127.0.0.1:8317 spends the user's credits. A page
on another site can POST there without a CORS preflight (a `text/plain` body), and a DNS
rebinding page can do so under its own host name. Both are recognisable by headers real
tools never send: `Sec-Fetch-Site`, a foreign `Origin`, or a `Host` that is not this machine.
With client keys configured a page cannot present one, so these checks are not needed.

`browser_guard` applies this to every route but `/healthz` and `/v0` (which have their own
guard) as one middleware, so no route can forget it. Amp's relay attaches a credential even
when client keys are configured, so it gets stricter rules (`relay_refusal`).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Awaitable, Callable, Collection

import yarl
from aiohttp import web

from proxy_engine.config import is_loopback
from proxy_engine.request_path.safety_net import dialect_error
from proxy_engine.state import ENGINE

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_EXEMPT_PREFIXES = ("/v0/",)
_EXEMPT_PATHS = ("/", "/healthz", "/v0")


def browser_refusal(request: web.Request, *, allow_navigation: bool = False, check_host: bool = True) -> str | None:
    """Why this request looks browser-made from another site, or None.

    check_host: refuse a Host that is not loopback (off when a remote bind with client keys is configured).
    """
    site = request.headers.get("Sec-Fetch-Site", "")
    navigation = (
        allow_navigation and request.method in ("GET", "HEAD") and request.headers.get("Sec-Fetch-Mode") == "navigate"
    )
    if site in ("cross-site", "same-site") and not navigation:
        return "requests made by other web pages are refused (configure a client key to allow browser apps)"
    origin = request.headers.get("Origin")
    if origin and _authority(origin) != request.host:
        return "requests from another origin are refused (configure a client key to allow browser apps)"
    if check_host and not _local_host(request.host):
        return f"this proxy answers requests addressed to this machine only, not {request.host!r}"
    return None


def relay_refusal(request: web.Request, keys_required: bool) -> str | None:
    """Amp's relay attaches a credential: refuse preflights and cross-site calls even with client keys."""
    if request.method == "OPTIONS":
        return "cross-origin requests are not relayed to Amp"
    return browser_refusal(request, allow_navigation=True, check_host=not keys_required)


def relay_refused(message: str) -> web.Response:
    return web.json_response({"error": {"code": "amp_request_refused", "message": message}}, status=403)


def browser_guard(relay_handlers: Collection[Handler]) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware: one check before every proxied route, model list and Amp call."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path in _EXEMPT_PATHS or path.startswith(_EXEMPT_PREFIXES):
            return await handler(request)
        keys_required = request.app[ENGINE].runtime.keys_required
        if request.match_info.route.handler in relay_handlers:
            if why := relay_refusal(request, keys_required):
                return relay_refused(why)
        elif not keys_required and (why := browser_refusal(request)):
            return dialect_error(request, 403, why, "browser_request_refused")
        return await handler(request)

    return guard


@functools.lru_cache(maxsize=64)
def _local_host(host: str) -> bool:
    """Does this `Host` header (name or address, with or without a port) name this machine?

    Cached: a client sends the same Host on every request, and parsing it as an address costs more than the rest
    of the guard."""
    return _local_name(_hostname(host))


def _local_name(host: str) -> bool:
    """An IP literal cannot be rebound; of names, only localhost and *.localhost are this machine for sure."""
    try:
        ipaddress.ip_address(host.split("%")[0])
        return True
    except ValueError:
        return is_loopback(host)


def _authority(url: str) -> str | None:
    try:
        return yarl.URL(url).raw_authority
    except ValueError:
        return None


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
