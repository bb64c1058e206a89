"""Refuse what a web page could make a browser send to a keyless local proxy.

Without client keys, anything that reaches 127.0.0.1:8317 spends the user's credits. A page
on another site can POST there without a CORS preflight (a `text/plain` body), and a DNS
rebinding page can do so under its own host name. Both are recognisable by headers real
tools never send: `Sec-Fetch-Site`, a foreign `Origin`, or a `Host` that is not this machine.
With client keys configured a page cannot present one, so these checks are not needed.
"""

from __future__ import annotations

import ipaddress

import yarl
from aiohttp import web

from proxy_engine.config import is_loopback


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
    if check_host and not _local_name(_hostname(request.host)):
        return f"this proxy answers requests addressed to this machine only, not {request.host!r}"
    return None


def _local_name(host: str) -> bool:
    """An IP literal cannot be rebound; of names, only localhost is this machine for sure."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return is_loopback(host.lower()) or host.lower().endswith(".localhost")


def _authority(url: str) -> str | None:
    try:
        return yarl.URL(url).raw_authority
    except ValueError:
        return None


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
