"""The Responses API's WebSocket mode (`GET /v1/responses`, upgraded), as Codex CLI uses it.

Framing, from openai/codex (`codex-rs/codex-api/src/common.rs`, `endpoint/responses_websocket.rs`):
the handshake carries `OpenAI-Beta: responses_websockets=...`; the client sends one JSON text
message per response, `{"type": "response.create", ...the Responses request body...}`, optionally
with `previous_response_id` and only the new input items (the server keeps the previous response
of this connection), or `generate: false` to warm up; `{"type": "response.processed"}` needs no
answer. The server answers with the Responses stream events, one JSON text message each (no SSE
framing), and reports a failure as `{"type": "error", "status": N, "error": {...}}`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .base import RECORD_KEY, InvalidRequest, RecordedRequest, parse_sse
from .openai_responses import ResponsesRenderer
from .script import new_id

if TYPE_CHECKING:
    from .base import FakeProvider

BETA = "responses_websockets="
Validator = Callable[[dict[str, Any]], None]


@dataclass
class _Previous:
    """What the connection remembers of its last response (the real server keeps it per connection)."""

    id: str
    input: list[dict[str, Any]] = field(default_factory=list)
    output: list[dict[str, Any]] = field(default_factory=list)


_DROPPED = _Previous("")  # the fake cut the connection mid-response


def socket_error(status: int, message: str, code: str | None = None, err_type: str | None = None) -> str:
    kind = err_type or ("invalid_request_error" if status < 500 else "server_error")
    return json.dumps({"type": "error", "status": status, "error": {"type": kind, "code": code, "message": message}})


async def serve_responses_socket(
    fake: FakeProvider, request: web.Request, auth_failure: web.Response | None, validate: Validator
) -> web.StreamResponse:
    """Upgrade, then answer each `response.create` with its stream events as text messages."""
    if auth_failure is not None:
        return auth_failure
    if BETA not in request.headers.get("OpenAI-Beta", ""):
        return fake.error_response(400, "WebSocket mode needs the OpenAI-Beta: responses_websockets header")
    ws = web.WebSocketResponse(max_msg_size=64 * 1024 * 1024)
    await ws.prepare(request)
    handshake: RecordedRequest = request[RECORD_KEY]
    previous: _Previous | None = None
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            await ws.send_str(socket_error(400, "only JSON text messages are accepted"))
            continue
        try:
            data = json.loads(msg.data)
        except ValueError:
            await ws.send_str(socket_error(400, "the message is not valid JSON"))
            continue
        fake.requests.append(
            RecordedRequest("WS", request.path, dict(request.query), handshake.headers, msg.data.encode(), data)
        )
        if not isinstance(data, dict) or data.get("type") not in ("response.create", "response.processed"):
            await ws.send_str(socket_error(400, "unsupported message type"))
            continue
        if data["type"] == "response.processed":
            continue
        previous = await _one_response(fake, ws, data, previous, handshake.headers, validate)
        if previous is _DROPPED:
            break
        if getattr(fake, "close_idle_sockets", False):
            await ws.close()
            break
    return ws


async def _one_response(
    fake: FakeProvider, ws: web.WebSocketResponse, data: dict[str, Any], previous: _Previous | None,
    headers: dict[str, str], validate: Validator,
) -> _Previous | None:  # fmt: skip
    body = {k: v for k, v in data.items() if k not in ("type", "generate")}
    items = body.get("input")
    prev_id = body.pop("previous_response_id", None)
    if prev_id is not None:
        if previous is None or prev_id != previous.id:
            msg = f"Previous response with id '{prev_id}' not found."
            await ws.send_str(socket_error(400, msg, "previous_response_not_found"))
            return previous
        if isinstance(items, list):
            body["input"] = [*previous.input, *previous.output, *items]
    try:
        validate(body)
        if body.get("stream") is not True:
            raise InvalidRequest("WebSocket mode streams: `stream` must be true", "stream")
    except InvalidRequest as e:
        await ws.send_str(socket_error(400, e.message))
        return previous
    full_input = body["input"] if isinstance(body["input"], list) else []
    renderer = ResponsesRenderer(fake.pick_script(_key(headers), body["model"]), body["model"], body)
    if data.get("generate") is False:  # a warm-up: the connection learns the prompt, nothing is generated
        rid = new_id("resp_", 32)
        done = renderer.response("completed", [], None) | {"id": rid}
        await ws.send_str(json.dumps({"type": "response.created", "response": done | {"status": "in_progress"}}))
        await ws.send_str(json.dumps({"type": "response.completed", "response": done}))
        return _Previous(rid, full_input, [])
    script = renderer.script
    if script.status is not None:
        await ws.send_str(socket_error(script.status, script.error_message or f"scripted error {script.status}"))
        return previous
    output: list[dict[str, Any]] = []
    for count, frame in enumerate(renderer.frames()):
        if count == script.drop_after:
            await ws.close()
            return _DROPPED
        if count == script.stream_error_after:
            frame = renderer.error_frame()
        for _, event in parse_sse(frame):
            await ws.send_str(json.dumps(event))
            if event.get("type") == "response.output_item.done":
                output.append(event["item"])
        if count == script.stream_error_after:
            return previous
    return _Previous(renderer.id, full_input, output)


def _key(headers: dict[str, str]) -> str | None:
    auth = headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None
