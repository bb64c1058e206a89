"""Embeddings on the request path: the body sent upstream and the reply sent back (`translate/embeddings.py`).

An embeddings call fails over like any model call; it goes to a provider's embeddings API
(`Provider.embed_dialect`), same dialect as bytes with only the model renamed, otherwise translated
between OpenAI's `/v1/embeddings` and Gemini's `:embedContent`/`:batchEmbedContents`. The reply is
read whole and must parse before the client sees a byte; its input tokens are recorded (the upstream's
count, or the proxy's estimate when the Gemini API sends none), so the ledger prices it.
"""

from __future__ import annotations

import json

import aiohttp
from aiohttp import web

from proxy_engine.dialects.body import rewrite_model
from proxy_engine.request_path.errors import ProxyError
from proxy_engine.request_path.exchange import Exchange
from proxy_engine.request_path.headers import kept_reply_headers
from proxy_engine.request_path.relay import UPSTREAM_FAILURES, upstream_failure
from proxy_engine.translate import TranslationError
from proxy_engine.translate.embeddings import (
    OPENAI_EMBEDDINGS,
    EmbeddingAsk,
    check_count,
    decode_gemini,
    decode_openai,
    estimate_tokens,
    gemini_reply,
    gemini_request,
    gemini_same_dialect,
    gemini_vectors,
    openai_reply,
    openai_request,
    openai_vectors,
)
from proxy_engine.translate.estimate import text_tokens
from proxy_engine.usage.tokens import Usage


def client_ask(ex: Exchange) -> EmbeddingAsk:
    """The client's request, decoded from its dialect (a TranslationError is a 400 for the client)."""
    if ex.record.dialect_in == OPENAI_EMBEDDINGS:
        return decode_openai(ex.body)
    return decode_gemini(ex.action or "", ex.body)


def embed_body(ex: Exchange, up_dialect: str, model: str) -> bytes:
    """What the upstream's embeddings API gets."""
    rec = ex.record
    if rec.dialect_in == up_dialect:
        if up_dialect == OPENAI_EMBEDDINGS:
            return rewrite_model(ex.raw, rec.model_requested or "", model)
        return json.dumps(gemini_same_dialect(ex.action or "", ex.body, model)).encode()
    ask = client_ask(ex)
    up = openai_request(ask, model) if up_dialect == OPENAI_EMBEDDINGS else gemini_request(ask, model)
    return json.dumps(up).encode()


async def relay_embeddings(
    ex: Exchange, resp: aiohttp.ClientResponse, first: bytes, up_dialect: str
) -> web.StreamResponse | ProxyError:
    """Read the reply whole, record its input tokens, and answer in the client's dialect."""
    rec = ex.record
    chunks = [first]
    try:
        async for chunk in resp.content.iter_any():
            chunks.append(chunk)
    except UPSTREAM_FAILURES as e:
        return upstream_failure(rec.provider, e, "reply")
    body = b"".join(chunks)
    try:
        obj = json.loads(body)
    except ValueError as e:
        return ProxyError(502, f"{rec.provider} sent a reply that is not JSON: {e}", "upstream_malformed")
    if not isinstance(obj, dict):
        return ProxyError(502, f"{rec.provider} sent a reply that is not a JSON object", "upstream_malformed")
    try:
        if rec.dialect_in == up_dialect:
            tokens = _passthrough_tokens(ex, obj)
            reply = None
        else:
            ask = client_ask(ex)
            vectors, tokens = openai_vectors(obj) if up_dialect == OPENAI_EMBEDDINGS else gemini_vectors(obj)
            check_count(ask, vectors)
            tokens = tokens if tokens is not None else estimate_tokens(ask)
            if rec.dialect_in == OPENAI_EMBEDDINGS:
                reply = openai_reply(ask, vectors, rec.model_requested or "", tokens)
            else:
                reply = gemini_reply(ex.action or "", vectors, tokens)
    except TranslationError as e:
        return ProxyError(502, f"{rec.provider} sent embeddings the proxy cannot read: {e}", "upstream_malformed")
    rec.status = resp.status
    rec.usage = Usage(input_tokens=tokens)
    kept = dict(kept_reply_headers(resp.headers))
    if reply is not None:
        return web.json_response(reply, status=resp.status, headers=kept)
    ex.state.finished(rec)  # journaled before the client sees the end of the reply
    return web.Response(status=resp.status, body=body, content_type="application/json", headers=kept)


def _passthrough_tokens(ex: Exchange, obj: dict) -> int:
    """A same-dialect reply's input tokens: OpenAI's usage, Gemini's usageMetadata, else the estimate."""
    if ex.record.dialect_in == OPENAI_EMBEDDINGS:
        usage = obj.get("usage")
        n = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    else:
        meta = obj.get("usageMetadata")
        n = meta.get("promptTokenCount") if isinstance(meta, dict) else None
    if isinstance(n, int) and not isinstance(n, bool):
        return n
    try:
        return estimate_tokens(client_ask(ex))
    except TranslationError:
        return text_tokens(json.dumps(ex.body, ensure_ascii=False))
