"""An upstream's error status, as the client gets it.

Same dialect: the status and body exactly as the upstream sent them (secrets redacted in place),
because clients recover by the wording: Claude Code compacts on "prompt is too long", SDKs retry
on 429/529 and read `x-should-retry`. Translated: the error in the client's shape, with context
overflows, rate limits and overloads in the type and wording the client's agent recognises.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import aiohttp

from proxy_engine.request_path.errors import ProxyError, upstream_message
from proxy_engine.request_path.redaction import ERROR_TEXT_MAX, redact_secrets, safe_error_body

if TYPE_CHECKING:  # the codecs load with the first translated call, not with the engine
    from proxy_engine.translate.translator import Translator

# Reply headers an error passes on: when to retry, and the request id support asks for.
_KEPT = ("retry-after", "x-should-retry", "request-id", "x-request-id", "anthropic-ratelimit", "x-ratelimit")
_RETRY_DELAY = re.compile(rb'"retryDelay"\s*:\s*"(\d+)(?:\.\d+)?s"')


async def read_error_reply(resp: aiohttp.ClientResponse) -> bytes:
    """An error reply's body, one byte past what `upstream_error` passes on (so a cut body is known)."""
    return await _read_capped(resp, ERROR_TEXT_MAX + 1)


def upstream_error(
    resp: aiohttp.ClientResponse, raw: bytes, provider: str, translator: Translator | None
) -> ProxyError:
    """The upstream's error from its body (`read_error_reply`); `ProxyError.body` carries what the client is sent."""
    body = safe_error_body(raw)  # it may echo the credential
    # An upstream may echo the credential anywhere, its reply headers included.
    headers = {k: redact_secrets(v) for k, v in resp.headers.items() if k.lower().startswith(_KEPT)}
    if translator is not None:
        status, translated = translator.error(resp.status, body)
        # Google says when to retry in the body only (RetryInfo); a translated client reads the header.
        if status == 429 and not any(k.lower() == "retry-after" for k in headers) and (delay := _retry_delay(body)):
            headers["Retry-After"] = delay
        msg = upstream_message(translated) or f"{provider} answered {resp.status}"
        return ProxyError(status, f"{provider} answered {resp.status}: {msg}", headers=headers, body=translated)
    msg = upstream_message(body) or body[:300].decode(errors="replace")
    err = ProxyError(resp.status, f"{provider} answered {resp.status}: {msg}", headers=headers)
    if len(raw) <= ERROR_TEXT_MAX:  # a body cut at the cap is no longer the upstream's: answer our own
        err.body = body
        err.headers["Content-Type"] = resp.headers.get("Content-Type", "application/json")
    else:
        err.status = 502 if resp.status >= 500 else resp.status
    return err


def _retry_delay(body: bytes) -> str | None:
    """Whole seconds of a Google RetryInfo `retryDelay` ("17s", "2.5s" rounds up), as a Retry-After value."""
    m = _RETRY_DELAY.search(body)
    if m is None:
        return None
    whole = int(m.group(1))
    return str(whole + 1 if m.group(0).count(b".") else whole)


async def _read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    """The body up to `cap` bytes; `read(n)` alone returns what has arrived, which may be half a JSON body."""
    chunks: list[bytes] = []
    size = 0
    while size < cap and (chunk := await resp.content.read(cap - size)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
