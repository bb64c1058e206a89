"""Hot reload of user themes: watch the folder with watchfiles and re-read the YAML on change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from watchfiles import awatch
from watchfiles.main import FileChange

from proxypal_tui.themes import load_themes


async def _changes(folder: Path) -> AsyncIterator[set[FileChange]]:
    """Native watching, or polling when no inotify instance is left for this user (editors use them up)."""
    try:
        async for changes in awatch(folder, debounce=200, step=100):
            yield changes
        return
    except RuntimeError:  # watchfiles could not create its watcher
        pass
    async for changes in awatch(folder, debounce=200, step=100, force_polling=True, poll_delay_ms=500):
        yield changes


async def watch_theme_dirs(user_dir: Path, all_dirs: list[Path]) -> AsyncIterator[tuple[list[str], list[str]]]:
    """Yield (theme names, errors) each time a theme file in `user_dir` (which must exist) changes."""
    async for changes in _changes(user_dir):
        if not any(Path(p).suffix in (".yaml", ".yml") for _, p in changes):
            continue
        loaded = load_themes(all_dirs)
        yield [t.name for t in loaded.themes], loaded.errors
