"""The model a refused request named (401, over budget, a bad body), so its record and the feed show it.

Refusals happen before the body is parsed, sometimes before it is read. Only then, and only for a small
body that arrives at once, is it read here: an unauthenticated client never makes the proxy wait on or
buffer a large body. A body already read (a 400 after parsing) comes from aiohttp's cache.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage

from proxy_engine.record import MODEL_NAME_MAX

PEEK_MAX_BYTES = 64 * 1024
PEEK_TIMEOUT_S = 1.0
_BODY_NEVER_CAME = (408, 413)  # the body did not arrive in time, or is too large: do not read it again


def _model_name(value: object) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= MODEL_NAME_MAX else None


async def requested_model(request: web.Request, path_model: object, status: int) -> str | None:
    """`path_model`: the model the path named (Gemini), or whatever the handler last held (never trusted)."""
    if (named := _model_name(path_model)) is not None:
        return named
    size = request.content_length
    if status in _BODY_NEVER_CAME or size is None or size > PEEK_MAX_BYTES:
        return None
    if request.content.exception() is not None:  # the body stream failed (or shutdown cut it): nothing to read
        return None
    try:
        async with asyncio.timeout(PEEK_TIMEOUT_S):
            raw = await request.read()
        body = json.loads(raw)
    except (
        TimeoutError,
        OSError,
        ValueError,
        RecursionError,
        web.HTTPException,
        web.RequestPayloadError,
        BadHttpMessage,
    ):
        return None
    return _model_name(body.get("model")) if isinstance(body, dict) else None
