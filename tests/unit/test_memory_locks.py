"""The in-memory store's row locks: exclusive, first come first served, safe under cancellation."""

from __future__ import annotations

import asyncio

import pytest

from adapters.memory.unit_of_work import KeyLocks


async def test_a_second_holder_waits_for_the_first() -> None:
    locks = KeyLocks()
    order: list[str] = []
    await locks.acquire("o:1")

    async def second() -> None:
        await locks.acquire("o:1")
        order.append("second")
        locks.release("o:1")

    task = asyncio.create_task(second())
    await asyncio.sleep(0)
    order.append("first")
    locks.release("o:1")
    await task

    assert order == ["first", "second"]


async def test_waiters_are_served_in_arrival_order() -> None:
    locks = KeyLocks()
    served: list[int] = []
    await locks.acquire("k")

    async def waiter(n: int) -> None:
        await locks.acquire("k")
        served.append(n)
        locks.release("k")

    tasks = [asyncio.create_task(waiter(n)) for n in range(3)]
    await asyncio.sleep(0)
    locks.release("k")
    await asyncio.gather(*tasks)

    assert served == [0, 1, 2]


async def test_a_cancelled_waiter_never_holds_the_lock() -> None:
    locks = KeyLocks()
    await locks.acquire("k")
    cancelled = asyncio.create_task(locks.acquire("k"))
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled

    locks.release("k")

    await asyncio.wait_for(locks.acquire("k"), timeout=1)  # free again, not stuck with the cancelled one


async def test_a_waiter_cancelled_as_the_lock_reaches_it_passes_it_on() -> None:
    locks = KeyLocks()
    await locks.acquire("k")
    first = asyncio.create_task(locks.acquire("k"))
    second = asyncio.create_task(locks.acquire("k"))
    await asyncio.sleep(0)

    locks.release("k")  # handed to `first`...
    first.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await first

    await asyncio.wait_for(second, timeout=1)


async def test_a_free_key_leaves_no_entry_behind() -> None:
    locks = KeyLocks()
    await locks.acquire("k")

    locks.release("k")

    assert len(locks) == 0
