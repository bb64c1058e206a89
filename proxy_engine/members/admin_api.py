"""`/v0/keys` (create, list, revoke, rotate member keys), `/v0/audit`, and the member-facing usage.

All but `GET /v0/usage?key=me` are admin-only (`roles.require_admin`). A key is shown once, in the
answer that created or rotated it; this replica's directory is refreshed before that answer, so the
key works here at once (other replicas pick it up within `directory.REFRESH_S`).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from aiohttp import web

from proxy_engine.members.key_admin import KeyAdmin, KeySpec, key_view
from proxy_engine.members.roles import is_admin, member_calling, require_admin, require_reachable
from proxy_engine.members.usage import default_since, member_usage, team_usage
from proxy_engine.state import ENGINE, RunningEngine
from proxy_engine.storage.errors import StorageUnavailable

routes = web.RouteTableDef()
_DOWN = (StorageUnavailable, sqlite3.Error)


def _down(e: Exception) -> web.Response:
    return web.json_response({"error": f"the database is unavailable: {e}"}, status=503)


@routes.get("/v0/keys")
async def list_keys(request: web.Request) -> web.Response:
    state = require_admin(request)
    try:
        keys = await KeyAdmin(state.storage).list(include_revoked=request.query.get("all") in ("1", "true"))
    except _DOWN as e:
        return _down(e)
    return web.json_response({"keys": [key_view(k) for k in keys]})


@routes.post("/v0/keys")
async def create_key(request: web.Request) -> web.Response:
    state = require_admin(request)
    try:
        spec = KeySpec.from_json(await request.json())
    except ValueError as e:  # not JSON, or a field out of range
        return web.json_response({"error": str(e)}, status=400)
    try:
        made, key = await KeyAdmin(state.storage).create("admin", spec)
        await state.members.directory.refresh()
    except _DOWN as e:
        return _down(e)
    return web.json_response({"key": key, **key_view(made)}, status=201)


@routes.post("/v0/keys/{ref}/revoke")
async def revoke_key(request: web.Request) -> web.Response:
    state = require_admin(request)
    try:
        gone = await KeyAdmin(state.storage).revoke("admin", request.match_info["ref"])
        await state.members.directory.refresh()
    except _DOWN as e:
        return _down(e)
    if gone is None:
        return web.json_response({"error": "no live key has that id or name"}, status=404)
    return web.json_response({"ok": True, "id": gone.id})


@routes.post("/v0/keys/{ref}/rotate")
async def rotate_key(request: web.Request) -> web.Response:
    state = require_admin(request)
    try:
        done = await KeyAdmin(state.storage).rotate("admin", request.match_info["ref"])
        await state.members.directory.refresh()
    except _DOWN as e:
        return _down(e)
    if done is None:
        return web.json_response({"error": "no live key has that id or name"}, status=404)
    made, key = done
    return web.json_response({"key": key, **key_view(made)})


@routes.get("/v0/audit")
async def audit_log(request: web.Request) -> web.Response:
    state = require_admin(request)
    try:
        since = float(request.query.get("since", "0"))
        limit = max(1, min(int(request.query.get("limit", "200")), 5000))
    except ValueError:
        return web.json_response({"error": "since and limit must be numbers"}, status=400)
    try:
        entries = await state.storage.audit.list(since, limit)
    except _DOWN as e:
        return _down(e)
    return web.json_response({"entries": [{"seq": e.seq, "ts": e.ts, "actor": e.actor, "action": e.action,
                                           "target": e.target, "detail": e.detail, "replica": e.replica}
                                          for e in entries]})  # fmt: skip


async def members_report(state: RunningEngine, group: str, since: float | None) -> dict[str, Any]:
    """`/v0/usage?group=member|team`: every key's (or team's) spend, budget, requests, models, last seen."""
    await state.ledger.flush()
    keys = await state.storage.member_keys.list(include_revoked=True)
    rows = await member_usage(state.storage.db, keys, default_since() if since is None else since)
    return {"members": rows} if group == "member" else {"teams": team_usage(rows), "members": rows}


async def own_usage(request: web.Request) -> web.Response:
    """`GET /v0/usage?key=me` with a member key: that key's own row, this month (or `since`)."""
    state = request.app[ENGINE]
    require_reachable(state, request)
    member = member_calling(state, request)
    if member is None:
        if is_admin(state, request):
            return web.json_response({"error": "key=me is a member key's own usage; an admin asks group=member"},
                                     status=400)  # fmt: skip
        return web.json_response({"error": "a member key is required"}, status=401)
    try:
        since = float(request.query["since"]) if "since" in request.query else default_since()
    except ValueError:
        return web.json_response({"error": "since must be a number"}, status=400)
    try:
        await state.ledger.flush()
        rows = await member_usage(state.storage.db, [member], since, only=member.id)
    except _DOWN as e:
        return _down(e)
    return web.json_response({"member": rows[0], "since": since, "spent_this_month_usd":
                              round(state.members.limits.spent(member.id), 6)})  # fmt: skip


@routes.post("/v0/keys/refresh")
async def refresh_keys(request: web.Request) -> web.Response:
    """`proxypal-engine keys` changed the table directly: read it again now rather than in a moment."""
    state = require_admin(request)
    try:
        await state.members.directory.refresh()
    except _DOWN as e:
        return _down(e)
    return web.json_response({"ok": True})
