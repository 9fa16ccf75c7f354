"""Bars over Alpaca's data wire: the simulator's pages hold every bar exactly once, the adapter follows
them, and its reads wait for the data host's own budget rather than fail."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.alpaca.bars import read_bars
from adapters.alpaca.budget import Priority
from adapters.alpaca.config import RateLimit, RetryPolicy
from adapters.alpaca.errors import Operation
from adapters.alpaca.rest import Host, Request
from apps.alpaca_sim import SimServer, SimSettings
from tests.contract.alpaca.support import opened_broker
from trading_core.bars import ONE_MINUTE
from trading_core.clock import TestClock
from trading_core.values import Symbol

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
STEPS = 120
"""Price moves 25 seconds apart: 50 minutes of bars for each listed symbol."""
SPAN = {"start": "2026-03-02T14:00:00Z", "end": "2026-03-02T16:00:00Z"}


@pytest.fixture(scope="module")
def walked_sim() -> Iterator[SimServer]:
    """A simulator whose clock moved 25 s before each of `STEPS` steps of the walk."""
    clock = TestClock(T0)
    with SimServer(SimSettings(rate_limit=0, always_open=True), clock=clock) as sim:
        for _ in range(STEPS):
            clock.advance(timedelta(seconds=25))
            sim.step(1)
        yield sim


def _get(sim: SimServer, path: str, **params: Any) -> Any:
    headers = {"APCA-API-KEY-ID": "test", "APCA-API-SECRET-KEY": "test"}
    answer = httpx.get(f"{sim.url}{path}", params=params, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _all_pages(sim: SimServer, limit: int, **params: Any) -> tuple[list[tuple[str, str]], int]:
    """Every (symbol, time) of every page, in order, and how many pages there were."""
    seen: list[tuple[str, str]] = []
    token, pages = None, 0
    while True:
        page = _get(sim, "/v2/stocks/bars", limit=limit, **params, **({"page_token": token} if token else {}))
        pages += 1
        seen.extend((symbol, b["t"]) for symbol, bars in page["bars"].items() for b in bars)
        token = page["next_page_token"]
        if token is None:
            return seen, pages


@given(
    limit=st.integers(min_value=1, max_value=60),
    timeframe=st.sampled_from(["1Min", "2Min", "5Min", "1Hour"]),
    sort=st.sampled_from(["asc", "desc"]),
    symbols=st.lists(st.sampled_from(["AAPL", "MSFT", "NVDA", "NOPE"]), min_size=1, max_size=3, unique=True),
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_pages_hold_every_bar_exactly_once_in_order(
    walked_sim: SimServer, limit: int, timeframe: str, sort: str, symbols: list[str]
) -> None:
    params = {"symbols": ",".join(symbols), "timeframe": timeframe, "sort": sort, **SPAN}
    whole = _get(walked_sim, "/v2/stocks/bars", limit=10_000, **params)
    expected = [(symbol, b["t"]) for symbol, bars in whole["bars"].items() for b in bars]

    paged, pages = _all_pages(walked_sim, limit, **params)

    assert paged == expected
    assert len(set(paged)) == len(paged)
    assert pages == max(1, -(-len(expected) // limit))
    assert whole["next_page_token"] is None


def test_one_symbols_bars_are_alpacas_shape(walked_sim: SimServer) -> None:
    page = _get(walked_sim, "/v2/stocks/AAPL/bars", timeframe="1Min", limit=3, **SPAN)

    assert page["symbol"] == "AAPL"
    assert [b["t"] for b in page["bars"]] == ["2026-03-02T14:30:00Z", "2026-03-02T14:31:00Z", "2026-03-02T14:32:00Z"]
    assert set(page["bars"][0]) == {"t", "o", "h", "l", "c", "v", "n", "vw"}
    assert isinstance(page["bars"][0]["c"], float)  # market data prices are JSON numbers
    assert page["next_page_token"] is not None


@pytest.mark.parametrize("page_size", [1, 7, 50, 10_000])
async def test_the_adapter_follows_every_page_one_data_request_each(walked_sim: SimServer, page_size: int) -> None:
    start, end = T0, T0 + timedelta(hours=2)
    async with opened_broker(walked_sim) as broker:
        whole = await broker.get_bars(Symbol("AAPL"), ONE_MINUTE, start, end)
        before = broker.rest.data_budget.granted

        def read(path: str, params: Any) -> Any:
            return broker.rest.call(Request("GET", path, Operation.READ, Priority.SYNC, params=params, host=Host.DATA))

        paged = await read_bars(read, Symbol("AAPL"), ONE_MINUTE, start, end, feed="iex", page_size=page_size)
        requests = broker.rest.data_budget.granted - before

    assert len(whole) == 51  # the listing's minute and 50 of the walk
    assert paged == whole
    assert requests == -(-len(whole) // page_size)


async def test_reads_beyond_the_data_budget_wait_and_none_fails(walked_sim: SimServer) -> None:
    """Four data requests per two seconds: twelve snapshot reads at once all succeed, the last ones
    after the budget refilled; the trading host's budget is not spent."""
    small = RateLimit(requests=4, period=2.0, sync_reserve=0, order_reserve=0)
    async with opened_broker(walked_sim, data_rate_limit=small) as broker:
        trading = broker.rest.budget.granted
        asked_before = walked_sim.state()["data_requests"]
        started = time.monotonic()

        answers = await asyncio.gather(*(broker.get_snapshots([Symbol("AAPL")]) for _ in range(12)))

        elapsed = time.monotonic() - started
        asked = walked_sim.state()["data_requests"] - asked_before
        data_waited, trading_spent = broker.rest.data_budget.waited, broker.rest.budget.granted - trading

    assert all(Symbol("AAPL") in a for a in answers)
    assert asked == 12
    assert data_waited >= 8
    assert elapsed >= (12 - 4) / 2 * 0.9  # eight tokens had to refill at two a second
    assert trading_spent <= 1  # at most a stream watchdog's read, never the snapshots


def test_a_timeframe_alpaca_does_not_know_is_refused_with_400(walked_sim: SimServer) -> None:
    headers = {"APCA-API-KEY-ID": "test", "APCA-API-SECRET-KEY": "test"}
    answer = httpx.get(f"{walked_sim.url}/v2/stocks/AAPL/bars", params={"timeframe": "7Day"}, headers=headers)

    assert answer.status_code == 400
    assert answer.json()["message"] == "invalid timeframe: 7Day"


async def test_a_read_waiting_longer_than_the_retry_deadline_for_the_data_budget_still_goes(
    walked_sim: SimServer,
) -> None:
    """The retry deadline bounds retries, not the wait for a data token: strategy code asking more
    than the budget allows is served later, never refused."""
    small = RateLimit(requests=2, period=1.0, sync_reserve=0, order_reserve=0)
    quick = RetryPolicy(max_attempts=2, base_delay=0.02, max_delay=0.1, deadline=0.5)
    async with opened_broker(walked_sim, data_rate_limit=small, retry=quick) as broker:
        answers = await asyncio.gather(*(broker.get_snapshots([Symbol("MSFT")]) for _ in range(8)))

    assert all(Symbol("MSFT") in a for a in answers)


async def test_a_quiet_range_of_a_known_symbol_asks_the_trading_host_once(walked_sim: SimServer) -> None:
    """No bars may mean an unknown symbol: the asset is looked up, once per symbol, not at every poll."""
    quiet = (T0 - timedelta(days=2), T0 - timedelta(days=1))

    def lookups() -> int:
        return int(walked_sim.traffic()["requests"].get("GET /v2/assets/{symbol_or_asset_id}", 0))

    async with opened_broker(walked_sim) as broker:
        before = lookups()
        first = await broker.get_bars(Symbol("AAPL"), ONE_MINUTE, *quiet)
        after_first = lookups()
        again = [await broker.get_bars(Symbol("AAPL"), ONE_MINUTE, *quiet) for _ in range(3)]
        after_again = lookups()

    assert (first, again) == ([], [[], [], []])
    assert (after_first - before, after_again - after_first) == (1, 0)
