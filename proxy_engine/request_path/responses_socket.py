"""The Responses API's WebSocket mode: `GET /v1/responses` upgraded, as Codex CLI's OpenAI provider uses it.

Wire facts from openai/codex (`codex-api/src/common.rs`, `endpoint/responses_websocket.rs`,
`core/src/client.rs`): the handshake carries `OpenAI-Beta: responses_websockets=2026-02-06`; the
client sends one JSON text message per response, `{"type": "response.create", ...the Responses
request body...}`, and on a reused connection it sends only the new input items with the
`previous_response_id` of the last response (`get_incremental_items`); `generate: false` is a
warm-up; `response.processed` needs no answer. The server sends each stream event as one JSON text
message, and a failure as `{"type": "error", "status": N, "error": {...}}`.

The engine serves it two ways, chosen per `response.create` by the model's first candidate:
- an upstream with a socket of its own (OpenAI, the Codex backend) gets the messages passed through
  (`socket_upstream.py`), one record per response;
- any other upstream: each response is one derived `POST .../responses` stream (`loopback.py`), so
  routing, failover, credentials, translation, the ledger and the events are the request path's own;
  its SSE events go back as messages.
Either way the connection remembers its last response (its whole input and the items it added), so a
`previous_response_id` continues correctly even when the route moves to another upstream mid-session.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from proxy_engine.dialects.responses_aggregate import ResponseAssembler
from proxy_engine.dialects.sse import SSEFramer, block_data
from proxy_engine.members.directory import KeyRefused
from proxy_engine.record import MODEL_NAME_MAX, RequestRecord
from proxy_engine.request_path.errors import ProxyError, error_response, over_budget, unknown_model
from proxy_engine.request_path.exchange import ResolveAs
from proxy_engine.request_path.headers import client_key
from proxy_engine.request_path.loopback import OwnAddressUnknown, post_responses
from proxy_engine.request_path.relay import SHUTDOWN_MESSAGE
from proxy_engine.request_path.socket_frames import error_frame, relayed_error, warmup_frames
from proxy_engine.request_path.socket_upstream import (
    REFUSED,
    UpstreamSocket,
    open_upstream,
    relay_response,
    upstream_message,
)
from proxy_engine.routing import Candidate, UnknownModel
from proxy_engine.state import ENGINE, RunningEngine

log = logging.getLogger("proxy_engine.request_path")
DIALECT = "openai_responses"
OPEN_SOCKETS = web.AppKey("responses_sockets", set)  # the sessions open now, closed at shutdown
GOING_AWAY = aiohttp.WSCloseCode.GOING_AWAY


@dataclass
class LastResponse:
    """What the connection remembers: the last response's id, its whole input and the items it added."""

    id: str
    input: list[Any]
    output: list[Any]
    upstream: UpstreamSocket | None = None  # the pass-through socket that made it, which can continue it


async def serve_responses_socket(request: web.Request, resolve_as: ResolveAs | None) -> web.StreamResponse:
    """Authenticate like any model call, upgrade, then serve `response.create` messages in order."""
    state: RunningEngine = request.app[ENGINE]
    if state.shutting_down:
        return error_response(DIALECT, ProxyError(503, SHUTDOWN_MESSAGE, "server_shutdown"))
    client = state.members.client_name(state.runtime, client_key(request))
    if client is None:
        return error_response(
            DIALECT, ProxyError(401, "invalid or missing client key for this proxy", "invalid_api_key")
        )
    ws = web.WebSocketResponse(max_msg_size=state.runtime.max_body, autoping=True)
    if not ws.can_prepare(request).ok:
        return error_response(DIALECT, ProxyError(400, "this endpoint takes a WebSocket upgrade; POST for HTTP"))
    await ws.prepare(request)
    session = SocketSession(request, ws, state, client, resolve_as)
    sessions = request.app[OPEN_SOCKETS]
    sessions.add(session)
    try:
        await session.run()
    finally:
        sessions.discard(session)
        await session.close()
    return ws


async def close_response_sockets(app: web.Application) -> None:
    """At shutdown (after the model calls drained), say goodbye on every open socket."""
    sessions = list(app[OPEN_SOCKETS])
    if sessions:
        log.info("shutting down: closing %d Responses sockets", len(sessions))
        await asyncio.gather(*(s.ws.close(code=GOING_AWAY, message=b"the proxy is shutting down") for s in sessions))


@dataclass(eq=False)
class SocketSession:
    """One client connection: its messages in order, its last response, its upstream socket if any."""

    request: web.Request
    ws: web.WebSocketResponse
    state: RunningEngine
    client: str
    resolve_as: ResolveAs | None
    last: LastResponse | None = None
    upstream: UpstreamSocket | None = None

    async def run(self) -> None:
        async for msg in self.ws:
            if msg.type != WSMsgType.TEXT:
                await self._send_error(ProxyError(400, "messages on this socket are JSON text"))
                continue
            try:
                data = json.loads(msg.data)
            except (ValueError, RecursionError):
                await self._send_error(ProxyError(400, "the message is not valid JSON"))
                continue
            kind = data.get("type") if isinstance(data, dict) else None
            if kind == "response.processed":
                await self._processed(msg.data)
                continue
            if kind != "response.create":
                await self._send_error(ProxyError(400, f"unsupported message type {kind!r}; send response.create"))
                continue
            try:
                await self.create({k: v for k, v in data.items() if k != "type"})
            except ProxyError as e:
                await self._send_error(e)
            except ConnectionResetError:
                return  # the client went away mid-response; what was served is recorded

    async def _processed(self, text: str) -> None:
        """Codex acknowledges a response; the upstream socket that made it hears it too (nothing answers)."""
        up = self.upstream
        if up is not None and self.last is not None and self.last.upstream is up and not up.ws.closed:
            try:
                await up.ws.send_str(text)
            except (ConnectionResetError, aiohttp.ClientError):
                await self.close()  # the next response opens a new one

    async def close(self) -> None:
        if self.upstream is not None:
            await self.upstream.close()
            self.upstream = None

    async def _send_error(self, err: ProxyError) -> None:
        if not self.ws.closed:
            await self.ws.send_str(error_frame(err))

    # -- one response ---------------------------------------------------------------------------------

    async def create(self, body: dict[str, Any]) -> None:
        state, rt = self.state, self.state.runtime
        if state.shutting_down:
            raise ProxyError(503, SHUTDOWN_MESSAGE, "server_shutdown")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise ProxyError(400, "the request has no `model`")
        if len(model) > MODEL_NAME_MAX:
            raise ProxyError(400, f"the model name is longer than {MODEL_NAME_MAX} characters")
        if state.budgets.limits and (hit := state.budgets.exceeded(self.client)):
            lim, resets_in = hit
            raise over_budget(lim.scope, state.budgets.spent(lim), lim.limit, resets_in)
        try:
            candidates = rt.router.resolve(self.resolve_as(rt, model) if self.resolve_as else model)
        except UnknownModel as e:
            raise unknown_model(model, e.known, rt) from None
        full_input, known = self._whole_input(body)
        if candidates[0].provider.kind_rules.responses_socket and await self._pass_through(body, candidates, known):
            return
        if not known:
            raise _not_found(body["previous_response_id"])
        if body.get("generate") is False:
            rid, frames = warmup_frames(model)
            for frame in frames:
                await self.ws.send_str(frame)
            self.last = LastResponse(rid, full_input, [])
            return
        await self._derived(body, full_input)

    async def _member_limits(self, rec: RequestRecord) -> None:
        """A member key's limits for a passed-through response (re-read: it may be revoked mid-socket)."""
        try:
            member = self.state.members.directory.identify(client_key(self.request))
        except KeyRefused as e:
            raise ProxyError(401, str(e), "invalid_api_key") from None
        if member is None:
            return
        rec.member, rec.team = member.id, member.team
        if (hit := await self.state.members.admit_request(rec.id, member.id, rec.model_requested or "")) is not None:
            raise ProxyError(hit.status, hit.message, hit.code, {"Retry-After": str(hit.retry_after)}
                             if hit.retry_after else None)  # fmt: skip

    def _whole_input(self, body: dict[str, Any]) -> tuple[list[Any], bool]:
        """The request's input with the remembered response before it; False when its chain is unknown here."""
        items = body.get("input")
        items = items if isinstance(items, list) else [] if items is None else [_as_message(items)]
        prev = body.get("previous_response_id")
        if prev is None:
            return items, True
        if self.last is None or prev != self.last.id:
            return items, False
        return [*self.last.input, *self.last.output, *items], True

    async def _pass_through(self, body: dict[str, Any], candidates: list[Candidate], known: bool) -> bool:
        """Serve on an upstream socket; False when none answered (the derived call then serves it).

        One record per response, started with the upstream's first event; attempts that failed
        before it (a refusal, a socket closed while idle) only count as attempts.
        """
        prev = body.get("previous_response_id")
        full_input, _ = self._whole_input(body)
        rec = RequestRecord(DIALECT, self.request.headers.get("User-Agent", ""))
        rec.client, rec.model_requested, rec.stream = self.client, body["model"], True
        await self._member_limits(rec)  # a derived call meets them in the handler instead
        try:
            for cand in candidates:
                if not cand.provider.kind_rules.responses_socket:
                    break
                for fresh in (False, True):  # a kept socket the upstream closed while idle gets one fresh try
                    up = await self._upstream_for(cand, fresh)
                    if up is None:
                        break
                    continues = prev is not None and prev in up.made
                    if prev is not None and not continues and not known:
                        raise _not_found(prev)
                    sent = body if continues else {**body, "input": full_input}
                    rec.attempt(cand.provider, cand.model, DIALECT)
                    rec.credential = up.credential.id
                    outcome = await self._relay(up, rec, upstream_message(up, sent, continues))
                    if isinstance(outcome, ResponseAssembler):
                        if outcome.error is None:
                            self.last = LastResponse(outcome.response_id, full_input, outcome.output, up)
                        return True
                    if outcome == REFUSED or not up.made:
                        break  # refused, or a new socket that failed: the next candidate may answer
        finally:
            if not rec.recorded:  # never started here: what it holds of the member's limits goes back
                self.state.members.unused(rec.id)
        return False

    async def _upstream_for(self, cand: Candidate, fresh: bool) -> UpstreamSocket | None:
        if not fresh and self.upstream is not None and self.upstream.serves(cand):
            return self.upstream
        await self.close()
        tried: set[str] = set()
        while True:
            got = await open_upstream(self.request, self.state, cand, tried)
            if got is None:
                return None
            if isinstance(got, UpstreamSocket):
                self.upstream = got
                return got
            log.info("Responses socket to %s failed: %s", cand.provider.name, got.message)

    async def _relay(self, up: UpstreamSocket, rec: RequestRecord, message: str) -> ResponseAssembler | str:
        """One passed-through response; a shutdown ends it with an error event. Recorded once it started."""
        task = asyncio.current_task()
        if task is not None:
            self.state.model_calls.add(task)  # the shutdown drain waits for it like any model call
        try:
            return await relay_response(self.ws, up, self.state, rec, message)
        except asyncio.CancelledError:
            if not self.state.shutting_down or task is None:
                self._ended(rec, 499, "client_closed", "the client went away")
                raise
            task.uncancel()
            self._ended(rec, 503, "server_shutdown", SHUTDOWN_MESSAGE)
            await self._send_error(ProxyError(503, SHUTDOWN_MESSAGE, "server_shutdown"))
            return ResponseAssembler()
        except ConnectionResetError:
            self._ended(rec, 499, "client_closed", "the client went away")
            return ResponseAssembler()
        finally:
            self.state.model_calls.discard(task)
            if rec.status:  # set once it started (or was ended by `_ended`)
                self.state.finished(rec)

    def _ended(self, rec: RequestRecord, status: int, code: str, message: str) -> None:
        if rec.t_first is None:  # nothing had started it yet: it still gets its row
            self.state.started(rec)
            self.state.request_started(rec)
        rec.fail(status, code, message)

    async def _derived(self, body: dict[str, Any], full_input: list[Any]) -> None:
        """One response through the request path (`POST .../responses`, streamed), its events as messages."""
        http_body = {k: v for k, v in body.items() if k not in ("previous_response_id", "generate")}
        http_body.update(input=full_input, stream=True)
        try:
            resp = await post_responses(self.request, self.request.path, http_body)
        except (aiohttp.ClientError, OwnAddressUnknown) as e:
            status = 503 if self.state.shutting_down else 502
            raise ProxyError(status, f"the proxy could not serve this response ({type(e).__name__})") from None
        asm = ResponseAssembler()
        async with resp:
            if resp.status != 200:
                retry = resp.headers.get("Retry-After")
                await self.ws.send_str(relayed_error(resp.status, await resp.read(), retry))
                return
            if not await self._events(resp, asm):
                raise ProxyError(502, "the response ended before it was complete", "upstream_disconnected")
        if asm.error is None:
            self.last = LastResponse(asm.response_id, full_input, asm.output)

    async def _events(self, resp: aiohttp.ClientResponse, asm: ResponseAssembler) -> bool:
        """Each SSE event's JSON as one message; True once the response's last event went out."""
        framer = SSEFramer()
        async for chunk in resp.content.iter_any():
            for block in framer.feed(chunk):
                data = block_data(block)
                if not data or data == b"[DONE]":
                    continue
                await self.ws.send_str(data.decode("utf-8", "replace"))
                try:
                    event = json.loads(data)
                except ValueError:
                    continue
                if isinstance(event, dict) and asm.feed(event):
                    return True
        return False


def _not_found(prev: object) -> ProxyError:
    """Codex answers this by sending the whole input again, without the chain."""
    return ProxyError(400, f"Previous response with id '{prev}' not found.", "previous_response_not_found")


def _as_message(text: object) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": str(text)}]}
