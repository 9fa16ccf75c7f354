"""The request budget: tokens in priority order, reserves for cancels, the server's count wins."""

from __future__ import annotations

import asyncio
import time

import pytest

from adapters.alpaca.budget import Priority, RequestBudget
from adapters.alpaca.config import RateLimit


def _answered(limit: RateLimit) -> RequestBudget:
    """A budget that has read one answer without rate-limit headers: it trusts its settings."""
    budget = RequestBudget(limit)
    budget.observe({})
    return budget


async def _take_all(budget: RequestBudget, n: int, priority: Priority = Priority.CANCEL) -> None:
    for _ in range(n):
        await budget.acquire(priority)


async def test_waiting_requests_are_served_cancels_first_then_orders_then_syncs() -> None:
    budget = _answered(RateLimit(requests=4, period=0.2, sync_reserve=0, order_reserve=0))
    await _take_all(budget, 4)
    served: list[str] = []

    async def request(name: str, priority: Priority) -> None:
        await budget.acquire(priority)
        served.append(name)

    tasks = [
        asyncio.create_task(request(name, priority))
        for name, priority in [
            ("poll-1", Priority.SYNC),
            ("poll-2", Priority.SYNC),
            ("order", Priority.ORDER),
            ("cancel", Priority.CANCEL),
        ]
    ]
    await asyncio.gather(*tasks)

    assert served == ["cancel", "order", "poll-1", "poll-2"]


async def test_syncs_leave_a_reserve_that_a_later_cancel_takes_at_once() -> None:
    budget = _answered(RateLimit(requests=10, period=60, sync_reserve=0.4, order_reserve=0.2))
    await _take_all(budget, 6, Priority.SYNC)
    blocked = asyncio.create_task(budget.acquire(Priority.SYNC))
    await asyncio.sleep(0.01)

    started = time.monotonic()
    await budget.acquire(Priority.ORDER)
    await budget.acquire(Priority.ORDER)
    await budget.acquire(Priority.CANCEL)
    await budget.acquire(Priority.CANCEL)

    assert time.monotonic() - started < 0.05
    assert not blocked.done()
    blocked.cancel()


async def test_the_servers_remaining_count_caps_the_bucket_until_its_reset() -> None:
    budget = _answered(RateLimit(requests=100, period=60, sync_reserve=0, order_reserve=0))
    with budget.in_flight() as ticket:
        budget.observe(
            {"x-ratelimit-limit": "100", "x-ratelimit-remaining": "1", "x-ratelimit-reset": str(time.time() + 0.3)},
            ticket,
        )

    started = time.monotonic()
    await budget.acquire(Priority.SYNC)
    assert time.monotonic() - started < 0.05  # the one the server still allows
    started = time.monotonic()
    await budget.acquire(Priority.SYNC)

    assert time.monotonic() - started >= 0.25


async def test_requests_sent_after_an_answered_one_count_against_its_remaining() -> None:
    """The server counted what was sent before this request, perhaps not what was sent after."""
    budget = _answered(RateLimit(requests=100, period=60, sync_reserve=0, order_reserve=0))
    reset = str(time.time() + 30)
    with budget.in_flight(), budget.in_flight() as ticket, budget.in_flight(), budget.in_flight():
        budget.observe({"x-ratelimit-remaining": "5", "x-ratelimit-reset": reset}, ticket)

        assert budget.available == pytest.approx(3)


async def test_a_new_window_lets_the_server_give_tokens_back() -> None:
    budget = _answered(RateLimit(requests=10, period=60, sync_reserve=0, order_reserve=0))
    await _take_all(budget, 10)
    with budget.in_flight() as ticket:
        budget.observe({"x-ratelimit-remaining": "9", "x-ratelimit-reset": str(time.time() + 60)}, ticket)

    assert budget.available == pytest.approx(9)


async def test_a_429_holds_every_class_for_its_retry_after() -> None:
    budget = _answered(RateLimit(requests=100, period=60, sync_reserve=0, order_reserve=0))
    budget.penalise(0.2)
    started = time.monotonic()

    await budget.acquire(Priority.CANCEL)

    assert time.monotonic() - started >= 0.15


async def test_a_waiter_that_gives_up_leaves_the_queue() -> None:
    budget = _answered(RateLimit(requests=1, period=0.3, sync_reserve=0, order_reserve=0))
    await budget.acquire(Priority.SYNC)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await budget.acquire(Priority.SYNC)

    await budget.acquire(Priority.SYNC)

    assert budget.granted == 2


def test_reserves_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="reserves"):
        RateLimit(requests=10, sync_reserve=0.1, order_reserve=0.2)


async def test_before_the_first_answer_one_request_at_a_time_goes_out() -> None:
    """The configured limit may be above the account's: nothing more is risked until an answer."""
    budget = RequestBudget(RateLimit(requests=100, period=60))
    await budget.acquire(Priority.SYNC)
    second = asyncio.create_task(budget.acquire(Priority.SYNC))
    await asyncio.sleep(0.02)
    assert not second.done()

    with budget.in_flight() as ticket:
        budget.observe({"x-ratelimit-remaining": "50", "x-ratelimit-reset": str(time.time() + 60)}, ticket)
    await asyncio.wait_for(second, 1)

    assert budget.granted == 2


async def test_a_probe_that_gets_no_answer_lets_the_next_one_go() -> None:
    budget = RequestBudget(RateLimit(requests=100, period=60))
    await budget.acquire(Priority.SYNC)
    second = asyncio.create_task(budget.acquire(Priority.SYNC))
    with budget.in_flight():
        pass  # a transport failure: no answer to read

    await asyncio.wait_for(second, 1)
