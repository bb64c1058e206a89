"""Watching a folder for changes, with polling when the OS will not give us a watcher.

Linux allows each user 128 inotify instances by default, and editors, language servers and
file-syncing tools use them up. When none is left, watchfiles cannot create its watcher and
raises; a config watch that died that way would silently stop hot reloads. So a folder that
cannot be watched natively is polled instead, and the engine says so once.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import watchfiles
from watchfiles.main import FileChange

log = logging.getLogger("proxy_engine.file_watch")

POLL_DELAY_MS = 300


async def watch_folder(folder: Path, *, debounce_ms: int, step_ms: int) -> AsyncIterator[set[FileChange]]:
    """Yield each batch of changes in `folder` (not its subfolders), natively or by polling."""
    try:
        async for changes in watchfiles.awatch(folder, debounce=debounce_ms, step=step_ms, recursive=False):
            yield changes
        return
    except (RuntimeError, OSError) as e:  # watchfiles' internal error is a RuntimeError
        log.warning("cannot watch %s natively (%s); polling it every %d ms instead", folder, e, POLL_DELAY_MS)
    async for changes in watchfiles.awatch(
        folder, debounce=debounce_ms, step=step_ms, recursive=False, force_polling=True, poll_delay_ms=POLL_DELAY_MS
    ):
        yield changes
