"""Entry for every model call: authenticate, check budgets, parse, resolve, then fail over."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage

from proxy_engine.dialects.json_decode import BodyHead, read_head
from proxy_engine.members.directory import KeyRefused
from proxy_engine.record import ERROR_MESSAGE_MAX, MODEL_NAME_MAX, RequestRecord
from proxy_engine.recorder.capture import Capture
from proxy_engine.request_path.drain import BodyCutByShutdown
from proxy_engine.request_path.errors import ProxyError, error_response, over_budget, unknown_model
from proxy_engine.request_path.exchange import Exchange, ResolveAs
from proxy_engine.request_path.failover import forward
from proxy_engine.request_path.headers import client_key
from proxy_engine.request_path.redaction import safe_error_text
from proxy_engine.request_path.refused_model import requested_model
from proxy_engine.request_path.relay import SHUTDOWN_MESSAGE
from proxy_engine.request_path.sessions import session_of
from proxy_engine.routing import UnknownModel
from proxy_engine.state import ENGINE, RECORD, RunningEngine


async def handle(
    request: web.Request,
    dialect: str,
    model: str | None = None,
    action: str | None = None,
    resolve_as: ResolveAs | None = None,
) -> web.StreamResponse:
    """Serve one model call and record it, whatever happens.

    `model` is set when the path names it (Gemini); `resolve_as` lets a route family (Amp)
    route a model under another name while the record and the client keep the name that was sent.
    """
    state: RunningEngine = request.app[ENGINE]
    rec = RequestRecord(dialect, request.headers.get("User-Agent", ""))
    request[RECORD] = rec  # names the request in X-ProxyPal-Request-Id
    cap = state.recorder.begin(request) if state.recorder.active else None
    state.started(rec)
    task = asyncio.current_task()
    if task is not None:
        state.model_calls.add(task)  # the shutdown drain waits for these, then ends what is left
    try:
        if state.shutting_down:
            raise ProxyError(503, SHUTDOWN_MESSAGE, "server_shutdown")
        ex = await _admit(request, state, rec, action, resolve_as, cap)
        model = model or ex.head.model
        if not isinstance(model, str) or not model:
            raise ProxyError(400, "the request has no `model`")
        if len(model) > MODEL_NAME_MAX:
            raise ProxyError(400, f"the model name is longer than {MODEL_NAME_MAX} characters")
        rec.model_requested = model
        if rec.member is not None and (hit := await state.members.admit_request(rec.id, rec.member, model)):
            raise ProxyError(hit.status, hit.message, hit.code, {"Retry-After": str(hit.retry_after)}
                             if hit.retry_after else None)  # fmt: skip
        rec.stream = action == "streamGenerateContent" if dialect == "gemini" else ex.head.stream is True
        opts = ex.head.stream_options
        rec.include_usage_requested = isinstance(opts, dict) and opts.get("include_usage") is True
        rt = ex.runtime
        try:
            candidates = rt.router.resolve(resolve_as(rt, model) if resolve_as else model)
        except UnknownModel as e:
            raise unknown_model(model, e.known, rt) from None
        resp = await forward(ex, candidates)
        if cap is not None:
            cap.client_reply(resp)
        return resp
    except ProxyError as e:
        e.message = safe_error_text(e.message, ERROR_MESSAGE_MAX)  # it may quote an upstream
        if rec.model_requested is None:  # refused before the model was read: the feed still shows it
            rec.model_requested = await requested_model(request, model, e.status)
        rec.fail(e.status, e.code or "error", e.message)
        resp = error_response(dialect, e)
        if e.status == 408:
            resp.force_close()  # the rest of the body is still on the way: the connection cannot be reused
        if cap is not None:
            cap.client_reply(resp)
        return resp
    except asyncio.CancelledError:
        if not state.shutting_down:
            rec.fail(499, "client_closed", "the client went away")
            raise
        if task is not None:
            task.uncancel()  # the drain ended this call: answer it instead of cutting the connection
        err = ProxyError(503, SHUTDOWN_MESSAGE, "server_shutdown")
        rec.fail(err.status, "server_shutdown", err.message)
        return error_response(dialect, err)
    except Exception as e:  # recorded here, answered by the safety net (safety_net.py)
        rec.fail(500, "internal_error", f"the proxy failed: {type(e).__name__}")
        raise
    finally:
        state.model_calls.discard(task)
        state.finished(rec)
        if cap is not None:
            state.recorder.finish(cap, rec)


async def _admit(
    request: web.Request,
    state: RunningEngine,
    rec: RequestRecord,
    action: str | None,
    resolve_as: ResolveAs | None,
    cap: Capture | None,
) -> Exchange:
    """Who is calling, may they, and what did they send."""
    rt = state.runtime
    try:
        caller = state.members.caller(rt, client_key(request))
    except KeyRefused as e:
        raise ProxyError(401, str(e), "invalid_api_key") from None
    if caller is None:
        raise ProxyError(401, "invalid or missing client key for this proxy", "invalid_api_key")
    client = rec.client = caller.client
    if caller.member is not None:
        rec.member, rec.team = caller.member.id, caller.member.team
    rec.session = session_of(request.headers)
    if state.budgets.limits and (hit := state.budgets.exceeded(client)):
        lim, resets_in = hit
        raise over_budget(lim.scope, state.budgets.spent(lim), lim.limit, resets_in)
    if state.team is not None and (hit := await state.team.budgets.admit(rec.id, client)):  # shared spend
        lim, spent, resets_in = hit
        raise over_budget(lim.scope, spent, lim.limit, resets_in)
    try:
        if request.content.is_eof():  # the whole body came with the headers: reading it cannot wait
            raw = await request.read()
        else:
            state.bodies_arriving.add(request.content)
            try:
                async with asyncio.timeout(rt.config.inbound.body_timeout_s):
                    raw = await request.read()
            finally:
                state.bodies_arriving.discard(request.content)
    except BodyCutByShutdown:
        raise ProxyError(503, SHUTDOWN_MESSAGE, "server_shutdown") from None
    except web.HTTPRequestEntityTooLarge:
        raise ProxyError(413, f"request body is larger than max_body_mb ({rt.config.max_body_mb} MB)") from None
    except TimeoutError:
        msg = f"the request body did not arrive within {rt.config.inbound.body_timeout_s:g}s"
        raise ProxyError(408, msg, "request_timeout") from None
    except (web.RequestPayloadError, BadHttpMessage) as e:  # a Content-Encoding the body does not have
        raise ProxyError(400, f"the request body cannot be read: {e}") from None
    if cap is not None:
        cap.client_body(raw)
    head, whole = _parse_body(raw)
    return Exchange(request, rec, state, rt, raw, head, action, resolve_as, cap, whole)


def _parse_body(raw: bytes) -> tuple[BodyHead, dict[str, Any] | None]:
    """The body's head (and the whole body when reading the head parsed it all); a 400 unless a JSON object."""
    try:
        head, whole = read_head(raw) if raw else (None, None)
    except ValueError as e:
        raise ProxyError(400, f"the request body is not valid JSON: {e}") from None
    except RecursionError:
        raise ProxyError(400, "the request body is nested too deeply") from None
    if head is None:
        raise ProxyError(400, "the request body must be a JSON object")
    return head, whole
