"""Keep the cyclic garbage collector off the engine's start-up heap.

Start-up leaves some 80,000 long-lived objects (modules, classes, the config, pydantic's schemas).
Under load every few seconds a full collection walked all of them, about 50 ms each time, for
garbage that only ever comes from requests. Once the engine is serving, one collection clears
what start-up left behind and `gc.freeze()` moves the survivors to the permanent generation,
which collections skip.

The youngest generation is then collected after 7,000 net new containers instead of 700. A
request's objects are freed by reference counting when it ends (it leaves next to no cycles), but
16-64 requests in flight hold more than 700 at once, so the default ran a pass every couple of
requests that found nothing to free and promoted live objects to be walked again (~14 us per
request under load). Real cyclic garbage still triggers collections, 7,000 objects later.

Collection is also paused while the engine starts (`python -m proxy_engine` pauses it before its
first import; `serve` resumes it with the freeze, any other command at once): the imports and the
config allocate ~95,000 objects that live as long as the process, and the passes over them that
start-up would otherwise trigger found nothing to free and cost ~50 ms of start-to-ready.
"""

from __future__ import annotations

import asyncio
import gc
import logging

log = logging.getLogger("proxy_engine.heap")
# After start-to-ready (never in its way) and after the price table that start-up loads in the background.
FREEZE_AFTER_S = 2.0
YOUNG_THRESHOLD = 7000  # CPython's default is 700; the older generations keep theirs


def pause_collection() -> None:
    """No cyclic collection while starting (the process's first lines call this, before any import)."""
    gc.disable()


def resume_collection() -> None:
    """A command that does not serve (or the workers' supervisor) collects as usual."""
    gc.enable()


def freeze_startup_heap() -> None:
    """Collect once, exempt everything alive from later collections, and collect the young less often."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
    gc.enable()  # paused since the process started, when it started with `python -m proxy_engine`
    log.debug("start-up heap frozen: %d objects exempt from collection", gc.get_freeze_count())


def freeze_soon(loop: asyncio.AbstractEventLoop) -> asyncio.TimerHandle:
    """Schedule `freeze_startup_heap` on the serving loop (the handle lets a caller cancel it)."""
    return loop.call_later(FREEZE_AFTER_S, freeze_startup_heap)
