"""One attempt: build the upstream URL, headers and body, make the call, wait for the first byte.

Everything that differs per provider kind on the wire goes through the `Provider`'s methods
(`upstream_url`, `edits_body`, `finalize_body`, `sign_headers`); nothing here names a kind.
"""

from __future__ import annotations

import json

import aiohttp
from aiohttp import web

from proxy_engine.auth import AuthError, parse_retry_after
from proxy_engine.auth.pool import Credential
from proxy_engine.dialects.body import ensure_include_usage, rewrite_model
from proxy_engine.request_path.errors import MALFORMED, ProxyError, upstream_message
from proxy_engine.request_path.exchange import Attempt, Exchange
from proxy_engine.request_path.headers import forwarded_headers, forwarded_query, merge_auth
from proxy_engine.request_path.redaction import safe_error_body
from proxy_engine.request_path.relay import ERRORS_MAX, relay, relay_count
from proxy_engine.routing import Candidate
from proxy_engine.token_count import COUNT_ACTIONS, count_request
from proxy_engine.translate import TranslationError
from proxy_engine.translate.translator import Translator

# Statuses that cool the credential down and let the next one try.
FAILOVER_STATUSES = frozenset({401, 403, 408, 429, 500, 502, 503, 504, 529})


async def attempt(
    ex: Exchange, cand: Candidate, cred: Credential, up_dialect: str, translator: Translator | None
) -> web.StreamResponse | ProxyError:
    """One upstream call. Returns the client's response, or a ProxyError that allows failover."""
    rec, creds, provider = ex.record, ex.state.credentials, cand.provider
    rec.attempt(provider, cand.model, up_dialect)
    rec.credential = cred.id
    if rec.attempts == 1:
        ex.state.request_started(rec)
    try:
        call = await creds.call_for(provider, cred, up_dialect)
    except AuthError as e:
        creds.report(provider, cred, cand.model, 401, None)
        return ProxyError(503, f"{provider.name}: {e}", "login_unusable")
    return await _send(ex, Attempt(cand, cred, call, up_dialect, translator))


async def _send(ex: Exchange, att: Attempt) -> web.StreamResponse | ProxyError:
    creds, provider, model = ex.state.credentials, att.candidate.provider, att.candidate.model
    try:
        url = provider.upstream_url(att.call, att.dialect, model, stream=ex.record.stream, action=ex.action)
        body = _upstream_body(ex, att)
    except TranslationError as e:
        raise ProxyError(e.status, str(e)) from None
    except RecursionError:
        raise ProxyError(400, "the request is nested too deeply to translate") from None
    except MALFORMED as e:
        # The body parsed, but a field has a shape no dialect allows (a list where an object goes).
        raise ProxyError(400, f"the request cannot be read: a field has the wrong type ({e})") from None
    headers = forwarded_headers(ex.request, att.dialect, att.translator is not None)
    headers.update(provider.extra_headers)
    merge_auth(headers, att.call.headers)
    headers = provider.sign_headers(att.call, url, headers, body)
    try:
        resp = await ex.state.session.post(
            url, data=body, headers=headers, timeout=provider.timeout, allow_redirects=False,
            params=forwarded_query(ex.request, att.dialect, att.translator is not None),
        )  # fmt: skip
    except (aiohttp.ClientError, TimeoutError) as e:
        creds.report(provider, att.credential, model, None, None)
        return ProxyError(504 if isinstance(e, TimeoutError) else 502, f"{provider.name}: {e or type(e).__name__}")
    try:
        return await _answer(ex, att, resp)
    finally:
        resp.close()


async def _answer(ex: Exchange, att: Attempt, resp: aiohttp.ClientResponse) -> web.StreamResponse | ProxyError:
    """Map an upstream error, or wait for the first byte and relay the reply."""
    rec, creds, provider, model = ex.record, ex.state.credentials, att.candidate.provider, att.candidate.model
    if resp.status >= 400:
        err = await _upstream_error(resp, provider.name, att.translator)
        if resp.status in FAILOVER_STATUSES:
            retry = parse_retry_after(resp.headers.get("Retry-After"))
            creds.report(provider, att.credential, model, resp.status, retry)
            return err
        raise err
    try:
        first = await resp.content.readany()
    except (aiohttp.ClientError, TimeoutError) as e:
        creds.report(provider, att.credential, model, None, None)
        return ProxyError(502, f"{provider.name} failed before the first byte: {e or type(e).__name__}")
    if not first:
        creds.report(provider, att.credential, model, 502, None)
        return ProxyError(502, f"{provider.name} closed the connection with an empty reply")
    rec.first_byte()
    creds.report(provider, att.credential, model, resp.status, None)
    if att.translator is not None and ex.action in COUNT_ACTIONS:
        return await relay_count(rec, resp, first, att.translator)
    return await relay(ex, resp, first, att.translator)


def _upstream_body(ex: Exchange, att: Attempt) -> bytes:
    """Translated, edited for the upstream, or the client's own bytes with only the model rewritten."""
    provider, model, rec = att.candidate.provider, att.candidate.model, ex.record
    if att.translator is not None:
        if ex.action in COUNT_ACTIONS:
            up = count_request(att.translator, ex.body, model)
        else:
            thinking = ex.runtime.config.thinking_budget
            up = att.translator.request(ex.body, model=model, stream=rec.stream, thinking_budget=thinking)
        return json.dumps(provider.finalize_body(att.call, att.dialect, up, model=model, action=ex.action)).encode()
    if provider.edits_body(att.call, att.dialect):
        edited = {**ex.body, "model": model} if att.dialect != "gemini" else ex.body
        final = provider.finalize_body(att.call, att.dialect, edited, model=model, action=ex.action)
        return json.dumps(final).encode()
    body = ex.raw
    if att.dialect != "gemini":
        body = rewrite_model(ex.raw, rec.model_requested, model)
        if rec.stream and att.dialect in ("openai_chat", "openai_completions"):
            body = ensure_include_usage(body, ex.body)
    return body


async def _upstream_error(resp: aiohttp.ClientResponse, provider: str, translator: Translator | None) -> ProxyError:
    """The upstream's error, in terms the client's dialect can carry; a 5xx becomes 502."""
    body = safe_error_body(await resp.content.read(ERRORS_MAX))  # it may echo the credential
    headers = {"Retry-After": resp.headers["Retry-After"]} if "Retry-After" in resp.headers else {}
    if translator is not None:
        status, translated = translator.error(resp.status, body)
        msg = upstream_message(translated) or f"{provider} answered {resp.status}"
        return ProxyError(
            502 if status >= 500 else status, f"{provider} answered {resp.status}: {msg}", headers=headers
        )
    status = 502 if resp.status >= 500 else resp.status
    msg = upstream_message(body) or body[:300].decode(errors="replace")
    return ProxyError(status, f"{provider} answered {resp.status}: {msg}", headers=headers)
