"""The upstream's reply to the client: streamed chunk by chunk, whole, or as a token count."""

from __future__ import annotations

import json

import aiohttp
from aiohttp import web

from proxy_engine.dialects.errors import stream_error_event
from proxy_engine.dialects.translated import TranslatedStream, usage_from_ir
from proxy_engine.dialects.usage_taps import GeminiArrayTap, HiddenUsageTap, StreamTap, usage_from_body
from proxy_engine.record import RequestRecord
from proxy_engine.request_path.errors import ProxyError
from proxy_engine.request_path.exchange import Exchange
from proxy_engine.request_path.headers import REPLY_KEPT_PREFIXES
from proxy_engine.token_count import count_reply
from proxy_engine.translate import TranslationError
from proxy_engine.translate.translator import Translator

ERRORS_MAX = 1 << 20  # the most read of an error or a count reply
_DROPPED = (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError)

Converter = TranslatedStream | GeminiArrayTap | HiddenUsageTap | StreamTap


async def relay_count(
    rec: RequestRecord, resp: aiohttp.ClientResponse, first: bytes, translator: Translator
) -> web.Response:
    """A translated token count: the upstream's count, in the client's shape."""
    body = first + await resp.content.read(ERRORS_MAX)
    rec.status = resp.status
    try:
        return web.json_response(count_reply(rec.dialect_in, translator.upstream_dialect, body))
    except TranslationError as e:
        raise ProxyError(e.status, f"{rec.provider}: {e}") from None


async def relay(
    ex: Exchange, resp: aiohttp.ClientResponse, first: bytes, translator: Translator | None
) -> web.StreamResponse:
    """Send the reply on, converting or tapping a stream for usage as it passes."""
    request, rec = ex.request, ex.record
    client_sse = rec.dialect_in != "gemini" or request.query.get("alt") == "sse"
    out = web.StreamResponse(status=resp.status)
    for k, v in resp.headers.items():
        if k.lower().startswith(REPLY_KEPT_PREFIXES):
            out.headers[k] = v
    rec.status = resp.status
    conv = _converter(rec, translator, client_sse) if rec.stream else None
    if conv is None:
        out.content_type = "application/json"
        return await _relay_whole(ex, resp, first, out, translator)
    out.content_type = "application/json" if rec.dialect_in == "gemini" and not client_sse else "text/event-stream"
    out.headers["Cache-Control"] = "no-cache"
    return await _relay_stream(ex, resp, first, out, conv)


def _converter(rec: RequestRecord, translator: Translator | None, client_sse: bool) -> Converter:
    if translator is not None:
        st = translator.stream(rec.model_requested, client_sse=client_sse)
        return TranslatedStream(st, binary=translator.upstream_dialect == "bedrock")
    if rec.dialect_in == "gemini" and not client_sse:
        return GeminiArrayTap()
    if rec.dialect_out in ("openai_chat", "openai_completions") and not rec.include_usage_requested:
        return HiddenUsageTap(rec.dialect_out)
    return StreamTap(rec.dialect_out)


async def _relay_stream(
    ex: Exchange, resp: aiohttp.ClientResponse, first: bytes, out: web.StreamResponse, conv: Converter
) -> web.StreamResponse:
    rec = ex.record
    await out.prepare(ex.request)
    try:
        await out.write(conv.feed(first))
        async for chunk in resp.content.iter_any():
            data = conv.feed(chunk)
            if data:
                await out.write(data)
        await out.write(conv.finish())
    except _DROPPED as e:
        rec.fail(502, "upstream_disconnected", f"{rec.provider} dropped the stream: {e or type(e).__name__}")
        await out.write(_stream_failure(conv, rec))
    if isinstance(conv, TranslatedStream) and conv.error and not rec.error_code:
        status, message = conv.error  # the upstream's own error event, already sent in the client's dialect
        rec.fail(502 if status >= 500 else status, "upstream_stream_error", f"{rec.provider}: {message}")
    rec.usage = conv.usage
    ex.state.finished(rec)  # journaled before the client sees the end of the reply
    await out.write_eof()
    return out


def _stream_failure(conv: Converter, rec: RequestRecord) -> bytes:
    if isinstance(conv, TranslatedStream):
        return conv.fail(rec.error_message)
    return stream_error_event(rec.dialect_in, 502, rec.error_message, "upstream_disconnected")


async def _relay_whole(
    ex: Exchange, resp: aiohttp.ClientResponse, first: bytes, out: web.StreamResponse, translator: Translator | None
) -> web.StreamResponse:
    """A non-stream reply: pass-through bytes flow on as they come (a one-chunk reply gets a
    Content-Length); a translated one is needed whole before it can be converted."""
    request, rec = ex.request, ex.record
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
    except _DROPPED as e:
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
    ex.state.finished(rec)  # journaled before the client sees the end of the reply
    if not out.prepared:
        out.content_length = len(body)
        await out.prepare(request)
        await out.write(body)
    await out.write_eof()
    return out
