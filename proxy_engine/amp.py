"""Amp (ampcode.com) support: its provider routes, and a relay for its own API.

Amp pointed at the proxy (`amp.url`) sends model calls to `/api/provider/{provider}/...` and
everything else (user, threads, telemetry, login pages) to the same host. Model calls take the
normal request path (`request_path`'s one route table, mounted here too), so they are
authenticated, failed over and recorded like any other; Amp's own calls are relayed byte for byte to `amp_upstream_url`.

Model routing (`route_name`):
- `amp_routing_mode: mappings` (default): a model named in `amp_model_mappings` routes by its
  target (a friendly name or `provider/model`); any other model routes as it would on `/v1`
  (friendly name, `provider/model`, or a bare name a provider serves).
- `amp_routing_mode: openai`: the mappings are ignored and the route decides: the model, as
  sent, goes to the configured provider named like the route's provider segment, else to one of
  that kind (anthropic -> anthropic; openai -> openai, azure_openai, codex; google -> gemini,
  vertex, gemini_cli), preferring one that lists or recognises the model. With none configured,
  the normal router decides. Either way the client and the ledger keep the name Amp sent.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
import weakref
from collections.abc import AsyncIterator

import aiohttp
import yarl
from aiohttp import web
from multidict import CIMultiDict

from proxy_engine.browser_guard import relay_refusal, relay_refused
from proxy_engine.config import KIND_ALIASES
from proxy_engine.logs import REDACTOR
from proxy_engine.providers import Provider
from proxy_engine.request_path.exchange import ResolveAs
from proxy_engine.request_path.headers import (
    CLIENT_CREDENTIALS,
    RELAY_REQUEST_DROPPED,
    RELAY_RESPONSE_DROPPED,
    client_key,
)
from proxy_engine.request_path.routes import mount
from proxy_engine.runtime import Runtime, resolve_ref
from proxy_engine.state import ENGINE

log = logging.getLogger("proxy_engine.amp")

_P = "/api/provider/{provider}"
# Amp's web pages and login flow live outside /api; they are relayed too.
_PAGES = ("auth", "threads", "docs", "settings")

_UPSTREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=15, sock_read=600)
_CHUNK = 64 * 1024


def add_amp_routes(router: web.UrlDispatcher) -> None:
    """Amp's model routes (the shared route table) first; then every other `/api/...` path and Amp's pages
    go to the relay."""
    mount(router, AMP_ROUTES)
    router.add_route("*", "/api/{tail:.*}", relay)
    for page in _PAGES:
        router.add_route("*", f"/{page}", relay)
        router.add_route("*", f"/{page}/{{tail:.*}}", relay)
    router.add_get("/threads.rss", relay)
    router.add_get("/news.rss", relay)


# ----- model routing -----------------------------------------------------------------------------


def route_name(rt: Runtime, segment: str, model: str) -> str:
    """The name the router resolves for `model` sent on Amp's `segment` route (see the module doc)."""
    cfg = rt.config
    bare = model.removeprefix("models/")
    if cfg.amp_routing_mode == "openai":
        provider = provider_for_segment(rt, segment, bare)
        return f"{provider.name}/{bare}" if provider else model
    return _mapped(cfg.amp_model_mappings, bare) or model


def provider_for_segment(rt: Runtime, segment: str, model: str) -> Provider | None:
    seg = segment.lower()
    if seg in rt.providers:
        return rt.providers[seg]
    wanted = KIND_ALIASES.get(seg, seg)  # the kinds that answer this segment, best first
    members = (p for p in rt.providers.values() if p.kind_rules.amp_segment == wanted)
    ranked = sorted(members, key=lambda p: p.kind_rules.amp_rank)
    return next((p for p in ranked if p.serves(model)), ranked[0] if ranked else None)


def _mapped(mappings: dict[str, str], model: str) -> str | None:
    if model in mappings:
        return mappings[model]
    folded = model.lower()
    return next((target for name, target in mappings.items() if name.lower() == folded), None)


class AmpRouteFamily:
    """The route table under `/api/provider/{provider}`: Amp's names, and its segment's list shape."""

    prefix = _P
    is_amp = True

    def resolver(self, request: web.Request) -> ResolveAs:
        segment = request.match_info["provider"]
        return lambda rt, model: route_name(rt, segment, model)

    def list_hint(self, request: web.Request) -> str:
        segment = request.match_info["provider"].lower()
        return KIND_ALIASES.get(segment, segment)

    def listed(self, rt: Runtime) -> list[str]:
        """Amp may name its mappings too."""
        names = list(rt.config.amp_model_mappings) if rt.config.amp_routing_mode == "mappings" else []
        return list(dict.fromkeys([*names, *rt.router.model_names()]))

    async def not_a_model_call(self, request: web.Request) -> web.StreamResponse:
        return await relay(request)


AMP_ROUTES = AmpRouteFamily()


# ----- relay of Amp's own API --------------------------------------------------------------------


class _UpstreamKey:
    """`amp_upstream_api_key`, read once per runtime in a thread (a keyring read may block)."""

    def __init__(self) -> None:
        self._runtime: weakref.ref[Runtime] | None = None
        self._value: str | None = None

    async def get(self, rt: Runtime) -> str | None:
        if self._runtime is None or self._runtime() is not rt:
            value = await asyncio.to_thread(resolve_ref, rt.config.amp_upstream_api_key)
            REDACTOR.add(value)
            self._runtime, self._value = weakref.ref(rt), value
        return self._value


_UPSTREAM_KEY = _UpstreamKey()


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


async def relay(request: web.Request) -> web.StreamResponse:
    """Stream one Amp API call to `amp_upstream_url` and its answer back, redirects included."""
    state = request.app[ENGINE]
    rt = state.runtime
    base = rt.config.amp_upstream_url
    if not base:
        return _error(503, "amp_upstream_not_configured",
                      f"{request.path} is Amp's own API, which ProxyPal relays only when `amp_upstream_url` is set "
                      "in its config (for example https://ampcode.com)")  # fmt: skip
    # The middleware checks this too; vertex_post also ends up here for paths that are not model calls.
    if refusal := relay_refusal(request, rt.keys_required):
        return relay_refused(refusal)
    if _climbs(request.raw_path):
        return _error(400, "amp_path_refused", "paths with `.` or `..` segments or backslashes are not relayed to Amp")
    presented = client_key(request)
    if rt.keys_required and request.app[ENGINE].members.client_name(rt, presented) is None:
        return _error(401, "invalid_api_key", "invalid or missing client key for this proxy")
    try:
        url = yarl.URL(str(yarl.URL(base)).rstrip("/") + request.raw_path, encoded=True)
        if not url.host or url.scheme not in ("http", "https"):
            raise ValueError("not an http(s) URL")
    except ValueError as e:
        return _error(503, "amp_upstream_invalid", f"amp_upstream_url {base!r} is not usable: {e}")
    headers = _request_headers(request)
    if rt.keys_required:  # the client's credential was this proxy's key: it never leaves the machine
        for name in CLIENT_CREDENTIALS:
            headers.popall(name, None)
        if presented and request.query.get("key") == presented:
            url = url.with_query([(k, v) for k, v in url.query.items() if not (k == "key" and v == presented)])
    ref = rt.config.amp_upstream_api_key
    if ref and "authorization" not in headers:
        key = await _UPSTREAM_KEY.get(rt)
        if key is None:
            return _error(503, "amp_upstream_key_unreadable", f"amp_upstream_api_key ({ref}) cannot be read")
        headers["Authorization"] = "Bearer " + key
    return await _stream(request, state.session, url, headers)


def _climbs(raw_path: str) -> bool:
    """A dot segment or backslash, also percent-encoded (once or twice), which could climb out of
    `amp_upstream_url`'s path on the upstream (where the Amp key is attached)."""
    path = raw_path.partition("?")[0]
    for _ in range(3):
        if "\\" in path or any(seg in (".", "..") for seg in path.split("/")):
            return True
        decoded = urllib.parse.unquote(path)
        if decoded == path:
            return False
        path = decoded
    return True  # still encoded after three rounds: nothing legitimate looks like that


def _request_headers(request: web.Request) -> CIMultiDict[str]:
    named = {t.strip().lower() for v in request.headers.getall("Connection", ()) for t in v.split(",")}
    out: CIMultiDict[str] = CIMultiDict()
    for k, v in request.headers.items():
        if k.lower() not in RELAY_REQUEST_DROPPED and k.lower() not in named:
            out.add(k, v)
    out.setdefault("Accept-Encoding", "identity")  # bytes pass through undecoded: ask for what the client reads
    return out


async def _body(request: web.Request) -> AsyncIterator[bytes]:
    async for chunk in request.content.iter_chunked(_CHUNK):
        yield chunk


async def _stream(
    request: web.Request, session: aiohttp.ClientSession, url: yarl.URL, headers: CIMultiDict[str]
) -> web.StreamResponse:
    try:
        resp = await session.request(
            request.method, url, headers=headers, data=_body(request) if request.body_exists else None,
            allow_redirects=False, auto_decompress=False, timeout=_UPSTREAM_TIMEOUT,
        )  # fmt: skip
    except (aiohttp.ClientError, TimeoutError) as e:
        log.warning("Amp upstream %s unreachable for %s %s: %s", url.origin(), request.method, request.path,
                    e or type(e).__name__)  # fmt: skip
        return _error(502, "amp_upstream_unreachable",
                      f"amp_upstream_url {url.origin()} cannot be reached: {e or type(e).__name__}")  # fmt: skip
    try:
        log.debug("Amp %s %s -> %d", request.method, request.path, resp.status)
        out = web.StreamResponse(status=resp.status, reason=resp.reason)
        named = {t.strip().lower() for v in resp.headers.getall("Connection", ()) for t in v.split(",")}
        for k, v in resp.headers.items():
            low = k.lower()
            if low not in RELAY_RESPONSE_DROPPED and low not in named and not low.startswith("access-control-"):
                out.headers.add(k, v)
        await out.prepare(request)
        try:
            async for chunk in resp.content.iter_any():
                await out.write(chunk)
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError) as e:
            log.warning("Amp upstream dropped %s %s mid-reply: %s", request.method, request.path, e or type(e).__name__)
            request.transport.close()  # the client must see a cut reply, not a complete one
            return out
        await out.write_eof()
        return out
    finally:
        resp.release()
