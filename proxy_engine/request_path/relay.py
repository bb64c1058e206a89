"""The upstream's reply to the client: streamed chunk by chunk, whole, or as a token count.

Until the client has received a byte (headers included), every failure — a dropped connection, a
timeout, a reply the engine cannot read or translate — comes back as a `ProxyError`, so the caller
can cool the credential down and fail over. A stream's headers go out with its first client bytes;
after that a failure ends the stream with an error event in the client's dialect and is recorded.
A whole (non-stream) reply is read and checked before anything is sent.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from proxy_engine.dialects.errors import stream_error_event
from proxy_engine.dialects.json_decode import loads
from proxy_engine.dialects.translated import TranslatedStream, usage_from_ir
from proxy_engine.dialects.usage_taps import GeminiArrayTap, HiddenUsageTap, StreamTap
from proxy_engine.record import RequestRecord
from proxy_engine.recorder.capture import Capture
from proxy_engine.recorder.tapped_response import client_stream
from proxy_engine.request_path.errors import ProxyError
from proxy_engine.request_path.exchange import Exchange
from proxy_engine.request_path.headers import kept_reply_headers
from proxy_engine.request_path.stream_only import whole_from_stream
from proxy_engine.token_count import count_reply
from proxy_engine.translate import TranslationError
from proxy_engine.translate.errors import UpstreamMalformed
from proxy_engine.translate.json_text import dumpb
from proxy_engine.usage.tokens import Usage
from proxy_engine.usage.upstream import usage_in_reply

if TYPE_CHECKING:  # the codecs load with the first translated call, not with the engine
    from proxy_engine.translate.translator import Translator

ERRORS_MAX = 1 << 20  # the most read of an error or a count reply
# What an upstream reply can fail with once its first byte arrived.
UPSTREAM_FAILURES = (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError, UpstreamMalformed)
SHUTDOWN_MESSAGE = "the proxy is shutting down; retry the request"

Converter = TranslatedStream | GeminiArrayTap | HiddenUsageTap | StreamTap


def upstream_failure(provider: str | None, e: BaseException, what: str) -> ProxyError:
    """A failed upstream reply as the error the client (and the record) gets."""
    if isinstance(e, UpstreamMalformed):
        return ProxyError(502, f"{provider} sent a {what} the proxy cannot read: {e}", "upstream_malformed")
    if isinstance(e, TimeoutError):
        return ProxyError(504, f"{provider} went silent during the {what}: {e or 'timed out'}", "upstream_timeout")
    return ProxyError(502, f"{provider} dropped the {what}: {e or type(e).__name__}", "upstream_disconnected")


async def relay_count(
    rec: RequestRecord, resp: aiohttp.ClientResponse, first: bytes, translator: Translator, cap: Capture | None = None
) -> web.Response | ProxyError:
    """A translated token count: the upstream's count, in the client's shape."""
    try:
        body = first + await resp.content.read(ERRORS_MAX)
        if cap is not None:
            cap.upstream_body(body)
        reply = count_reply(rec.dialect_in, translator.upstream_dialect, body)
    except UPSTREAM_FAILURES as e:
        return upstream_failure(rec.provider, e, "count")
    except TranslationError as e:
        return ProxyError(502, f"{rec.provider} sent a count the proxy cannot read: {e}", "upstream_malformed")
    rec.status = resp.status
    return web.json_response(reply)


async def relay(
    ex: Exchange, resp: aiohttp.ClientResponse, first: bytes, translator: Translator | None
) -> web.StreamResponse | ProxyError:
    """Send the reply on, converting or tapping a stream for usage as it passes."""
    request, rec = ex.request, ex.record
    client_sse = rec.dialect_in != "gemini" or request.query.get("alt") == "sse"
    out = client_stream(ex.capture, resp.status)
    for k, v in kept_reply_headers(resp.headers):
        out.headers[k] = v
    conv = _converter(rec, translator, client_sse) if rec.stream else None
    if conv is None:
        out.content_type = "application/json"
        return await _relay_whole(ex, resp, first, out, translator)
    out.content_type = "application/json" if rec.dialect_in == "gemini" and not client_sse else "text/event-stream"
    out.headers["Cache-Control"] = "no-cache"
    return await _relay_stream(ex, resp, first, out, conv)


def _converter(rec: RequestRecord, translator: Translator | None, client_sse: bool) -> Converter:
    if translator is not None:
        st = translator.stream(rec.model or "", client_sse=client_sse)
        return TranslatedStream(st, binary=translator.upstream_dialect == "bedrock")
    if rec.dialect_in == "gemini" and not client_sse:
        return GeminiArrayTap()
    if rec.dialect_out in ("openai_chat", "openai_completions") and not rec.include_usage_requested:
        return HiddenUsageTap(rec.dialect_out)
    return StreamTap(rec.dialect_out)


async def _relay_stream(
    ex: Exchange, resp: aiohttp.ClientResponse, first: bytes, out: web.StreamResponse, conv: Converter
) -> web.StreamResponse | ProxyError:
    """Relay chunk by chunk; the headers go out with the first bytes there are for the client."""
    rec, request, cap = ex.record, ex.request, ex.capture
    rec.status = resp.status
    if cap is not None:
        cap.upstream_body(first)
    try:
        data = conv.feed(first)
        if data:
            await out.prepare(request)
            await out.write(data)
        async for chunk in resp.content.iter_any():
            if cap is not None:
                cap.upstream_body(chunk)
            data = conv.feed(chunk)
            if data:
                if not out.prepared:
                    await out.prepare(request)
                await out.write(data)
        data = conv.finish()
        if not out.prepared:
            await out.prepare(request)
        await out.write(data)
    except UPSTREAM_FAILURES as e:
        err = upstream_failure(rec.provider, e, "stream")
        if not out.prepared:
            return err  # the client has nothing yet: the next credential or candidate may answer
        rec.fail(err.status, err.code or "error", err.message)
        await out.write(_stream_failure(conv, rec))
    except asyncio.CancelledError:
        if not (ex.state.shutting_down and out.prepared):
            if out.prepared:
                _settle_usage(rec, conv)  # the client went away: bill what it was sent
            raise
        _uncancel()
        rec.fail(503, "server_shutdown", SHUTDOWN_MESSAGE)
        await out.write(_stream_failure(conv, rec))
    if isinstance(conv, TranslatedStream) and conv.error and not rec.error_code:
        status, message = conv.error  # the upstream's own error event, already sent in the client's dialect
        rec.fail(502 if status >= 500 else status, "upstream_stream_error", f"{rec.provider}: {message}")
    if not rec.error_code:
        rec.usage = conv.usage
    elif rec.usage is None:
        _settle_usage(rec, conv)
    ex.state.finished(rec)  # journaled before the client sees the end of the reply
    await out.write_eof()
    return out


def _uncancel() -> None:
    """The shutdown drain cancelled this handler to end its stream; end it properly instead of dying."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


def _settle_usage(rec: RequestRecord, conv: Converter) -> None:
    """A stream cut short is billed for what reached the client: the usage seen so far, else an estimate."""
    try:
        conv.settle()
        usage = conv.usage
    except UpstreamMalformed:
        usage = conv.usage
    # About one token per content event (the opening event carries none). Anthropic's opening event
    # already reports output_tokens 1, so the larger of the two counts; Gemini's running count wins.
    estimate = max(conv.events - 1, 0)
    if usage is not None and usage.output_tokens >= estimate:
        rec.usage = usage
        return
    rec.usage = replace(usage, output_tokens=estimate) if usage is not None else Usage(output_tokens=estimate)
    rec.error_message += f" (output tokens estimated from {conv.events} relayed events)"


def _stream_failure(conv: Converter, rec: RequestRecord) -> bytes:
    """The error event that ends a stream; a shutdown tells an Anthropic client "overloaded" (retry later)."""
    status = rec.status
    if rec.error_code == "server_shutdown" and rec.dialect_in == "anthropic":
        status = 529
    if isinstance(conv, TranslatedStream):
        return conv.fail(rec.error_message, status)
    return stream_error_event(rec.dialect_in, status, rec.error_message, rec.error_code)


async def _relay_whole(
    ex: Exchange, resp: aiohttp.ClientResponse, first: bytes, out: web.StreamResponse, translator: Translator | None
) -> web.StreamResponse | ProxyError:
    """A non-stream reply is read whole and must parse (and translate) before the client sees a byte,
    so a drop or a broken body can still fail over; it goes out with a Content-Length."""
    request, rec = ex.request, ex.record
    if rec.dialect_out == "openai_responses" and resp.content_type == "text/event-stream":
        got = await whole_from_stream(rec.provider, resp, first)  # a stream-only upstream (the ChatGPT backend)
        if isinstance(got, ProxyError):
            return got
        obj, body = got
        if ex.capture is not None:
            ex.capture.upstream_body(body)
    else:
        chunks = [first]
        try:
            async for chunk in resp.content.iter_any():
                chunks.append(chunk)
        except UPSTREAM_FAILURES as e:
            return upstream_failure(rec.provider, e, "reply")
        body = b"".join(chunks)
        if ex.capture is not None:
            ex.capture.upstream_body(body)  # before it must parse: a malformed reply is what a capture is for
        try:
            obj = loads(body)
        except ValueError as e:
            return ProxyError(502, f"{rec.provider} sent a reply that is not JSON: {e}", "upstream_malformed")
        except RecursionError:
            return ProxyError(502, f"{rec.provider} sent a reply nested too deeply to read", "upstream_malformed")
        if not isinstance(obj, dict):
            return ProxyError(502, f"{rec.provider} sent a reply that is not a JSON object", "upstream_malformed")
    rec.status = resp.status
    if translator is not None:
        try:
            client_obj = translator.response(obj, model=rec.model or "")
        except TranslationError as e:
            msg = f"{rec.provider} sent a reply that cannot be translated: {e}"
            return ProxyError(502, msg, "upstream_malformed")
        rec.usage = usage_from_ir(translator.usage)  # read from the translation, not a second parse
        body = dumpb(client_obj)  # compact UTF-8, written like a same-dialect reply (no second Response)
    else:
        rec.usage = usage_in_reply(rec.dialect_out, obj)
    ex.state.finished(rec)  # journaled before the client sees the end of the reply
    out.content_length = len(body)
    await out.prepare(request)
    await out.write(body)
    await out.write_eof()
    return out
