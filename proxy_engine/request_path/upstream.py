"""One attempt: build the upstream URL, headers and body, make the call, wait for the first byte.

Everything that differs per provider kind on the wire goes through the `Provider`'s methods
(`upstream_url`, `edits_body`, `finalize_body`, `sign_headers`); nothing here names a kind.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from proxy_engine.credentials import parse_retry_after
from proxy_engine.credentials.pool import Credential
from proxy_engine.dialects.body import ensure_include_usage, rewrite_model
from proxy_engine.logins.errors import AuthError
from proxy_engine.request_path.betas import accepted_flags, drop_unaccepted_betas
from proxy_engine.request_path.cache_breakpoints import breakpoints_wanted, marks_its_own, with_cache_breakpoints
from proxy_engine.request_path.deadline import Deadline
from proxy_engine.request_path.embeddings import embed_body, relay_embeddings
from proxy_engine.request_path.errors import MALFORMED, ProxyError
from proxy_engine.request_path.exchange import Attempt, Exchange
from proxy_engine.request_path.headers import forwarded_headers, forwarded_query, merge_auth
from proxy_engine.request_path.relay import relay, relay_count
from proxy_engine.request_path.sessions import CACHE_KEYED, keep_prompt_cache
from proxy_engine.request_path.upstream_errors import read_error_reply, upstream_error
from proxy_engine.routing import Candidate
from proxy_engine.token_count import COUNT_ACTIONS, count_request
from proxy_engine.translate import TranslationError
from proxy_engine.translate.embeddings import EMBED_ACTIONS
from proxy_engine.translate.json_text import dumpb
from proxy_engine.translate.passthrough import might_need_sanitizing, sanitize_passthrough

if TYPE_CHECKING:  # the codecs load with the first translated call, not with the engine
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
    translated = att.translator is not None or att.dialect != ex.record.dialect_in
    headers = forwarded_headers(ex.request, att.dialect, translated)
    headers.update(provider.extra_headers)
    merge_auth(headers, att.call.headers)
    drop_unaccepted_betas(headers, provider.kind_rules.accepted_betas, provider.kind)
    headers = provider.sign_headers(att.call, url, headers, body)
    query = forwarded_query(ex.request, att.dialect, translated)
    if ex.capture is not None:
        ex.capture.upstream_request(url, headers, body, query)
    settings = provider.settings
    # A stream must start within first_byte_timeout_s; a whole reply's first byte is the whole answer.
    wait = settings.first_byte_timeout_s if ex.record.stream else settings.idle_s
    resp: aiohttp.ClientResponse | None = None
    try:
        try:
            async with Deadline(wait):
                resp = await ex.state.session.post(
                    url, data=body, headers=headers, timeout=provider.timeout, allow_redirects=False, params=query
                )
                seen = creds.quota.observe(provider.name, att.credential.id, resp.headers)
                if ex.capture is not None:
                    ex.capture.upstream_response(resp.status, resp.headers)
                if resp.status >= 400:
                    return await _refused(ex, att, resp)
                first = await resp.content.readany()
        except (aiohttp.ClientError, TimeoutError) as e:
            creds.report(provider, att.credential, model, None, None)
            return _no_first_byte(provider.name, e, wait)
        if not first:
            creds.report(provider, att.credential, model, 502, None)
            return ProxyError(
                502, f"{provider.name} closed the connection with an empty reply", "upstream_disconnected"
            )
        outcome = await _relay(ex, att, resp, first)
        if not seen and not isinstance(outcome, ProxyError):
            creds.quota.count(provider.name, att.credential.id, ex.record.usage)  # no reading: estimate
        return outcome
    finally:
        if resp is not None:
            resp.close()


def _no_first_byte(provider: str, e: BaseException, wait: float) -> ProxyError:
    if isinstance(e, TimeoutError):
        detail = str(e) if isinstance(e, aiohttp.ClientError) and str(e) else f"no reply within {wait:g}s"
        return ProxyError(504, f"{provider} timed out before the first byte: {detail}", "upstream_timeout")
    return ProxyError(502, f"{provider} failed before the first byte: {e or type(e).__name__}", "upstream_unreachable")


async def _refused(ex: Exchange, att: Attempt, resp: aiohttp.ClientResponse) -> ProxyError:
    """An upstream error status: cool down and fail over for the retryable ones, else answer it as it is
    (the error that finally reaches the client is the upstream's own, see upstream_errors.py)."""
    provider, model = att.candidate.provider, att.candidate.model
    raw = await read_error_reply(resp)
    if ex.capture is not None:
        ex.capture.upstream_body(raw)  # redacted by the recorder's writer, like every stage
    if resp.status == 429:
        ex.state.credentials.quota.observe_error_body(provider.name, att.credential.id, raw)
    err = upstream_error(resp, raw, provider.name, att.translator)
    if att.translator is None and att.dialect != ex.record.dialect_in and err.body is not None:
        # Embeddings are converted outside the translators: the upstream's body is in a shape the client
        # does not speak, so the client gets the message in its own dialect instead.
        err.body = None
        err.status = 502 if err.status >= 500 else err.status
    if resp.status not in FAILOVER_STATUSES:
        raise err
    retry = parse_retry_after(resp.headers.get("Retry-After"))
    ex.state.credentials.report(provider, att.credential, model, resp.status, retry)
    return err


async def _relay(
    ex: Exchange, att: Attempt, resp: aiohttp.ClientResponse, first: bytes
) -> web.StreamResponse | ProxyError:
    """Relay the reply; the credential is reported good only when the reply was good."""
    rec, creds, provider, model = ex.record, ex.state.credentials, att.candidate.provider, att.candidate.model
    rec.first_byte()
    if att.translator is not None and ex.action in COUNT_ACTIONS:
        outcome = await relay_count(rec, resp, first, att.translator, ex.capture)
    elif ex.action in EMBED_ACTIONS:
        outcome = await relay_embeddings(ex, resp, first, att.dialect)
    else:
        outcome = await relay(ex, resp, first, att.translator)
    if isinstance(outcome, ProxyError):
        rec.t_first = None  # nothing reached the client
        creds.report(provider, att.credential, model, None if outcome.status == 504 else 502, None)
        return outcome
    if rec.error_code in ("server_shutdown", "upstream_stream_error"):
        pass  # the proxy's shutdown, or the upstream's own error event: neither a success nor a cooldown
    elif rec.error_code:  # failed after the client had bytes: recorded, and the credential cools down
        creds.report(provider, att.credential, model, None if rec.status == 504 else 502, None)
    else:
        creds.report(provider, att.credential, model, resp.status, None)
    return outcome


def _upstream_body(ex: Exchange, att: Attempt) -> bytes:
    """Translated, edited for the upstream, or the client's own bytes with only the model rewritten."""
    provider, model, rec = att.candidate.provider, att.candidate.model, ex.record
    if ex.action in EMBED_ACTIONS:
        return embed_body(ex, att.dialect, model)
    if att.translator is not None:
        if ex.action in COUNT_ACTIONS:
            up = count_request(att.translator, ex.body, model)
        else:
            thinking = ex.runtime.config.thinking_budget
            up = att.translator.request(ex.body, model=model, stream=rec.stream, thinking_budget=thinking)
            if _cache_breakpoints(ex, att):
                up = with_cache_breakpoints(up) or up
            if rec.dialect_in == "anthropic":  # betas travel only where the upstream reads them (Bedrock's body)
                flags = accepted_flags(ex.request.headers.get("anthropic-beta"), provider.kind_rules.accepted_betas)
                up = provider.carry_betas(up, flags, model)
            if provider.kind_rules.keys_prompt_cache and att.dialect in CACHE_KEYED:  # OpenAI's own APIs
                keep_prompt_cache(up, ex.body, rec.session)
        return dumpb(provider.finalize_body(att.call, att.dialect, up, model=model, action=ex.action))
    # History that visited another provider holds thinking signed elsewhere: a 400 if replayed here.
    clean = sanitize_passthrough(att.dialect, ex.body) if might_need_sanitizing(att.dialect, ex.raw) else None
    if _cache_breakpoints(ex, att) and not marks_its_own(ex.raw):
        clean = with_cache_breakpoints(ex.body if clean is None else clean) or clean
    edits = provider.edits_body(att.call, att.dialect)
    if edits or clean is not None:
        src = ex.body if clean is None else clean
        edited = {**src, "model": model} if att.dialect != "gemini" else src
        if edits:
            edited = provider.finalize_body(att.call, att.dialect, edited, model=model, action=ex.action)
        return json.dumps(edited).encode()
    body = ex.raw
    if att.dialect != "gemini":
        body = rewrite_model(ex.raw, rec.model_requested, model)
        if rec.stream and att.dialect in ("openai_chat", "openai_completions"):
            body = ensure_include_usage(body, ex.head.stream_options)
    return body


def _cache_breakpoints(ex: Exchange, att: Attempt) -> bool:
    """Should this call get prompt-cache marks (`routing.cache_breakpoints: auto`, see cache_breakpoints.py)?"""
    mode = ex.runtime.config.routing.cache_breakpoints
    honours = att.candidate.provider.kind_rules.honours_cache_control
    return breakpoints_wanted(mode, honours, att.dialect, ex.action)
