"""The client's reply object on a model call: its headers leave with its first body bytes.

`web.StreamResponse.prepare` sends the status line and headers at once, in a write syscall of their
own, and the body follows in another. A model call's reply is prepared only when its first bytes
are ready (see `relay.py`), so holding the headers until that write costs no latency and saves a
syscall and a loopback segment per reply: a whole reply goes out in one write, a stream's headers
travel with its first event. aiohttp's own `web.Response` buffers its headers the same way.
"""

from __future__ import annotations

from aiohttp import web


class ClientReply(web.StreamResponse):
    """A `StreamResponse` whose headers are written together with the first body bytes (or the end)."""

    # aiohttp (>= 3.11) reads this class attribute in `_write_headers`; without it the headers go out
    # alone, as before, and nothing else changes.
    _send_headers_immediately = False
