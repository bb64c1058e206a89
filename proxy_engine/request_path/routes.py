"""The inbound routes, declared once and mounted at `/` and under Amp's `/api/provider/{provider}`.

A route is data: method and path (relative to where it is mounted), what kind of handler
serves it, and the dialect and action it implies. A `RouteFamily` says what a mount point
adds: the name a model routes by (Amp's mappings), how its model list is named and shaped,
and where a path that is not a model call goes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from proxy_engine.request_path.compact import compact
from proxy_engine.request_path.errors import ProxyError, error_response
from proxy_engine.request_path.exchange import ResolveAs
from proxy_engine.request_path.gemini_paths import GEMINI_ACTIONS, gemini_target, vertex_model_tail
from proxy_engine.request_path.handler import handle
from proxy_engine.request_path.headers import client_key
from proxy_engine.request_path.model_facts import describe
from proxy_engine.request_path.model_lists import list_dialect, model_list_response
from proxy_engine.request_path.responses_socket import serve_responses_socket
from proxy_engine.runtime import Runtime
from proxy_engine.state import ENGINE

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CALL = "call"  # a model call; the body names the model
GEMINI = "gemini"  # a model call; the path names the model and the method: models/{model}:{method}
VERTEX = "vertex"  # like GEMINI, Vertex style: .../publishers/google/models/{model}:{method}
MODEL_LIST = "model_list"
COMPACT = "compact"  # Codex's remote compaction (compact.py)
SOCKET = "socket"  # the Responses WebSocket mode, an upgraded GET (responses_socket.py)


@dataclass(frozen=True, slots=True)
class InboundRoute:
    method: str
    path: str  # relative to the mount point
    kind: str
    dialect: str | None = None
    action: str | None = None
    amp_unversioned: bool = False  # Amp also calls it without the leading `v1/`
    amp_only: bool = False


ROUTES: tuple[InboundRoute, ...] = (
    InboundRoute("POST", "v1/chat/completions", CALL, "openai_chat", amp_unversioned=True),
    InboundRoute("POST", "v1/responses", CALL, "openai_responses", amp_unversioned=True),
    InboundRoute("GET", "v1/responses", SOCKET, "openai_responses", amp_unversioned=True),
    InboundRoute("POST", "v1/responses/compact", COMPACT, "openai_responses", "compact", amp_unversioned=True),
    InboundRoute("POST", "v1/responses/input_tokens", CALL, "openai_responses", "input_tokens", amp_unversioned=True),
    InboundRoute("POST", "v1/completions", CALL, "openai_completions", amp_unversioned=True),
    InboundRoute("POST", "v1/embeddings", CALL, "openai_embeddings", "embeddings", amp_unversioned=True),
    InboundRoute("POST", "v1/messages", CALL, "anthropic"),
    InboundRoute("POST", "v1/messages/count_tokens", CALL, "anthropic", "count_tokens"),
    InboundRoute("GET", "v1/models", MODEL_LIST, amp_unversioned=True),
    InboundRoute("GET", "v1beta/models", MODEL_LIST),
    InboundRoute("POST", "v1beta/models/{tail:.+}", GEMINI, "gemini"),
    InboundRoute("POST", "v1/models/{tail:.+}", GEMINI, "gemini"),  # google-genai's default
    InboundRoute("POST", "v1beta1/{tail:.+}", VERTEX, "gemini", amp_only=True),
)


class RouteFamily(Protocol):
    """What one mount point of the route table adds to it."""

    prefix: str  # "" or a path with no trailing slash
    is_amp: bool  # mounts the Amp-only paths too

    def resolver(self, request: web.Request) -> ResolveAs | None:
        """The name a model routes by, when it is not the name sent."""

    def list_hint(self, request: web.Request) -> str | None:
        """The provider the path names, which picks the model list's shape; None when it names none."""

    def listed(self, rt: Runtime) -> list[str]:
        """The model names a model list shows."""

    async def not_a_model_call(self, request: web.Request) -> web.StreamResponse:
        """A path under a VERTEX route that names no model."""


class RootFamily:
    """The routes at `/`: no renaming, the router's own names."""

    prefix = ""
    is_amp = False

    def resolver(self, request: web.Request) -> ResolveAs | None:
        return None

    def list_hint(self, request: web.Request) -> str | None:
        return None

    def listed(self, rt: Runtime) -> list[str]:
        return rt.router.model_names()

    async def not_a_model_call(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPNotFound()


ROOT = RootFamily()


def mount(router: web.UrlDispatcher, family: RouteFamily) -> None:
    """Add every route of the table that this family serves, under its prefix."""
    for route in ROUTES:
        if route.amp_only and not family.is_amp:
            continue
        handler = _handler(route, family)
        router.add_route(route.method, f"{family.prefix}/{route.path}", handler)
        if route.amp_unversioned and family.is_amp:
            router.add_route(route.method, f"{family.prefix}/{route.path.removeprefix('v1/')}", handler)


def _handler(route: InboundRoute, family: RouteFamily) -> Handler:
    dialect, action = route.dialect or "", route.action

    async def call(request: web.Request) -> web.StreamResponse:
        return await handle(request, dialect, action=action, resolve_as=family.resolver(request))

    async def gemini(request: web.Request) -> web.StreamResponse:
        return await _gemini_call(request, family, request.match_info["tail"])

    async def vertex(request: web.Request) -> web.StreamResponse:
        tail = vertex_model_tail(request.match_info["tail"])
        if tail is None:
            return await family.not_a_model_call(request)
        return await _gemini_call(request, family, tail)

    async def model_list(request: web.Request) -> web.StreamResponse:
        return await _model_list(request, family)

    async def compact_call(request: web.Request) -> web.StreamResponse:
        return await compact(request, family.resolver(request))

    async def socket(request: web.Request) -> web.StreamResponse:
        return await serve_responses_socket(request, family.resolver(request))

    handlers = {
        CALL: call,
        GEMINI: gemini,
        VERTEX: vertex,
        MODEL_LIST: model_list,
        COMPACT: compact_call,
        SOCKET: socket,
    }
    return handlers[route.kind]


async def _gemini_call(request: web.Request, family: RouteFamily, tail: str) -> web.StreamResponse:
    model, action = gemini_target(tail)
    if action not in GEMINI_ACTIONS:
        return error_response("gemini", ProxyError(404, f"unsupported Gemini method {action!r}"))
    return await handle(request, "gemini", model=model, action=action, resolve_as=family.resolver(request))


async def _model_list(request: web.Request, family: RouteFamily) -> web.Response:
    rt = request.app[ENGINE].runtime
    dialect = list_dialect(request, family.list_hint(request))
    if request.app[ENGINE].members.client_name(rt, client_key(request)) is None:
        return error_response(dialect, ProxyError(401, "invalid or missing client key"))
    models = await asyncio.to_thread(describe, rt, family.listed(rt))  # genai-prices may still be loading
    return model_list_response(dialect, models)
