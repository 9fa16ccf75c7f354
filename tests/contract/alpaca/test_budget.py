"""The request budget against a simulator that enforces a rate limit: a burst meets no 429."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from adapters.alpaca.broker import AlpacaBroker
from adapters.alpaca.config import RateLimit, RetryPolicy
from apps.alpaca_sim import SimServer
from tests.contract.alpaca.support import opened_broker, order

LIMIT = 30


async def _burst(broker: AlpacaBroker, n: int) -> list[asyncio.Task[object]]:
    return [asyncio.create_task(broker.get_clock()) for _ in range(n)]


async def test_a_burst_of_polls_waits_for_the_budget_and_a_cancel_still_goes_first(
    alpaca_sim_factory: Callable[..., SimServer],
) -> None:
    """The adapter is set for Alpaca's 200 a minute; the account allows 30: the headers win.

    45 polls are asked at once. The budget lets through what the server's count allows less the
    reserve for orders and cancels, and holds the rest; a cancel asked in the middle of the burst
    goes out at once. Not one request is answered 429.
    """
    sim = alpaca_sim_factory(rate_limit=LIMIT)
    async with opened_broker(sim, rate_limit=RateLimit()) as broker:
        resting = await broker.submit_order(order("AAPL", "buy", "1", type="limit", limit_price="100"))
        polls = await _burst(broker, 45)
        await _until_the_burst_has_taken_what_it_may(broker)

        started = time.monotonic()
        await broker.cancel_order(resting.broker_order_id)
        cancel_seconds = time.monotonic() - started
        done = sum(p.done() for p in polls)  # when the cancel was answered: it did not wait behind them
        sent, throttled = broker.rest.sent, broker.rest.throttled
        for poll in polls:
            poll.cancel()
        await asyncio.gather(*polls, return_exceptions=True)

    print(f"burst: {done} of 45 polls answered, {sent} requests sent, cancel in {cancel_seconds * 1000:.0f} ms")
    assert throttled == 0
    assert sent <= LIMIT
    assert 0 < done < 45
    # the held polls wait for the next window (about 60 s); a cancel behind them would too
    assert cancel_seconds < WINDOW_SECONDS / 4
    # a poll cancelled on its way out is counted sent here and may never reach the server
    assert sim.state()["requests"] <= sent


WINDOW_SECONDS = 60.0


async def _until_the_burst_has_taken_what_it_may(broker: AlpacaBroker) -> None:
    """Wait until the requests sent stop growing: the budget holds the rest for the next window.
    (A fixed pause was too short on a loaded machine.)"""
    last, still_since = -1, time.monotonic()
    async with asyncio.timeout(20):
        while time.monotonic() - still_since < 0.3:
            if broker.rest.sent != last:
                last, still_since = broker.rest.sent, time.monotonic()
            await asyncio.sleep(0.02)


@pytest.mark.slow
async def test_a_burst_larger_than_the_window_completes_without_a_429(
    alpaca_sim_factory: Callable[..., SimServer],
) -> None:
    """45 polls over a limit of 30 a minute: the last 15 or so wait for the next window (~60 s).

    The retry deadline is what bounds a wait for a token: here it is set past the window.
    """
    sim = alpaca_sim_factory(rate_limit=LIMIT)
    patient = RetryPolicy(max_attempts=4, base_delay=0.02, max_delay=0.1, deadline=90)
    async with opened_broker(sim, retry=patient, rate_limit=RateLimit()) as broker:
        started = time.monotonic()
        polls = await _burst(broker, 45)
        clocks = await asyncio.wait_for(asyncio.gather(*polls), 100)
        elapsed = time.monotonic() - started

    print(f"burst: 45 polls in {elapsed:.1f}s, {broker.rest.sent} sent, {broker.rest.throttled} answered 429")
    assert len(clocks) == 45
    assert broker.rest.throttled == 0
    assert sim.state()["requests"] == broker.rest.sent
