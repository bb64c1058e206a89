"""`/v0` routes of the flight recorder: read, delete and replay captures. Guarded like all of `/v0`."""

from __future__ import annotations

import asyncio
import codecs
import json
import logging

import aiohttp
from aiohttp import web

from proxy_engine.management import guard
from proxy_engine.recorder.diff_text import render_diff
from proxy_engine.recorder.export import fixture_of
from proxy_engine.recorder.present import present
from proxy_engine.recorder.replay import ReplayCall, ReplayRefused, original_summary, plan_replay
from proxy_engine.recorder.reply_summary import diff
from proxy_engine.recorder.store import valid_id
from proxy_engine.state import RunningEngine

log = logging.getLogger("proxy_engine.recorder")
routes = web.RouteTableDef()


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _request_id(request: web.Request) -> str:
    rid = request.match_info["id"]
    if not valid_id(rid):
        raise web.HTTPBadRequest(text='{"error": "a request id is 16 hex digits"}', content_type="application/json")
    return rid


@routes.get("/v0/requests/{id}/capture")
async def get_capture(request: web.Request) -> web.Response:
    """The four stages (per attempt for the upstream ones), with bodies parsed as JSON or SSE events."""
    state = guard(request)
    rid = _request_id(request)
    doc = await asyncio.to_thread(state.recorder.store.get, rid)
    if doc is None:
        return _error(404, f"no capture for request {rid} (recorder.mode: {state.recorder.mode})")
    return web.json_response(present(doc))


@routes.get("/v0/requests/{id}/fixture")
async def get_fixture(request: web.Request) -> web.Response:
    """The capture as a self-contained, redacted regression fixture (what `proxypal-engine export` writes)."""
    state = guard(request)
    rid = _request_id(request)
    doc = await asyncio.to_thread(state.recorder.store.get, rid)
    if doc is None:
        return _error(404, f"no capture for request {rid}")
    return web.json_response(fixture_of(doc))


@routes.delete("/v0/requests/{id}/capture")
async def delete_capture(request: web.Request) -> web.Response:
    state = guard(request)
    rid = _request_id(request)
    if not await asyncio.to_thread(state.recorder.store.delete, rid):
        return _error(404, f"no capture for request {rid}")
    return web.json_response({"deleted": 1})


@routes.delete("/v0/captures")
async def delete_all_captures(request: web.Request) -> web.Response:
    """Every capture, for a data-retention request."""
    state = guard(request)
    n = await asyncio.to_thread(state.recorder.store.delete_all)
    return web.json_response({"deleted": n})


@routes.get("/v0/captures")
async def list_captures(request: web.Request) -> web.Response:
    """The newest captures; `q=TEXT` keeps those whose stages contain TEXT, each with where (`match`)."""
    state = guard(request)
    try:
        limit = min(max(int(request.query.get("limit", "100")), 1), 1000)
    except ValueError:
        return _error(400, "limit must be a number")
    q = request.query.get("q", "")
    rows = await asyncio.to_thread(state.recorder.store.listing, 1000 if q else limit)
    if q:
        hits = dict(await asyncio.to_thread(lambda: list(state.recorder.store.search(q, limit))))
        rows = [{**r, "match": hits[r["id"]]} for r in rows if r["id"] in hits]
    return web.json_response({"captures": rows[:limit]})


def _base_url(request: web.Request) -> str:
    """This engine's own listening address: where the management call came in."""
    sock = request.transport.get_extra_info("sockname") if request.transport else None
    if not sock:
        raise web.HTTPServiceUnavailable(
            text='{"error": "the engine address is unknown"}', content_type="application/json"
        )
    host = sock[0]
    return f"http://[{host}]:{sock[1]}" if ":" in host else f"http://{host}:{sock[1]}"


@routes.post("/v0/requests/{id}/replay")
async def replay(request: web.Request) -> web.StreamResponse:
    """Replay a capture: `{"model", "provider", "stream"}`; answers the new request id and the diff.

    With `"stream": true` the answer is NDJSON: `start` (status, request id), `chunk`s of the reply
    as they arrive, then `result` with the diff.
    """
    state = guard(request)
    rid = _request_id(request)
    try:
        opts = await request.json() if request.can_read_body else {}
    except ValueError:
        return _error(400, "the body must be JSON")
    if not isinstance(opts, dict) or any(not isinstance(opts.get(k), str | None) for k in ("model", "provider")):
        return _error(400, "model and provider must be strings")
    doc = await asyncio.to_thread(state.recorder.store.get, rid)
    if doc is None:
        return _error(404, f"no capture for request {rid}")
    try:
        plan = plan_replay(doc, state.runtime, opts.get("model"), opts.get("provider"))
    except ReplayRefused as e:
        return _error(409, str(e))
    call = ReplayCall(plan)
    session = _session(state)
    base = _base_url(request)
    if opts.get("stream") is True:
        return await _stream_replay(request, doc, call, session, base)
    try:
        async for _ in call.stream(session, base):
            pass
    except aiohttp.ClientError as e:
        return _error(502, f"the replay could not reach the proxy: {type(e).__name__}")
    return web.json_response(_result(doc, call))


def _session(state: RunningEngine) -> aiohttp.ClientSession:
    if state.session is None:
        raise web.HTTPServiceUnavailable(text='{"error": "the engine is starting"}', content_type="application/json")
    return state.session


def _result(doc: dict, call: ReplayCall) -> dict:
    out = call.outcome()
    before = original_summary(doc)
    changes = diff(before, out.summary)
    return {
        "type": "result", "original_id": doc["id"], "request_id": out.request_id, "status": out.status,
        "original": before.to_dict(), "replay": out.summary.to_dict(), "diff": changes,
        "diff_text": render_diff(changes),
    }  # fmt: skip


async def _stream_replay(
    request: web.Request, doc: dict, call: ReplayCall, session: aiohttp.ClientSession, base: str
) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await resp.prepare(request)
    text = codecs.getincrementaldecoder("utf-8")("replace")
    started = False
    try:
        async for chunk in call.stream(session, base):
            if not started:
                started = True
                await _line(resp, {"type": "start", "status": call.status, "request_id": call.request_id})
            await _line(resp, {"type": "chunk", "text": text.decode(chunk)})
    except aiohttp.ClientError as e:
        await _line(resp, {"type": "error", "error": f"the replay could not reach the proxy: {type(e).__name__}"})
        await resp.write_eof()
        return resp
    if not started:
        await _line(resp, {"type": "start", "status": call.status, "request_id": call.request_id})
    await _line(resp, _result(doc, call))
    await resp.write_eof()
    return resp


async def _line(resp: web.StreamResponse, obj: dict) -> None:
    await resp.write(json.dumps(obj).encode() + b"\n")
