"""A deadline for one block of a request, as `asyncio.timeout` keeps it, at half its cost.

The first byte of every upstream reply is waited for under one (`upstream.py`). `asyncio.timeout`
is general (reschedulable, inspectable, a state machine in Python) and costs about 5 us a request;
this one is fixed at entry: one timer, cancelled on exit. On expiry it cancels the task and turns
that cancellation into `TimeoutError` at the end of the block, exactly as `asyncio.timeout` does:
a cancellation that came from elsewhere (the client went away, the shutdown drain) stays one.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class Deadline:
    """`async with Deadline(seconds):` raises TimeoutError when the block is still running after `seconds`."""

    __slots__ = ("_cancelling", "_expired", "_handle", "_seconds", "_task")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._expired = False
        self._handle: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> Deadline:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("Deadline should be used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        self._handle = asyncio.get_running_loop().call_later(self._seconds, self._expire)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        # Ours only when no other cancellation is pending (`asyncio.timeout`'s own rule).
        if self._expired and self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
            raise TimeoutError from exc

    def _expire(self) -> None:
        self._expired = True
        self._handle = None
        self._task.cancel()
