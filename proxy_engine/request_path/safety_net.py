"""The last line: an exception nothing else caught becomes a 500 in the caller's dialect, logged.

Every inbound route answers in its own dialect's error shape, and a response never carries a
Python traceback. Bad input is answered 400 where it is read; this net is for the engine's own
bugs, so it logs the traceback (through the redacting log filter) and tells the client only
that the proxy failed.
"""

from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage
from aiohttp.typedefs import Handler

from proxy_engine.request_path.model_lists import list_dialect
from proxy_engine.translate import error_body

log = logging.getLogger("proxy_engine.request_path")

MANAGEMENT = "management"  # `/v0`'s own error shape: {"error": message}
_AMP_PREFIX = "/api/provider/"
_MESSAGE = "the proxy failed on this request (an internal error, logged in the engine's log)"


def caller_dialect(request: web.Request) -> str:
    """The dialect whose error shape this path's callers parse, from the path alone."""
    path, hint = request.path, None
    if path.startswith("/v0/"):
        return MANAGEMENT
    if path.startswith(_AMP_PREFIX):
        hint, _, path = path[len(_AMP_PREFIX) :].partition("/")
        path = "/" + path
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.endswith("/models") and request.method == "GET":
        return list_dialect(request, hint.lower() if hint else None)
    if path.startswith(("/v1beta/", "/v1/models/", "/v1beta1/")):
        return "gemini"
    if path.endswith("/responses"):
        return "openai_responses"
    return "openai_chat"


def dialect_error(request: web.Request, status: int, message: str, code: str) -> web.Response:
    """An error in the error shape of the API this path belongs to."""
    dialect = caller_dialect(request)
    if dialect == MANAGEMENT:
        body = json.dumps({"error": message}).encode()
    else:
        body = error_body(dialect, status, message, code)
    return web.Response(status=status, body=body, content_type="application/json")


@web.middleware
async def safety_net(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer any exception a handler let escape with a dialect-shaped 500 (or cut a started reply)."""
    try:
        return await handler(request)
    except (web.HTTPException, asyncio.CancelledError):
        raise
    except (web.RequestPayloadError, BadHttpMessage) as e:  # a body the HTTP layer cannot decode (bad gzip)
        return dialect_error(request, 400, f"the request body cannot be read: {e}", "invalid_request_body")
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if request.writer is not None and request.writer.output_size:
            raise  # the reply already started: aiohttp closes the connection, which the client sees
        return dialect_error(request, 500, _MESSAGE, "internal_error")
