"""A Responses WebSocket passed through to an upstream that has one (OpenAI, the Codex backend).

One upstream socket per client socket, opened with the credential the broker picks (its auth
headers as on HTTP) and kept while the route stays on it, so the upstream's own
`previous_response_id` chain keeps working. Every `response.create` sent on it is one request
record: started when sent, finished at the response's last event with the usage it reports.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import aiohttp
from aiohttp import WSMsgType, web

from proxy_engine.credentials import parse_retry_after
from proxy_engine.credentials.pool import Credential
from proxy_engine.dialects.responses_aggregate import ResponseAssembler, error_text
from proxy_engine.logins.errors import AuthError
from proxy_engine.providers import Provider, UpstreamCall
from proxy_engine.record import RequestRecord
from proxy_engine.request_path.errors import ProxyError
from proxy_engine.request_path.headers import forwarded_headers, merge_auth
from proxy_engine.request_path.redaction import redact_secrets, safe_error_text
from proxy_engine.request_path.socket_frames import error_frame
from proxy_engine.request_path.upstream import FAILOVER_STATUSES
from proxy_engine.routing import Candidate
from proxy_engine.state import RunningEngine
from proxy_engine.usage.upstream import usage_in_reply

log = logging.getLogger("proxy_engine.request_path")
DIALECT = "openai_responses"
BETA_FLAG = "responses_websockets=2026-02-06"  # openai/codex core/src/client.rs, sent on every handshake
MAX_MESSAGE = 64 * 1024 * 1024
CLOSED, REFUSED = "closed", "refused"  # how a response failed before its first event


@dataclass(eq=False)
class UpstreamSocket:
    """One open upstream socket: where it goes, with which credential, and the responses it made."""

    provider: Provider
    model: str
    credential: Credential
    call: UpstreamCall
    ws: aiohttp.ClientWebSocketResponse
    made: set[str] = field(default_factory=set)  # response ids this upstream can continue from

    def serves(self, cand: Candidate) -> bool:
        return cand.provider.name == self.provider.name and not self.ws.closed

    async def close(self) -> None:
        await self.ws.close()


def socket_url(http_url: str) -> str:
    return "ws" + http_url[4:] if http_url.startswith("http") else http_url


def handshake_headers(request: web.Request, provider: Provider, auth: dict[str, str]) -> dict[str, str]:
    """The client's allowed headers, the provider's, then the credential's; one OpenAI-Beta with the flag."""
    headers = forwarded_headers(request, DIALECT, False)
    headers.update(provider.extra_headers)
    merge_auth(headers, auth)
    flags: list[str] = []
    for k in [k for k in headers if k.lower() == "openai-beta"]:
        flags += [f.strip() for f in headers.pop(k).split(",") if f.strip()]
    if not any(f.startswith("responses_websockets=") for f in flags):
        flags.append(BETA_FLAG)
    headers["OpenAI-Beta"] = ",".join(dict.fromkeys(flags))
    return headers


async def open_upstream(
    request: web.Request, state: RunningEngine, cand: Candidate, tried: set[str]
) -> UpstreamSocket | ProxyError | None:
    """Connect with the next credential of `cand`; None when it has none left to try."""
    creds, provider = state.credentials, cand.provider
    cred = creds.pick(provider, cand.model, tried)
    if cred is None:
        return None
    tried.add(cred.id)
    try:
        call = await creds.call_for(provider, cred, DIALECT)
    except AuthError as e:
        creds.report(provider, cred, cand.model, 401, None)
        return ProxyError(503, f"{provider.name}: {e}", "login_unusable")
    url = socket_url(str(provider.upstream_url(call, DIALECT, cand.model, stream=True)))
    headers = handshake_headers(request, provider, call.headers)
    assert state.session is not None
    try:
        async with asyncio.timeout(provider.settings.first_byte_timeout_s):
            ws = await state.session.ws_connect(url, headers=headers, max_msg_size=MAX_MESSAGE, autoping=True)
    except aiohttp.WSServerHandshakeError as e:
        retry = parse_retry_after(e.headers.get("Retry-After")) if e.headers else None
        creds.report(provider, cred, cand.model, e.status if e.status in FAILOVER_STATUSES else None, retry)
        return ProxyError(502 if e.status >= 500 else e.status, f"{provider.name} refused the WebSocket: {e.status}")
    except (aiohttp.ClientError, TimeoutError) as e:
        creds.report(provider, cred, cand.model, None, None)
        return ProxyError(502, f"{provider.name} could not be reached: {type(e).__name__}", "upstream_unreachable")
    return UpstreamSocket(provider, cand.model, cred, call, ws)


def upstream_message(up: UpstreamSocket, body: dict[str, Any], continues: bool) -> str:
    """The `response.create` the upstream gets: its model, its kind's last touches, the chain kept or not."""
    body = {**body, "model": up.model}
    if not continues:
        body.pop("previous_response_id", None)
    if up.provider.edits_body(up.call, DIALECT):
        body = up.provider.finalize_body(up.call, DIALECT, body, model=up.model, action=None)
    return json.dumps({"type": "response.create", **body})


async def relay_response(
    ws: web.WebSocketResponse, up: UpstreamSocket, state: RunningEngine, rec: RequestRecord, message: str
) -> ResponseAssembler | str:
    """Send one `response.create` upstream and its events to the client until the response ends.

    The record starts with the first event relayed. Before that, a failure sends the client nothing
    and is CLOSED (the socket went away, as a kept one may while idle) or REFUSED (a retryable error
    event); otherwise the assembler, whose `error` says whether the response failed.
    """
    creds, provider = state.credentials, up.provider
    asm = ResponseAssembler()
    relayed = 0
    try:
        await up.ws.send_str(message)
    except (ConnectionResetError, aiohttp.ClientError):  # the upstream closed the idle socket meanwhile
        await up.close()
        return CLOSED
    event: object = None
    while True:
        try:
            async with asyncio.timeout(provider.settings.idle_s if relayed else provider.settings.first_byte_timeout_s):
                msg = await up.ws.receive()
        except TimeoutError:
            msg = None
        if msg is None or msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            await up.close()
            if not relayed and msg is not None and up.made:
                return CLOSED  # a kept socket: no fault of the credential
            creds.report(provider, up.credential, up.model, 504 if msg is None else None, None)
            if not relayed:
                return CLOSED
            what = "went silent" if msg is None else "closed its socket"
            asm.error = {"message": f"{provider.name} {what} before the response was complete"}
            err = ProxyError(504 if msg is None else 502, asm.error["message"], "upstream_disconnected")
            rec.fail(err.status, "upstream_disconnected", err.message)
            await ws.send_str(error_frame(err))
            return asm
        if msg.type != WSMsgType.TEXT:
            continue
        try:
            event = json.loads(msg.data)
        except ValueError:
            event = None
        if not relayed and _retryable_refusal(event):  # nothing sent yet: the next upstream may answer
            _cool_down(up, state, event)
            await up.close()
            return REFUSED
        if not relayed:
            state.started(rec)
            state.request_started(rec)
            rec.first_byte()
            rec.status = 200
        relayed += 1
        failed = isinstance(event, dict) and event.get("type") in ("error", "response.failed")
        await ws.send_str(redact_secrets(msg.data) if failed else msg.data)  # an error may quote the credential
        if isinstance(event, dict) and asm.feed(event):
            break
    _settle(asm, up, state, rec, event)
    return asm


def _cool_down(up: UpstreamSocket, state: RunningEngine, event: dict[str, Any]) -> None:
    headers = event.get("headers")
    retry = parse_retry_after(headers.get("retry-after")) if isinstance(headers, dict) else None
    state.credentials.report(up.provider, up.credential, up.model, event["status"], retry)


def _settle(asm: ResponseAssembler, up: UpstreamSocket, state: RunningEngine, rec: RequestRecord, last: object) -> None:
    """Record how the response ended and tell the broker how the credential did."""
    creds, provider = state.credentials, up.provider
    if asm.response_id:
        up.made.add(asm.response_id)
    if asm.final is not None:
        rec.usage = usage_in_reply(DIALECT, asm.final)
    if asm.error is None:
        creds.report(provider, up.credential, up.model, 200, None)
        return
    status = last.get("status") if isinstance(last, dict) and isinstance(last.get("status"), int) else 502
    rec.fail(status, "upstream_stream_error", safe_error_text(f"{provider.name}: {error_text(asm.error)}"))
    if isinstance(last, dict) and status in FAILOVER_STATUSES:
        _cool_down(up, state, last | {"status": status})


def _retryable_refusal(event: object) -> TypeGuard[dict[str, Any]]:
    """An error event whose status would fail over on HTTP (429, 5xx, 401/403)."""
    return isinstance(event, dict) and event.get("type") == "error" and event.get("status") in FAILOVER_STATUSES
