"""The upstream session's request class: aiohttp's, minus its own `User-Agent`, decided once.

A call whose client sent no `User-Agent` goes upstream without one, never with aiohttp's
`Python/3.x aiohttp/3.x` (it would name the proxy's runtime to every provider). aiohttp's
`skip_auto_headers=("User-Agent",)` on the session does this by building a sorted `CIMultiDict`
of the skipped names and a copy of the request's headers on every call (about 2 us a request);
this class adds aiohttp's other defaults (`Accept`, `Accept-Encoding`) where the caller set none,
and never `User-Agent`, with no per-call copies.
"""

from __future__ import annotations

from collections.abc import Iterable

import aiohttp
from aiohttp import hdrs


class UpstreamRequest(aiohttp.ClientRequest):
    """For `ClientSession(request_class=UpstreamRequest)`, with no session-wide `skip_auto_headers`."""

    def update_auto_headers(self, skip_auto_headers: Iterable[str] | None) -> None:
        """aiohttp's defaults where the caller set none, never `User-Agent` (the caller's own is kept)."""
        if skip_auto_headers is not None:  # a per-call list: aiohttp's own way, User-Agent skipped too
            super().update_auto_headers([*skip_auto_headers, hdrs.USER_AGENT])
            return
        headers = self.headers
        for name, value in self.DEFAULT_HEADERS.items():
            if name not in headers:
                headers[name] = value
