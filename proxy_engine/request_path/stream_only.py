"""A whole (non-stream) Responses reply from an upstream that only streams.

Codex's ChatGPT backend refuses `stream: false`, so its kind always asks for a stream
(`providers/codex.py`); when the client wanted one JSON object, the relay reads the stream to its
end here and answers with the Response it describes, usage included. Nothing reaches the client
before the stream is complete, so a failure can still fail over.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from proxy_engine.dialects.responses_aggregate import error_text, read_whole
from proxy_engine.request_path.errors import ProxyError
from proxy_engine.translate.errors import UpstreamMalformed


async def whole_from_stream(
    provider: str | None, resp: aiohttp.ClientResponse, first: bytes
) -> tuple[dict[str, Any], bytes] | ProxyError:
    """The Response object and its JSON bytes, or the error that lets the next credential try."""
    try:
        asm = await read_whole(resp, first)
    except UpstreamMalformed as e:
        return ProxyError(502, f"{provider} sent a stream the proxy cannot read: {e}", "upstream_malformed")
    except TimeoutError as e:
        return ProxyError(504, f"{provider} went silent during the reply: {e or 'timed out'}", "upstream_timeout")
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as e:
        return ProxyError(502, f"{provider} dropped the reply: {e or type(e).__name__}", "upstream_disconnected")
    if asm.error is not None:
        return ProxyError(502, f"{provider}: {error_text(asm.error)}", "upstream_stream_error")
    obj = asm.response()
    return obj, json.dumps(obj).encode()
