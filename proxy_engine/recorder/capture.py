"""One request's capture, held in memory while the request runs and decided on at its end.

The hot path only appends references: bodies and stream chunks are immutable `bytes`, so a
stage keeps the chunks it was handed (cut at its byte cap) and nothing is copied, parsed or
redacted until the writer thread turns a kept capture into a file. A capture that is not kept
(a successful request in `errors` mode) is simply dropped with the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

CLIENT_REQUEST = "client_request"
UPSTREAM_REQUEST = "upstream_request"
UPSTREAM_RESPONSE = "upstream_response"
CLIENT_RESPONSE = "client_response"
STAGES = (CLIENT_REQUEST, UPSTREAM_REQUEST, UPSTREAM_RESPONSE, CLIENT_RESPONSE)


@dataclass(slots=True)
class Stage:
    """One stage: where it went (method and URL, or status) and its body as the chunks that passed."""

    name: str
    attempt: int = 0  # upstream stages: which attempt (1-based); client stages: 0
    method: str = ""
    url: str = ""
    query: Mapping[str, str] | None = None
    status: int = 0
    headers: Mapping[str, str] | None = None
    chunks: list[bytes | memoryview] = field(default_factory=list)  # a view: the first part of an immutable body
    kept: int = 0  # bytes kept in `chunks`
    seen: int = 0  # bytes that passed, kept or not
    truncated: bool = False


@dataclass(slots=True)
class Limits:
    """The caps, shared by every capture in flight: `held` counts what they all keep, up to `memory_max`."""

    stage_max: int
    request_max: int
    memory_max: int = 64 << 20
    held: int = 0


class Capture:
    """The stages of one request, each bounded by `stage_max` bytes and all of them by `request_max`."""

    __slots__ = ("_last_upstream", "attempts", "kept", "limits", "stages")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.stages: list[Stage] = []
        self.kept = 0
        self.attempts = 0  # upstream requests so far: counted, not searched for on every stage
        self._last_upstream: Stage | None = None

    def client_request(self, request: web.Request) -> None:
        self.stages.append(Stage(CLIENT_REQUEST, 0, request.method, request.path, request.query, 0, request.headers))

    def client_body(self, raw: bytes) -> None:
        self.add(self.stages[0], raw)

    def upstream_request(self, url: str, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        self.attempts += 1
        stage = Stage(UPSTREAM_REQUEST, self.attempts, "POST", url, query, 0, headers)
        self.stages.append(stage)
        self.add(stage, body)

    def upstream_response(self, status: int, headers: Mapping[str, str]) -> None:
        self._last_upstream = Stage(UPSTREAM_RESPONSE, self.attempts, "", "", None, status, headers)
        self.stages.append(self._last_upstream)

    def upstream_body(self, chunk: bytes) -> None:
        if self._last_upstream is not None:
            self.add(self._last_upstream, chunk)

    def client_response_body(self, chunk: bytes) -> None:
        self.add(self._client_response(), chunk)

    def client_response_stage(self) -> Stage:
        """The stage a streamed reply's chunks go to (its writer keeps it, instead of looking it up per chunk)."""
        return self._client_response()

    def client_reply(self, resp: web.StreamResponse) -> None:
        """The reply the handler returned: its status and headers, and its body when it was a whole one."""
        stage = self._client_response()
        stage.status, stage.headers = resp.status, resp.headers
        if isinstance(resp, web.Response) and not stage.seen and isinstance(resp.body, bytes | bytearray):
            self.add(stage, bytes(resp.body))

    def _client_response(self) -> Stage:
        last = self.stages[-1]
        if last.name != CLIENT_RESPONSE:
            last = Stage(CLIENT_RESPONSE)
            self.stages.append(last)
        return last

    def add(self, stage: Stage, chunk: bytes) -> None:
        """Keep `chunk` (or the part of it within the caps); past a cap the stage is marked truncated."""
        n = len(chunk)
        stage.seen += n
        lim = self.limits
        room = lim.stage_max - stage.kept  # the smallest of the three caps' room, without a call to min()
        if (left := lim.request_max - self.kept) < room:
            room = left
        if (left := lim.memory_max - lim.held) < room:
            room = left
        if n > room:
            stage.truncated = True
            if room <= 0:
                return
            # A view of immutable bytes, not a copy: an agent's 350 KB turn was copied twice (client
            # and upstream stages, 256 KB each) on every call, even the ones that succeed.
            chunk, n = (memoryview(chunk)[:room] if type(chunk) is bytes else bytes(chunk[:room])), room
        elif type(chunk) is not bytes:
            chunk = bytes(chunk)  # a writer may hand a bytearray it reuses
        stage.chunks.append(chunk)
        stage.kept += n
        self.kept += n
        lim.held += n

    def own_bytes(self) -> None:
        """Copy the views `add` kept of oversized bodies: free while the request runs (the body is alive
        anyway), but a capture kept after it would pin each whole body, not the part it counts."""
        for stage in self.stages:
            if any(type(c) is memoryview for c in stage.chunks):
                stage.chunks = [bytes(c) if type(c) is memoryview else c for c in stage.chunks]

    def release(self) -> None:
        """The request is over: its bytes no longer count against the in-flight memory cap."""
        self.limits.held -= self.kept
        self.kept = 0

    @property
    def failed_over(self) -> bool:
        return self.attempts > 1
