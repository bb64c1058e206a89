"""The engine's event loop: uvloop where it exists (a dependency off Windows), else asyncio's own.

uvloop's libuv transports cost less CPU per request than asyncio's selector loop, which matters because
most of a pass-through request's time is spent in the loop and in aiohttp. `PROXYPAL_EVENT_LOOP=asyncio`
forces the standard loop (to compare, or to rule uvloop out when debugging).
"""

from __future__ import annotations

import asyncio
import logging
import os

log = logging.getLogger(__name__)

LOOP_ENV = "PROXYPAL_EVENT_LOOP"  # "auto" (default): uvloop if installed | "asyncio"


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A fresh loop for `serve`: uvloop if importable and not turned off, else the standard one."""
    choice = os.environ.get(LOOP_ENV, "auto").strip().lower()
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                log.warning("%s=uvloop but uvloop is not installed; using asyncio's loop", LOOP_ENV)
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """`uvloop` or `asyncio`, for the start-up log line."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
