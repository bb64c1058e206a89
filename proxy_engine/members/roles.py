"""Roles on `/v0`: the management key is `admin` (everything); a member key is `member`, which may
read only its own usage (`GET /v0/usage?key=me`) and gets a 403 everywhere else."""

from __future__ import annotations

import hmac
import ipaddress
import json

from aiohttp import web

from proxy_engine.members.directory import KeyRefused
from proxy_engine.state import ENGINE, RunningEngine
from proxy_engine.storage.member_keys import MemberKey

MEMBER_REFUSED = '{"error": "a member key may only read its own usage: GET /v0/usage?key=me"}'


def bearer(request: web.Request) -> str:
    auth = request.headers.get("Authorization", "")
    return auth[7:].strip() if auth[:7].lower() == "bearer " else ""


def member_calling(state: RunningEngine, request: web.Request) -> MemberKey | None:
    """The member whose key this is; None for any other key. A revoked or expired member key is a 401."""
    try:
        return state.members.directory.identify(bearer(request))
    except KeyRefused as e:
        raise web.HTTPUnauthorized(text=json.dumps({"error": str(e)}), content_type="application/json") from None


def refuse_member(state: RunningEngine, request: web.Request) -> None:
    """Called when the key is not the management key: a member key is told what it may do (403)."""
    if member_calling(state, request) is not None:
        raise web.HTTPForbidden(text=MEMBER_REFUSED, content_type="application/json")


def require_reachable(state: RunningEngine, request: web.Request) -> None:
    """`/v0` answers on loopback only, unless `management.allow_remote`."""
    remote = request.remote or ""
    try:
        local = ipaddress.ip_address(remote.split("%")[0]).is_loopback
    except ValueError:
        local = False
    if not local and not state.runtime.config.management.allow_remote:
        raise web.HTTPForbidden(text='{"error": "management API answers on loopback only"}',
                                content_type="application/json")  # fmt: skip


def is_admin(state: RunningEngine, request: web.Request) -> bool:
    return hmac.compare_digest(bearer(request).encode("utf-8", "surrogateescape"), state.management_key)


def require_admin(request: web.Request) -> RunningEngine:
    """Every `/v0` route but a member's own usage, and `/metrics` unless it is open: loopback (unless
    `management.allow_remote`) and the management key, compared in constant time."""
    state = request.app[ENGINE]
    require_reachable(state, request)
    if not is_admin(state, request):
        refuse_member(state, request)  # a member key: 403, it may read only its own usage
        raise web.HTTPUnauthorized(text='{"error": "management key required"}', content_type="application/json")
    return state
