"""Hot reload of user themes: watch the folder with watchfiles and re-read the YAML on change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from watchfiles import awatch

from proxypal_tui.themes import load_themes


async def watch_theme_dirs(user_dir: Path, all_dirs: list[Path]) -> AsyncIterator[tuple[list[str], list[str]]]:
    """Yield (theme names, errors) each time a theme file in `user_dir` (which must exist) changes."""
    async for changes in awatch(user_dir, debounce=200, step=100):
        if not any(Path(p).suffix in (".yaml", ".yml") for _, p in changes):
            continue
        loaded = load_themes(all_dirs)
        yield [t.name for t in loaded.themes], loaded.errors
