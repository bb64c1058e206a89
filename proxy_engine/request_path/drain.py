"""Graceful shutdown of model calls: let them finish within the grace, then end the rest properly.

aiohttp's own shutdown waits `shutdown_timeout`, then cancels and waits that long again, and a
cancelled stream is cut mid-body. Instead, this `on_shutdown` hook waits up to `shutdown_grace_s`
for the calls in flight; then it marks the engine as shutting down and cancels what is left, and
each call ends itself: a stream with an error event in its dialect and a proper end of the body,
a call with nothing sent yet with a 503; both are recorded as `server_shutdown`.
A call whose body is still arriving is ended at once: aiohttp stops reading every connection before
this hook runs (`Server.pre_shutdown`), so the rest of that body never comes, and waiting out the
grace only made its client time out instead of getting the 503.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from proxy_engine.state import ENGINE, RunningEngine

log = logging.getLogger("proxy_engine.request_path")
ENDING_S = 2.0  # how long the calls get to write their shutdown ending
_POLL_S = 0.05


class BodyCutByShutdown(Exception):
    """Set on a model call's body stream at shutdown: the rest of the body will not be read."""


async def drain_model_calls(app: web.Application) -> None:
    state = app[ENGINE]
    grace = state.runtime.config.shutdown_grace_s
    for body in list(state.bodies_arriving):
        body.set_exception(BodyCutByShutdown())  # handler.py answers these 503 server_shutdown
    if state.model_calls:
        log.info("shutting down: waiting up to %.1fs for %d model calls", grace, len(state.model_calls))
        await _until_idle(state, grace)
    state.shutting_down = True
    left = list(state.model_calls)
    if not left:
        return
    log.warning("shutting down: ending %d model calls still open after %.1fs", len(left), grace)
    for task in left:
        task.cancel()
    await _until_idle(state, ENDING_S)


async def _until_idle(state: RunningEngine, seconds: float) -> None:
    """Poll (only at shutdown) until no model call is in flight; the handler tasks outlive their calls
    on keep-alive connections, so there is nothing to await directly."""
    deadline = time.monotonic() + seconds
    while state.model_calls and time.monotonic() < deadline:  # noqa: ASYNC110 - shutdown only, see above
        await asyncio.sleep(min(_POLL_S, max(deadline - time.monotonic(), 0)))
