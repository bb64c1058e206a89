"""The request path: authenticate, resolve, forward with failover, stream back, record.

Headers reach the client only after the first upstream chunk, so a failure before
that can still fail over and the client always gets an honest status.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import yarl
from aiohttp import web

from proxy_engine.auth import AuthError, parse_retry_after
from proxy_engine.browser_guard import browser_refusal
from proxy_engine.dialects.body import ensure_include_usage, rewrite_model
from proxy_engine.dialects.errors import stream_error_event
from proxy_engine.dialects.translated import TranslatedStream, usage_from_ir
from proxy_engine.dialects.usage_taps import GeminiArrayTap, HiddenUsageTap, StreamTap, usage_from_body
from proxy_engine.providers.wire import edits_body, finalize_body, sign_headers, upstream_url
from proxy_engine.record import RequestRecord
from proxy_engine.routing import Candidate, UnknownModel
from proxy_engine.runtime import Runtime
from proxy_engine.state import ENGINE, RECORD, EngineState
from proxy_engine.token_count import COUNT_ACTIONS, COUNTING_DIALECTS, count_reply, count_request
from proxy_engine.translate import (
    ESTIMATE_HEADER,
    TranslationError,
    count_tokens_response,
    error_body,
    estimate_input_tokens,
    get_translator,
)

log = logging.getLogger("proxy_engine.proxy")

_DROP_REQUEST = frozenset(
    {"host", "content-length", "authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie",
     "accept-encoding", "connection", "keep-alive", "proxy-authorization", "te", "trailer", "transfer-encoding",
     "upgrade", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"}
)  # fmt: skip
_KEEP_RESPONSE_PREFIX = ("x-ratelimit", "anthropic-", "openai-", "x-request-id", "request-id", "retry-after")
_FAILOVER = frozenset({401, 403, 408, 429, 500, 502, 503, 504, 529})
_ERRORS_MAX = 1 << 20


class ProxyError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}


def client_key(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-api-key") or request.headers.get("x-goog-api-key") or request.query.get("key")


def error_response(dialect: str, err: ProxyError) -> web.Response:
    body = error_body(dialect, err.status, err.message, err.code)
    return web.Response(status=err.status, body=body, content_type="application/json", headers=err.headers)


async def handle(
    request: web.Request,
    dialect: str,
    model: str | None = None,
    action: str | None = None,
    resolve_as: Callable[[Runtime, str], str] | None = None,
):
    """Entry point for every proxied route.

    `resolve_as` lets a route family (Amp) route a model under another name, while the
    record and the client keep seeing the name that was sent.
    """
    state: EngineState = request.app[ENGINE]
    rt = state.runtime
    rec = RequestRecord(dialect, request.headers.get("User-Agent", ""))
    request[RECORD] = rec  # names the request in X-ProxyPal-Request-Id
    state.started(rec)
    try:
        if not rt.keys_required and (why := browser_refusal(request)):
            raise ProxyError(403, why, "browser_request_refused")
        client = rt.client_for(client_key(request))
        if client is None:
            raise ProxyError(401, "invalid or missing client key for this proxy", "invalid_api_key")
        rec.client = client
        if state.budgets.limits and (hit := state.budgets.exceeded(client)):
            _over_budget(state, *hit)
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise ProxyError(413, f"request body is larger than max_body_mb ({rt.config.max_body_mb} MB)") from None
        obj = _parse_body(raw)
        model = model or obj.get("model")
        if not isinstance(model, str) or not model:
            raise ProxyError(400, "the request has no `model`")
        rec.model_requested = model
        stream = action == "streamGenerateContent" if dialect == "gemini" else obj.get("stream") is True
        rec.stream = stream
        opts = obj.get("stream_options")
        rec.include_usage_requested = isinstance(opts, dict) and opts.get("include_usage") is True
        try:
            candidates = rt.router.resolve(resolve_as(rt, model) if resolve_as else model)
        except UnknownModel as e:
            raise ProxyError(404, _unknown_model(model, e.known, rt), "model_not_found") from None
        return await _forward(request, state, rec, raw, obj, candidates, action)
    except ProxyError as e:
        rec.fail(e.status, e.code or "error", e.message)
        return error_response(dialect, e)
    except asyncio.CancelledError:
        rec.fail(499, "client_closed", "the client went away")
        raise
    finally:
        state.finished(rec)


def _unknown_model(model: str, known: list[str], rt: Runtime) -> str:
    if known:
        return f"unknown model {model!r}; models here: {', '.join(known)}"
    providers = ", ".join(rt.providers) or "none configured yet"
    return f"unknown model {model!r}; no `models:` are listed, so name one as PROVIDER/MODEL (providers: {providers})"


def _over_budget(state: EngineState, lim, resets_in: float) -> None:
    spent = state.budgets.spent(lim)
    secs = max(1, math.ceil(resets_in))
    raise ProxyError(429, f"budget {lim.scope} is used up (${spent:.2f} of ${lim.limit:.2f}); it resets in "
                     f"{secs // 3600}h{secs % 3600 // 60:02d}m, or raise it in the config", "budget_exceeded",
                     {"Retry-After": str(secs)})  # fmt: skip


def _parse_body(raw: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(raw) if raw else None
    except ValueError as e:
        raise ProxyError(400, f"the request body is not valid JSON: {e}") from None
    if not isinstance(obj, dict):
        raise ProxyError(400, "the request body must be a JSON object")
    return obj


async def _forward(request, state, rec, raw, obj, candidates: list[Candidate], action):
    """Try candidates in order and, within each, its credentials; fail over before the first byte."""
    rt = state.runtime
    creds = state.credentials
    budget = rt.router.max_attempts
    last: ProxyError | None = None
    waited = False
    while True:
        soonest: float | None = None
        for cand in candidates:
            if budget <= 0:
                break
            provider = cand.provider
            up_dialect = provider.upstream_dialect(rec.dialect_in, cand.model)
            translator = None
            if up_dialect != rec.dialect_in:
                translator = get_translator(rec.dialect_in, up_dialect)
                if action in COUNT_ACTIONS and up_dialect not in COUNTING_DIALECTS:
                    return _estimate_count(rec, obj, provider.name, cand.model)
            if not creds.has_credentials(provider):
                last = last or ProxyError(503, _no_credentials(provider), "no_credentials")
                continue
            tried: set[str] = set()
            while budget > 0:
                cred = creds.pick(provider, cand.model, tried)
                if cred is None:
                    until = None if tried else creds.soonest(provider, cand.model)
                    if until is not None and (soonest is None or until < soonest):
                        soonest = until
                    break
                tried.add(cred.id)
                budget -= 1
                outcome = await _attempt(request, state, rec, raw, obj, cand, cred, up_dialect, translator, action)
                if not isinstance(outcome, ProxyError):
                    return outcome
                last = outcome
        if last is not None or soonest is None:
            raise last or ProxyError(502, "no upstream could take this request")
        wait = soonest - time.time()
        if not waited and wait <= rt.config.routing.max_wait_s:
            waited = True
            log.info("every credential for %s cools down; waiting %.1fs", rec.model_requested, wait)
            await asyncio.sleep(max(wait, 0.0))
            continue
        secs = max(1, math.ceil(wait))
        raise ProxyError(429, f"every credential that serves {rec.model_requested!r} is cooling down after upstream "
                         f"errors; retry in {secs}s (or clear cooldowns in proxypal-tui)", "credentials_cooling_down",
                         {"Retry-After": str(secs)})  # fmt: skip


def _no_credentials(provider) -> str:
    if provider.login:
        return f"{provider.name} has no login: run `proxypal-engine login {provider.login}`"
    refs = ", ".join(provider.unreadable) or "none configured"
    return f"{provider.name} has no usable API key ({refs} cannot be read)"


async def _attempt(request, state, rec, raw, obj, cand, cred, up_dialect, translator, action):
    """One upstream call. Returns the client's response, or a ProxyError that allows failover."""
    rt, creds, provider = state.runtime, state.credentials, cand.provider
    rec.attempt(provider, cand.model, up_dialect)
    rec.credential = cred.id
    if rec.attempts == 1:
        state.request_started(rec)
    try:
        call = await creds.call_for(provider, cred, up_dialect)
    except AuthError as e:
        creds.report(provider, cred, cand.model, 401, None)
        return ProxyError(503, f"{provider.name}: {e}", "login_unusable")
    try:
        url, body = _upstream_request(rec, raw, obj, cand, up_dialect, translator, action, rt, call)
    except TranslationError as e:
        raise ProxyError(e.status, str(e)) from None
    headers = _forward_headers(request, up_dialect, translator is not None)
    headers.update(provider.extra_headers)
    _merge_auth(headers, call.headers)
    headers = sign_headers(provider, call, url, headers, body)
    target = yarl.URL(url, encoded=True) if provider.kind == "bedrock" else url  # signed exactly as sent
    try:
        resp = await state.session.post(
            target, data=body, headers=headers, timeout=provider.timeout, allow_redirects=False,
            params=_forward_query(request, up_dialect, translator),
        )  # fmt: skip
    except (aiohttp.ClientError, TimeoutError) as e:
        creds.report(provider, cred, cand.model, None, None)
        return ProxyError(504 if isinstance(e, TimeoutError) else 502, f"{provider.name}: {e or type(e).__name__}")
    try:
        if resp.status >= 400:
            err = await _upstream_error(rec, resp, provider.name, translator)
            if resp.status in _FAILOVER:
                retry = parse_retry_after(resp.headers.get("Retry-After"))
                creds.report(provider, cred, cand.model, resp.status, retry)
                return err
            raise err
        try:
            first = await resp.content.readany()
        except (aiohttp.ClientError, TimeoutError) as e:
            creds.report(provider, cred, cand.model, None, None)
            return ProxyError(502, f"{provider.name} failed before the first byte: {e or type(e).__name__}")
        if not first:
            creds.report(provider, cred, cand.model, 502, None)
            return ProxyError(502, f"{provider.name} closed the connection with an empty reply")
        rec.first_byte()
        creds.report(provider, cred, cand.model, resp.status, None)
        if translator is not None and action in COUNT_ACTIONS:
            return await _relay_count(rec, resp, first, translator)
        return await _relay(request, rec, resp, first, translator)
    finally:
        resp.close()


async def _relay_count(rec, resp, first: bytes, translator) -> web.Response:
    body = first + await resp.content.read(_ERRORS_MAX)
    rec.status = resp.status
    try:
        return web.json_response(count_reply(rec.dialect_in, translator.upstream_dialect, body))
    except TranslationError as e:
        raise ProxyError(e.status, f"{rec.provider}: {e}") from None


def _merge_auth(headers: dict[str, str], auth: dict[str, str]) -> None:
    """Credential headers win, except `anthropic-beta`, whose flags are combined."""
    for k, v in auth.items():
        if k.lower() == "anthropic-beta":
            have = next((h for h in headers if h.lower() == "anthropic-beta"), None)
            if have is not None:
                flags = [f.strip() for f in headers.pop(have).split(",") if f.strip()]
                v = ",".join(dict.fromkeys([*flags, *v.split(",")]))
        headers[k] = v


def _upstream_request(rec, raw, obj, cand, up_dialect, translator, action, rt, call) -> tuple[str, bytes]:
    provider, model = cand.provider, cand.model
    url = upstream_url(provider, call, up_dialect, model, stream=rec.stream, action=action)
    if translator is not None:
        if action in COUNT_ACTIONS:
            up = count_request(translator, obj, model)
        else:
            up = translator.request(obj, model=model, stream=rec.stream, thinking_budget=rt.config.thinking_budget)
        return url, json.dumps(finalize_body(provider, call, up_dialect, up, model=model, action=action)).encode()
    if edits_body(provider, call, up_dialect):
        edited = {**obj, "model": model} if up_dialect != "gemini" else obj
        return url, json.dumps(finalize_body(provider, call, up_dialect, edited, model=model, action=action)).encode()
    body = raw
    if up_dialect != "gemini":
        body = rewrite_model(raw, rec.model_requested, model)
        if rec.stream and up_dialect in ("openai_chat", "openai_completions"):
            body = ensure_include_usage(body, obj)
    return url, body


def _forward_headers(request: web.Request, up_dialect: str, translated: bool) -> dict[str, str]:
    if translated:
        out = {"Content-Type": "application/json"}
    else:
        out = {k: v for k, v in request.headers.items() if k.lower() not in _DROP_REQUEST}
    if up_dialect == "anthropic" and "anthropic-version" not in request.headers:
        out["anthropic-version"] = "2023-06-01"
    return out


def _forward_query(request: web.Request, up_dialect: str, translator) -> dict[str, str] | None:
    if translator is not None or not request.query:
        return None
    return {k: v for k, v in request.query.items() if k not in ("key", "alt")} or None


async def _upstream_error(rec, resp, provider: str, translator) -> ProxyError:
    body = await resp.content.read(_ERRORS_MAX)
    headers = {"Retry-After": resp.headers["Retry-After"]} if "Retry-After" in resp.headers else {}
    if translator is not None:
        status, translated = translator.error(resp.status, body)
        msg = _error_message(translated) or f"{provider} answered {resp.status}"
        return ProxyError(
            502 if status >= 500 else status, f"{provider} answered {resp.status}: {msg}", headers=headers
        )
    status = 502 if resp.status >= 500 else resp.status
    msg = _error_message(body) or body[:300].decode(errors="replace")
    return ProxyError(status, f"{provider} answered {resp.status}: {msg}", headers=headers)


def _error_message(body: bytes) -> str | None:
    try:
        obj = json.loads(body)
    except ValueError:
        return None
    err = obj.get("error") if isinstance(obj, dict) else None
    if isinstance(err, dict):
        return str(err.get("message") or "")
    return str(obj.get("message")) if isinstance(obj, dict) and obj.get("message") else None


def _estimate_count(rec, obj, provider: str, model: str) -> web.Response:
    rec.attempt_name(provider, model)
    n = estimate_input_tokens(rec.dialect_in, obj)
    rec.status = 200
    log.info("count_tokens for %s on %s is a local estimate (%d tokens)", model, provider, n)
    return web.json_response(count_tokens_response(rec.dialect_in, n), headers={ESTIMATE_HEADER: "true"})


async def _relay(request, rec, resp, first: bytes, translator) -> web.StreamResponse:
    client_sse = rec.dialect_in != "gemini" or request.query.get("alt") == "sse"
    out = web.StreamResponse(status=resp.status)
    for k, v in resp.headers.items():
        if k.lower().startswith(_KEEP_RESPONSE_PREFIX):
            out.headers[k] = v
    streaming = rec.stream
    if translator is not None:
        st = translator.stream(rec.model_requested, client_sse=client_sse)
        conv = TranslatedStream(st, binary=translator.upstream_dialect == "bedrock") if streaming else None
    elif streaming and rec.dialect_in == "gemini" and not client_sse:
        conv = GeminiArrayTap()
    elif streaming and rec.dialect_out in ("openai_chat", "openai_completions") and not rec.include_usage_requested:
        conv = HiddenUsageTap(rec.dialect_out)
    else:
        conv = StreamTap(rec.dialect_out) if streaming else None
    if streaming:
        out.content_type = "application/json" if rec.dialect_in == "gemini" and not client_sse else "text/event-stream"
        out.headers["Cache-Control"] = "no-cache"
    else:
        out.content_type = "application/json"
    rec.status = resp.status
    if conv is None:
        return await _relay_whole(request, rec, resp, first, out, translator)
    await out.prepare(request)
    try:
        await out.write(conv.feed(first))
        async for chunk in resp.content.iter_any():
            data = conv.feed(chunk)
            if data:
                await out.write(data)
        await out.write(conv.finish())
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError) as e:
        rec.fail(502, "upstream_disconnected", f"{rec.provider} dropped the stream: {e or type(e).__name__}")
        await out.write(_stream_failure(conv, rec))
    if isinstance(conv, TranslatedStream) and conv.error and not rec.error_code:
        status, message = conv.error  # the upstream's own error event, already sent in the client's dialect
        rec.fail(502 if status >= 500 else status, "upstream_stream_error", f"{rec.provider}: {message}")
    rec.usage = conv.usage
    request.app[ENGINE].finished(rec)  # journaled before the client sees the end of the reply
    await out.write_eof()
    return out


def _stream_failure(conv, rec) -> bytes:
    if isinstance(conv, TranslatedStream):
        return conv.fail(rec.error_message)
    return stream_error_event(rec.dialect_in, 502, rec.error_message, "upstream_disconnected")


async def _relay_whole(request, rec, resp, first, out, translator) -> web.StreamResponse:
    """A non-stream reply: pass-through bytes flow on as they come (a one-chunk reply gets a
    Content-Length); a translated one is needed whole before it can be converted."""
    chunks = [first]
    passthrough = translator is None
    try:
        async for chunk in resp.content.iter_any():
            if passthrough and not out.prepared:
                await out.prepare(request)
                await out.write(first)
            chunks.append(chunk)
            if passthrough:
                await out.write(chunk)
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError) as e:
        rec.fail(502, "upstream_disconnected", f"{rec.provider} dropped the reply: {e or type(e).__name__}")
        if out.prepared:
            request.transport.close()
            return out
        raise ProxyError(502, rec.error_message) from None
    body = b"".join(chunks)
    if translator is not None:
        try:
            client_obj = translator.response(json.loads(body), model_requested=rec.model_requested)
        except (TranslationError, ValueError) as e:
            raise ProxyError(502, f"{rec.provider} sent a reply that cannot be translated: {e}") from None
        rec.usage = usage_from_ir(translator.usage)  # read from the translation, not a second parse
        keep = {k: v for k, v in out.headers.items() if k.lower() != "content-type"}
        return web.json_response(client_obj, status=resp.status, headers=keep)
    rec.usage = usage_from_body(rec.dialect_out, body)
    request.app[ENGINE].finished(rec)  # journaled before the client sees the end of the reply
    if not out.prepared:
        out.content_length = len(body)
        await out.prepare(request)
        await out.write(body)
    await out.write_eof()
    return out
