"""The `/v0` management API used by the TUI: status, auth, usage, requests, config, and its goodbye."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal

from aiohttp import web

from proxy_engine.config import ConfigError
from proxy_engine.members.admin_api import members_report, own_usage
from proxy_engine.members.audit_trail import audit
from proxy_engine.members.roles import require_admin as _guard
from proxy_engine.reload import apply_config_text, reload_now
from proxy_engine.state import ENGINE, RunningEngine
from proxy_engine.storage.errors import StorageUnavailable
from proxy_engine.storage.session_queries import recent_sessions, session_requests
from proxy_engine.usage.history import HistoryQuery

log = logging.getLogger("proxy_engine.management")
routes = web.RouteTableDef()
_FILTERS = ("provider", "credential", "model")


guard = _guard  # the recorder's routes (recorder/api.py) are guarded the same way


@routes.get("/v0/status")
async def status(request: web.Request) -> web.Response:
    return web.json_response(_guard(request).status())


@routes.get("/v0/auth/status")
async def auth_status(request: web.Request) -> web.Response:
    state = _guard(request)
    await state.credentials.ensure_store()  # not opened at start when no provider uses a login
    return web.json_response(state.credentials.status())


@routes.get("/v0/quota")
async def quota(request: web.Request) -> web.Response:
    from proxy_engine.quota.report import engine_quota

    return web.json_response(await engine_quota(_guard(request).credentials))


@routes.post("/v0/auth/cooldowns/clear")
async def clear_cooldowns(request: web.Request) -> web.Response:
    state = _guard(request)
    try:
        body = await request.json() if request.can_read_body else {}
    except ValueError:
        return web.json_response({"error": "the body must be JSON"}, status=400)
    if not isinstance(body, dict) or any(not isinstance(body.get(k), str | None) for k in _FILTERS):
        return web.json_response({"error": "provider, credential and model must be strings"}, status=400)
    cleared = await state.credentials.clear(*(body.get(k) for k in _FILTERS))
    await audit(state, "admin", "cooldown.cleared", None, {k: body.get(k) for k in _FILTERS} | {"cleared": cleared})
    return web.json_response({"cleared": cleared})


@routes.post("/v0/auth/reload")
async def reload_logins(request: web.Request) -> web.Response:
    """After `login`/`logout` elsewhere: re-read stored logins, and the config so `keyring:` keys are read again."""
    state = _guard(request)
    before = {(e.provider, e.credential) for e in state.credentials.login_states()}
    await reload_now(request.app)
    n = await state.credentials.reload_logins()
    after = {(e.provider, e.credential) for e in state.credentials.login_states()}
    for action, logins in (("login.added", after - before), ("login.removed", before - after)):
        for provider, credential in sorted(logins):
            await audit(state, "admin", action, credential, {"provider": provider})
    return web.json_response({"ok": state.credentials.store_error is None, "logins": n,
                              "error": state.credentials.store_error})  # fmt: skip


@routes.get("/v0/usage")
async def usage(request: web.Request) -> web.Response:
    """Admin: usage by period, provider, model, member or team (`group=member|team` adds each member's
    or team's spend, budget, models and last seen). A member key: `?key=me`, its own usage only."""
    if request.query.get("key") == "me":
        return await own_usage(request)
    state = _guard(request)
    group = request.query.get("group", "day")
    try:
        since = float(request.query["since"]) if "since" in request.query else None
        rows = await state.ledger.usage(group, since)
        extra = await members_report(state, group, since) if group in ("member", "team") else {}
    except ValueError as e:
        return web.json_response({"error": str(e)}, status=400)
    except StorageUnavailable as e:
        return _storage_down(e)
    return web.json_response({"group": group, "rows": rows, **extra})


@routes.get("/v0/history")
async def history(request: web.Request) -> web.Response:
    """Usage per day, week or month from the ledger file (any range it holds), split by provider, model or client."""
    state = _guard(request)
    try:
        query = HistoryQuery.from_params(dict(request.query))
    except ValueError as e:
        return web.json_response({"error": str(e)}, status=400)
    try:
        rows = await state.ledger.history(query)
    except StorageUnavailable as e:
        return _storage_down(e)
    return web.json_response({"by": query.by, "group": query.group or None, "rows": rows})


@routes.get("/v0/requests")
async def recent_requests(request: web.Request) -> web.Response:
    state = _guard(request)
    try:
        limit = max(1, min(int(request.query.get("limit", "100")), 5000))
    except ValueError:
        return web.json_response({"error": "limit must be a number"}, status=400)
    try:
        if (session := request.query.get("session")) is not None:
            rows = await session_requests(state.ledger, session, limit)
            return web.json_response({"requests": rows, "session": session})
        return web.json_response({"requests": await state.ledger.recent(limit)})
    except StorageUnavailable as e:
        return _storage_down(e)


def _storage_down(e: StorageUnavailable) -> web.Response:
    """Team mode with PostgreSQL down: rows are queued (see /v0/status ledger), queries wait for it."""
    return web.json_response({"error": f"the ledger database is unavailable: {e}"}, status=503)


@routes.get("/v0/sessions")
async def sessions(request: web.Request) -> web.Response:
    """Agent sessions from the ledger, latest first: the TUI's grouped feed and per-session history."""
    state = _guard(request)
    try:
        limit = max(1, min(int(request.query.get("limit", "200")), 5000))
        since = float(request.query.get("since", "0"))
    except ValueError:
        return web.json_response({"error": "limit and since must be numbers"}, status=400)
    try:
        rows = await recent_sessions(state.ledger, since, limit)
    except StorageUnavailable as e:
        return _storage_down(e)
    return web.json_response({"sessions": rows})


@routes.get("/v0/config")
async def get_config(request: web.Request) -> web.Response:
    state = _guard(request)
    loaded = state.runtime.loaded
    errors = [i.as_dict() for i in state.config_errors]
    return web.json_response({"path": str(loaded.path or state.paths.config_file), "text": loaded.text,
                              "ok": not errors, "errors": errors})  # fmt: skip


@routes.put("/v0/config")
async def put_config(request: web.Request) -> web.Response:
    """Takes what GET gives (`{"text": ...}` as JSON) or the raw YAML, so a read-edit-write round trip needs no
    reshaping; the content type decides."""
    state = _guard(request)
    try:
        text = (await request.read()).decode("utf-8")
    except UnicodeDecodeError as e:
        return _config_refused(state, f"the config must be UTF-8 text: {e.reason} at byte {e.start}")
    if request.content_type == "application/json":
        try:
            text = json.loads(text)["text"]
        except (ValueError, KeyError, TypeError):
            text = None
        if not isinstance(text, str):
            return _config_refused(state, 'a JSON body must be {"text": "<the YAML>"}')
    try:
        await apply_config_text(request.app, text)
    except ConfigError as e:
        return web.json_response({"ok": False, "errors": [i.as_dict() for i in e.issues]}, status=422)
    await audit(state, "admin", "config.changed", str(state.paths.config_file), {"bytes": len(text.encode())})
    return web.json_response({"ok": True, "errors": [], "path": str(state.paths.config_file)})


def _config_refused(state: RunningEngine, message: str) -> web.Response:
    return web.json_response(
        {"ok": False, "errors": [{"file": str(state.paths.config_file), "line": None, "message": message}]}, status=400
    )


@routes.post("/v0/config/reload")
async def post_reload(request: web.Request) -> web.Response:
    _guard(request)
    issues = await reload_now(request.app)
    if (worker := request.app[ENGINE].worker) is not None:
        worker.ask_all_to_reload()
    return web.json_response({"ok": not issues, "errors": [i.as_dict() for i in issues]})


_LEAVING = {  # reason word -> why, as the engine log says it
    "hangup": "its terminal hung up (SIGHUP)",
    "terminal_lost": "its terminal closed (end of input / I/O error)",
    "terminated": "it was sent SIGTERM",
}


@routes.post("/v0/control/leaving")
async def control_leaving(request: web.Request) -> web.Response:
    """The TUI says goodbye before it leaves unasked, so the engine log tells why it stops (or stays)."""
    _guard(request)
    try:
        body = await request.json() if request.can_read_body else {}
    except ValueError:
        return web.json_response({"error": "the body must be JSON"}, status=400)
    if not isinstance(body, dict):
        return web.json_response({"error": "the body must be a JSON object"}, status=400)
    reason, pid, stopping = body.get("reason"), body.get("pid"), body.get("stopping")
    if reason not in _LEAVING:
        return web.json_response({"error": f"reason must be one of {', '.join(sorted(_LEAVING))}"}, status=400)
    if not isinstance(pid, int) or isinstance(pid, bool) or not isinstance(stopping, bool):
        return web.json_response({"error": "pid must be a number and stopping true or false"}, status=400)
    then = "it is stopping this engine" if stopping else "this engine keeps running"
    log.warning("the control centre (pid %d) went away: %s; %s", pid, _LEAVING[reason], then)
    return web.json_response({"ok": True})


@routes.post("/v0/shutdown")
async def shutdown(request: web.Request) -> web.Response:
    """Stop this engine as SIGTERM does (drain streams, flush the ledger); `proxypal-engine stop` calls it.

    The answer goes out first; the signal follows a moment later, through the server's own handler.
    """
    state = _guard(request)
    # Under `serve --workers N` the supervisor owns the port and stops every worker.
    pid = state.worker.supervisor_pid if state.worker is not None else os.getpid()
    log.warning("shutdown asked through the management API; stopping gracefully")
    asyncio.get_running_loop().call_later(0.2, os.kill, pid, signal.SIGTERM)
    return web.json_response({"ok": True, "pid": pid})
