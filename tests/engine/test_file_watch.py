"""A config folder is still watched when the user has no inotify instance left (it is polled)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy_engine.file_watch import watch_folder

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="inotify is Linux's")


@contextlib.contextmanager
def inotify_used_up() -> Iterator[int]:
    """Hold every inotify instance this user may have, as a busy desktop's editors do."""
    libc = ctypes.CDLL(None, use_errno=True)
    held: list[int] = []
    try:
        while len(held) < 100_000 and (fd := libc.inotify_init1(0)) >= 0:
            held.append(fd)
        yield len(held)
    finally:
        for fd in held:
            libc.close(fd)


async def test_a_folder_is_polled_when_no_inotify_instance_is_left(tmp_path: Path, caplog) -> None:
    target = tmp_path / "config.yaml"
    seen: asyncio.Queue[set] = asyncio.Queue()

    async def consume() -> None:
        async for changes in watch_folder(tmp_path, debounce_ms=50, step_ms=20):
            await seen.put(changes)

    caplog.set_level(logging.WARNING, logger="proxy_engine.file_watch")
    with inotify_used_up() as held:
        assert held >= 1
        task = asyncio.create_task(consume())
        for _ in range(100):  # until the native watcher has failed and polling has taken over
            if "polling it" in caplog.text:
                break
            await asyncio.sleep(0.02)
    try:
        assert "cannot watch" in caplog.text and "polling it" in caplog.text
        await asyncio.sleep(0.4)  # the poller's first scan sees the folder without the file
        target.write_text("port: 8317\n")
        changes = await asyncio.wait_for(seen.get(), 10)
        assert any(Path(p) == target for _, p in changes)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
