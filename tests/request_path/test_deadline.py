"""The first-byte deadline keeps `asyncio.timeout`'s contract: its own expiry is a TimeoutError, anyone
else's cancellation stays a cancellation, and a block that ends in time leaves the task untouched."""

from __future__ import annotations

import asyncio
import time

import pytest

from proxy_engine.request_path.deadline import Deadline


def test_a_block_that_outlives_its_deadline_raises_timeout_error() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(TimeoutError):
            async with Deadline(0.05):
                await asyncio.sleep(5)
        return loop.time() - start

    assert asyncio.run(main()) < 4, "the sleep was cut by the deadline, not waited out"


def test_a_block_that_ends_in_time_leaves_the_task_running() -> None:
    async def main() -> str:
        async with Deadline(0.05):
            await asyncio.sleep(0)
        await asyncio.sleep(0.1)  # past the deadline: no cancellation is left pending for the task
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0
        return "done"

    assert asyncio.run(main()) == "done"


def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    async def main() -> None:
        async def call() -> None:
            async with Deadline(5):
                await asyncio.sleep(5)

        task = asyncio.create_task(call())
        await asyncio.sleep(0.01)
        task.cancel()  # the client went away
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


@pytest.mark.parametrize("deadline", [Deadline, asyncio.timeout], ids=["Deadline", "asyncio.timeout"])
def test_an_outside_cancellation_racing_the_expiry_is_not_turned_into_a_timeout(deadline: type) -> None:
    """The deadline is due and someone else cancels in the same loop turn: a cancellation, as asyncio.timeout has it."""

    async def main() -> None:
        async def call() -> None:
            async with deadline(0.02):
                time.sleep(0.05)  # noqa: ASYNC251 -- blocks the loop on purpose: the deadline is due at the next wait
                task = asyncio.current_task()
                assert task is not None
                asyncio.get_running_loop().call_soon(task.cancel)  # the shutdown drain, in the same turn
                await asyncio.sleep(5)

        with pytest.raises(asyncio.CancelledError):
            await asyncio.create_task(call())

    asyncio.run(main())


def test_a_nested_deadline_expiry_belongs_to_the_inner_block() -> None:
    async def main() -> str:
        async with Deadline(5):
            try:
                async with Deadline(0.02):
                    await asyncio.sleep(5)
            except TimeoutError:
                return "inner"
        return "outer"

    assert asyncio.run(main()) == "inner"
