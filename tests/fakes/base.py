"""Shared machinery of the fake providers: a real aiohttp server on 127.0.0.1, request recording,
script selection, and the stream writer that can delay, stall, split frames or drop the connection."""

from __future__ import annotations

import abc
import asyncio
import hmac
import json
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any, Self

from aiohttp import web

from .script import Script, ScriptRule

RECORD_KEY = web.RequestKey("fake_record", object)
MAX_STALL_S = 30.0
GARBAGE_EVENT = b"data: this is not json {\n\n"  # Script.garbage_after


class InvalidRequest(Exception):
    """Raised by validators; the fake answers 400 in its own error shape with this message."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass
class RecordedRequest:
    """One request exactly as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any
    completed: bool = False
    disconnected: bool = False

    @property
    def model(self) -> str | None:
        """The model asked for: the JSON `model` field, or the Gemini path segment."""
        if isinstance(self.json, dict) and isinstance(self.json.get("model"), str):
            return self.json["model"]
        if "/models/" in self.path and ":" in self.path:
            return self.path.split("/models/", 1)[1].rsplit(":", 1)[0]
        return None


class FakeProvider(abc.ABC):
    """Base class: subclasses add routes (`add_routes`), auth, the error shape and the wire format.

    Use `async with Fake() as fake:` (or `FakeServerThread` from synchronous code).
    """

    default_key = "fake-key"

    def __init__(
        self,
        api_key: str | None = None,
        *,
        api_keys: Iterable[str] | None = None,
        known_models: Iterable[str] | None = None,
    ) -> None:
        self.api_keys: list[str] = list(api_keys) if api_keys else [api_key or self.default_key]
        self.known_models: list[str] | None = list(known_models) if known_models else None
        self.requests: list[RecordedRequest] = []
        self._arrival = asyncio.Event()
        self.default_script = Script()
        self._rules: list[ScriptRule] = []
        self._queue: list[ScriptRule] = []
        self.port: int = 0
        self._runner: web.AppRunner | None = None
        self.app = web.Application(middlewares=[self._record_middleware], client_max_size=64 * 1024 * 1024)
        # Seconds this server's clock is off by, as its `Date` header shows (the doctor's clock check).
        self.clock_offset_s = 0.0
        self.app.on_response_prepare.append(self._date_header)
        self.add_routes(self.app.router)

    # ----- public API -------------------------------------------------------------------------------
    @property
    def api_key(self) -> str:
        return self.api_keys[0]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.origin

    @property
    def last_request(self) -> RecordedRequest:
        return self.requests[-1]

    def requests_to(self, path_part: str) -> list[RecordedRequest]:
        """Recorded requests whose path contains `path_part`."""
        return [r for r in self.requests if path_part in r.path]

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> bool:
        """Block (polling) until `count` requests were received; for tests using FakeServerThread."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    async def until_requests(self, count: int) -> None:
        """Async wait for `count` requests, for a fake served on the caller's own loop (not a thread).
        Bound it with `asyncio.timeout(...)`."""
        while len(self.requests) < count:
            self._arrival.clear()
            await self._arrival.wait()

    def script(self, *, key: str | None = None, model: str | None = None, **fields: Any) -> Script:
        """Set the answer for all later requests (or only those with this credential key and/or model)."""
        script = Script(**fields)
        if key is None and model is None:
            self.default_script = script
        else:
            self._rules.append(ScriptRule(script, key, model))
        return script

    def queue(self, *, key: str | None = None, model: str | None = None, **fields: Any) -> Script:
        """Queue a one-shot answer, used by the next matching request only (FIFO, before `script` rules)."""
        script = Script(**fields)
        self._queue.append(ScriptRule(script, key, model))
        return script

    def reset(self) -> None:
        """Forget scripts and recorded requests."""
        self.default_script = Script()
        self._rules.clear()
        self._queue.clear()
        self.requests.clear()
        self.clock_offset_s = 0.0

    def pick_script(self, key: str | None, model: str | None) -> Script:
        for i, rule in enumerate(self._queue):
            if rule.matches(key, model):
                return self._queue.pop(i).script
        for rule in reversed(self._rules):
            if rule.matches(key, model):
                return rule.script
        return self.default_script

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _date_header(self, request: web.Request, response: web.StreamResponse) -> None:
        if self.clock_offset_s:
            response.headers["Date"] = formatdate(time.time() + self.clock_offset_s, usegmt=True)

    # ----- hooks for subclasses -----------------------------------------------------------------------
    @abc.abstractmethod
    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Register this provider's endpoints."""

    @abc.abstractmethod
    def error_response(
        self, status: int, message: str, err_type: str | None = None, headers: dict[str, str] | None = None
    ) -> web.Response:
        """An error in this provider's JSON shape."""

    # ----- helpers for subclasses ---------------------------------------------------------------------
    @web.middleware
    async def _record_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        rec = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            json=parsed,
        )
        self.requests.append(rec)
        self._arrival.set()
        request[RECORD_KEY] = rec
        resp = await handler(request)
        if not rec.disconnected:
            rec.completed = True
        return resp

    def key_matches(self, presented: str | None) -> bool:
        if not presented:
            return False
        return any(hmac.compare_digest(presented.encode(), k.encode()) for k in self.api_keys)

    def model_known(self, model: str) -> bool:
        return self.known_models is None or model in self.known_models

    def model_list(self) -> list[str]:
        return self.known_models or []

    def json_body(self, request: web.Request) -> dict[str, Any]:
        rec: RecordedRequest = request[RECORD_KEY]
        if not rec.body:
            raise InvalidRequest("request body is empty; expected a JSON object")
        if not isinstance(rec.json, dict):
            raise InvalidRequest("request body is not a valid JSON object")
        return rec.json

    def scripted_error(self, script: Script, default_message: str) -> web.Response:
        headers = dict(script.headers)
        if script.retry_after is not None:
            ra = script.retry_after
            headers["Retry-After"] = str(int(ra)) if float(ra).is_integer() else str(ra)
        assert script.status is not None
        return self.error_response(script.status, script.error_message or default_message, script.error_type, headers)

    async def wait(self, request: web.Request, seconds: float) -> bool:
        """Sleep up to `seconds`, returning False early if the client hung up."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            transport = request.transport
            if transport is None or transport.is_closing():
                request[RECORD_KEY].disconnected = True
                return False
            await asyncio.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
        return True

    async def send_json(
        self, request: web.Request, script: Script, payload: Any, headers: dict[str, str] | None = None
    ) -> web.StreamResponse:
        """Send a whole JSON answer, honouring delay and drop_after for non-stream requests."""
        if script.delay and not await self.wait(request, script.delay):
            return web.Response(status=499)
        if script.raw_body is not None:
            data = script.raw_body
        else:
            data = json.dumps(script.body if script.body is not None else payload).encode()
        all_headers = {**(headers or {}), **script.headers}
        if script.drop_after is None:
            return web.Response(body=data, content_type="application/json", headers=all_headers)
        return await self._drop_json(request, data, script.drop_after, all_headers)

    async def _drop_json(
        self, request: web.Request, data: bytes, drop_after: int, headers: dict[str, str]
    ) -> web.StreamResponse:
        rec: RecordedRequest = request[RECORD_KEY]
        rec.disconnected = True
        resp = web.StreamResponse(headers={**headers, "Content-Type": "application/json"})
        if drop_after > 0:
            resp.content_length = len(data)
            await resp.prepare(request)
            await resp.write(data[: len(data) // 2])
        _abort(request)
        return resp

    async def send_stream(
        self,
        request: web.Request,
        script: Script,
        frames: Iterable[bytes],
        *,
        content_type: str = "text/event-stream; charset=utf-8",
        headers: dict[str, str] | None = None,
        error_frame: bytes | None = None,
        keepalive: bytes | None = None,
    ) -> web.StreamResponse:
        """Write `frames` (each one complete event) as a streamed response, applying the script's faults.

        error_frame is sent (and the stream ended) after `stream_error_after` frames; keepalive is written
        between frames in edge-case mode (an SSE comment or an Anthropic ping).
        """
        rec: RecordedRequest = request[RECORD_KEY]
        if script.delay and not await self.wait(request, script.delay):
            return web.Response(status=499)
        resp = web.StreamResponse(
            headers={
                "Content-Type": content_type,
                "Cache-Control": "no-cache",
                **(headers or {}),
                **script.headers,
            }
        )
        await resp.prepare(request)
        try:
            for count, frame in enumerate(frames):
                if count == script.drop_after:
                    rec.disconnected = True
                    _abort(request)
                    return resp
                if count == script.stall_after:
                    await self.wait(request, MAX_STALL_S)
                    return resp
                if count == script.stream_error_after and error_frame is not None:
                    await resp.write(error_frame)
                    break
                if count == script.end_after:
                    break
                if count == script.garbage_after:
                    await resp.write(GARBAGE_EVENT)
                if count and script.chunk_delay and not await self.wait(request, script.chunk_delay):
                    return resp
                if script.edge_cases and keepalive is not None and count % 2 == 1:
                    await resp.write(keepalive)
                if script.edge_cases and len(frame) > 8:
                    half = len(frame) // 2
                    await resp.write(frame[:half])
                    await asyncio.sleep(0.005)
                    await resp.write(frame[half:])
                else:
                    await resp.write(frame)
            else:
                if script.drop_after is not None or script.stall_after is not None:
                    # K is past the last event: still cut/stall before the clean end of the body.
                    if script.stall_after is not None:
                        await self.wait(request, MAX_STALL_S)
                        return resp
                    rec.disconnected = True
                    _abort(request)
                    return resp
            await resp.write_eof()
        except ConnectionError:
            rec.disconnected = True
        return resp


def _abort(request: web.Request) -> None:
    """Close the socket abruptly: no final chunk, no clean end of the HTTP body."""
    transport = request.transport
    if transport is not None:
        transport.abort()


def sse(data: Any, event: str | None = None, *, crlf: bool = False) -> bytes:
    """One SSE frame: optional `event:` line, one `data:` line, blank line."""
    nl = "\r\n" if crlf else "\n"
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}{nl}" if event else ""
    return f"{head}data: {payload}{nl}{nl}".encode()


def parse_sse(raw: bytes) -> list[tuple[str | None, Any]]:
    """Parse an SSE body into (event, data) pairs; data is JSON-decoded when possible. For tests."""
    events = []
    for block in raw.decode().replace("\r\n", "\n").split("\n\n"):
        event, data_lines = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data_lines.append(line[5:].removeprefix(" "))
        if not data_lines:
            continue
        data = "\n".join(data_lines)
        try:
            events.append((event, json.loads(data)))
        except ValueError:
            events.append((event, data))
    return events
