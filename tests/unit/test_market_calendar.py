"""The NYSE calendar behind the core's port, the market clock worked out from it, and the paper
exchange that follows it: holidays, early closes, the extended session, day orders expiring at
the close by the clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from time import perf_counter

import pytest

from adapters.calendar import NyseCalendar
from adapters.paper.timers import run_sessions, run_walk
from adapters.paper.walk import PriceWalk
from tests.unit.paper_support import D, new_exchange, order
from trading_core.clock import TestClock
from trading_core.enums import OrderStatus
from trading_core.market import EASTERN, Session
from trading_core.market_hours import market_clock, next_change
from trading_core.orders import TradeEvent

NYSE = NyseCalendar()


def et(day: date, hour: int, minute: int = 0) -> datetime:
    """An instant given in New York time, in UTC."""
    return datetime.combine(day, time(hour, minute), tzinfo=EASTERN).astimezone(UTC)


THANKSGIVING = date(2025, 11, 27)
DAY_AFTER = date(2025, 11, 28)
CHRISTMAS_EVE = date(2025, 12, 24)


class TestTheNyseCalendar:
    def test_thanksgiving_christmas_and_the_weekend_do_not_trade(self) -> None:
        days = [d.date for d in NYSE.trading_days(date(2025, 11, 26), date(2025, 12, 29))]

        assert THANKSGIVING not in days
        assert date(2025, 12, 25) not in days
        assert date(2025, 11, 29) not in days  # a Saturday
        assert {date(2025, 11, 26), DAY_AFTER, CHRISTMAS_EVE, date(2025, 12, 26)} <= set(days)

    @pytest.mark.parametrize("day", [DAY_AFTER, CHRISTMAS_EVE])
    def test_early_closes_at_13_and_the_extended_session_four_hours_after(self, day: date) -> None:
        (found,) = NYSE.trading_days(day, day)

        assert (found.open, found.close) == (et(day, 9, 30), et(day, 13))
        assert (found.session_open, found.session_close) == (et(day, 4), et(day, 17))

    def test_a_regular_day_runs_04_to_20_with_the_session_from_0930_to_16(self) -> None:
        day = date(2025, 12, 1)
        (found,) = NYSE.trading_days(day, day)

        assert (found.session_open, found.open, found.close, found.session_close) == (
            et(day, 4),
            et(day, 9, 30),
            et(day, 16),
            et(day, 20),
        )

    def test_far_dates_follow_the_rules_and_the_range_ends_in_2100(self) -> None:
        assert date(2099, 12, 25) not in [d.date for d in NYSE.trading_days(date(2099, 12, 20), date(2099, 12, 31))]
        assert NYSE.trading_days(date(2101, 1, 1), date(2101, 12, 31)) == []
        assert NYSE.trading_days(date(1960, 1, 1), date(1969, 12, 31)) == []


class TestTheMarketClock:
    def test_on_thanksgiving_it_is_closed_until_the_next_morning_which_closes_at_13(self) -> None:
        clock = market_clock(NYSE, et(THANKSGIVING, 11))

        assert (clock.is_open, clock.session) == (False, Session.CLOSED)
        assert (clock.next_open, clock.next_close) == (et(DAY_AFTER, 9, 30), et(DAY_AFTER, 13))

    @pytest.mark.parametrize(
        ("hour", "minute", "session", "is_open"),
        [
            (3, 59, Session.CLOSED, False),
            (4, 0, Session.PRE_MARKET, False),
            (9, 29, Session.PRE_MARKET, False),
            (9, 30, Session.REGULAR, True),
            (12, 59, Session.REGULAR, True),
            (13, 0, Session.AFTER_HOURS, False),
            (16, 59, Session.AFTER_HOURS, False),
            (17, 0, Session.CLOSED, False),
        ],
    )
    def test_the_sessions_of_the_day_after_thanksgiving(
        self, hour: int, minute: int, session: Session, is_open: bool
    ) -> None:
        clock = market_clock(NYSE, et(DAY_AFTER, hour, minute))

        assert (clock.session, clock.is_open) == (session, is_open)

    def test_in_session_the_next_close_is_todays_and_the_next_open_is_after_the_weekend(self) -> None:
        clock = market_clock(NYSE, et(DAY_AFTER, 10))

        assert (clock.next_close, clock.next_open) == (et(DAY_AFTER, 13), et(date(2025, 12, 1), 9, 30))
        assert next_change(NYSE, et(DAY_AFTER, 10)) == (et(DAY_AFTER, 13), False)
        assert next_change(NYSE, et(THANKSGIVING, 10)) == (et(DAY_AFTER, 9, 30), True)


class _Stop(Exception):
    """Ends a timer loop in a test after the waits it was given."""


def fake_sleep(clock: TestClock, waits: int) -> tuple[list[float], Callable[[float], Awaitable[None]]]:
    """A sleep that moves `clock` by the time asked, `waits` times, then stops the loop."""
    asked: list[float] = []

    async def sleep(seconds: float) -> None:
        if len(asked) == waits:
            raise _Stop
        asked.append(seconds)
        clock.advance(timedelta(seconds=seconds))

    return asked, sleep


class TestThePaperExchangeOnTheCalendar:
    async def test_closed_on_thanksgiving_with_a_true_clock_and_no_manual_session(self) -> None:
        exchange = new_exchange(TestClock(et(THANKSGIVING, 11)), calendar=NYSE)

        clock = await exchange.get_clock()
        accepted = await exchange.submit_order(order("AAPL", quantity=1))

        assert (exchange.is_open, clock.is_open, clock.next_close) == (False, False, et(DAY_AFTER, 13))
        assert accepted.status is OrderStatus.ACCEPTED  # routed at the open, not filled on a holiday
        with pytest.raises(RuntimeError, match="XNYS"):
            exchange.open_market()

    async def test_a_day_order_expires_at_the_early_close_by_the_clock(self) -> None:
        clock = TestClock(et(DAY_AFTER, 12, 55))
        exchange = new_exchange(clock, calendar=NYSE)
        resting = await exchange.submit_order(order("AAPL", quantity=1, type="limit", limit_price="100"))
        exchange.drain_updates()
        heard: list[bool] = []

        async def told(is_open: bool) -> None:
            heard.append(is_open)

        asked, sleep = fake_sleep(clock, waits=1)
        with pytest.raises(_Stop):
            await run_sessions(exchange, clock, on_change=told, sleep=sleep)

        (expired,) = exchange.drain_updates()
        assert asked == [300.0]  # slept until 13:00 exactly, then closed
        assert (expired.event, expired.order.broker_order_id) == (TradeEvent.EXPIRED, resting.broker_order_id)
        assert expired.order.expired_at == et(DAY_AFTER, 13)
        assert (exchange.is_open, heard) == (False, [False])

    async def test_the_timer_opens_the_next_session_and_routes_what_waited(self) -> None:
        clock = TestClock(et(THANKSGIVING, 20))
        exchange = new_exchange(clock, calendar=NYSE)
        waiting = await exchange.submit_order(order("AAPL", quantity=1))
        exchange.drain_updates()

        asked, sleep = fake_sleep(clock, waits=1)
        with pytest.raises(_Stop):
            await run_sessions(exchange, clock, sleep=sleep)

        assert (clock.now(), asked) == (et(DAY_AFTER, 9, 30), [13.5 * 3600])
        assert exchange.is_open
        assert [u.event for u in exchange.drain_updates()] == [TradeEvent.NEW, TradeEvent.FILL]
        assert (await exchange.get_order(waiting.broker_order_id)).status is OrderStatus.FILLED

    async def test_without_a_calendar_the_session_timer_refuses_to_run(self) -> None:
        exchange = new_exchange()
        with pytest.raises(ValueError, match="no calendar"):
            await run_sessions(exchange, TestClock(et(DAY_AFTER, 10)))


class TestThePriceWalk:
    async def test_the_walk_moves_every_price_on_its_interval_as_the_shared_walk_does(self) -> None:
        clock = TestClock(et(DAY_AFTER, 10))
        exchange = new_exchange(clock, seed=7, volatility_bp=50)
        start = exchange.price("AAPL")
        asked, sleep = fake_sleep(clock, waits=3)

        with pytest.raises(_Stop):
            await run_walk(exchange, timedelta(milliseconds=500), sleep=sleep)

        same = new_exchange(TestClock(et(DAY_AFTER, 10)), seed=7, volatility_bp=50)
        same.step_prices(3)  # the walk the Alpaca simulator's /_sim/step takes: one implementation
        assert asked == [0.5, 0.5, 0.5]
        assert exchange.price("AAPL") != start
        assert {s: exchange.price(s) for s in ("AAPL", "MSFT", "KO")} == {
            s: same.price(s) for s in ("AAPL", "MSFT", "KO")
        }

    def test_a_walk_moves_within_its_volatility_in_whole_cents_and_replays_by_seed(self) -> None:
        one, two = PriceWalk(3, 10), PriceWalk(3, 10)
        path = [one.step(D("100.00")) for _ in range(200)]

        assert path == [two.step(D("100.00")) for _ in range(200)]
        assert all(D("99.90") <= p <= D("100.10") and p == p.quantize(D("0.01")) for p in path)
        assert len(set(path)) > 5
        with pytest.raises(ValueError, match="negative"):
            PriceWalk(0, -1)

    async def test_the_walk_refuses_a_non_positive_interval(self) -> None:
        with pytest.raises(ValueError, match="positive"):
            await run_walk(new_exchange(), timedelta(0))


def test_the_clock_is_quick_enough_to_ask_before_every_order() -> None:
    """Built once per process, the calendar answers a clock in under 10 ms (about 1 ms here)."""
    NYSE.trading_days(DAY_AFTER, DAY_AFTER)
    moment = et(DAY_AFTER, 10)
    started = perf_counter()
    for _ in range(100):
        market_clock(NYSE, moment)
    assert (perf_counter() - started) / 100 < 0.01
