"""Keep the cyclic garbage collector off the engine's start-up heap.

Start-up leaves some 80,000 long-lived objects (modules, classes, the config, pydantic's schemas).
Under load every few seconds a full collection walked all of them, about 50 ms each time, for
garbage that only ever comes from requests. Once the engine is serving, one collection clears
what start-up left behind and `gc.freeze()` moves the survivors to the permanent generation,
which collections skip; requests' own garbage is collected as before.
"""

from __future__ import annotations

import asyncio
import gc
import logging

log = logging.getLogger("proxy_engine.heap")
# After start-to-ready (never in its way) and after the price table that start-up loads in the background.
FREEZE_AFTER_S = 2.0


def freeze_startup_heap() -> None:
    """Collect once, then exempt everything alive from later collections."""
    gc.collect()
    gc.freeze()
    log.debug("start-up heap frozen: %d objects exempt from collection", gc.get_freeze_count())


def freeze_soon(loop: asyncio.AbstractEventLoop) -> asyncio.TimerHandle:
    """Schedule `freeze_startup_heap` on the serving loop (the handle lets a caller cancel it)."""
    return loop.call_later(FREEZE_AFTER_S, freeze_startup_heap)
