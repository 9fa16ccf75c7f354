"""Extended hours on the paper exchange, on the NYSE calendar and a test's clock: an order with
`extended_hours` (a day limit order, as Alpaca allows) trades in the pre-market (04:00-09:30 ET) and
after-hours (16:00-20:00 ET) sessions and expires at the after-hours' end; one without waits for the
regular session and, as a day order, expires at its close."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import attrs
import pytest

from adapters.calendar import NyseCalendar
from adapters.paper import PaperExchange
from adapters.paper.timers import run_sessions
from tests.unit.paper_support import D, new_exchange
from trading_core.broker_models import BrokerOrder
from trading_core.clock import TestClock
from trading_core.enums import OrderStatus, OrderType, TimeInForce
from trading_core.errors import BrokerRejected
from trading_core.market import EASTERN, Session
from trading_core.orders import Order, TradeEvent
from trading_core.requests import OrderRequest
from trading_core.values import ClientOrderId, new_order_id

NYSE = NyseCalendar()
MONDAY = date(2025, 12, 1)
TUESDAY = date(2025, 12, 2)
DAY_AFTER_THANKSGIVING = date(2025, 11, 28)


def et(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=EASTERN).astimezone(UTC)


def limit(
    limit_price: str,
    *,
    side: str = "buy",
    extended_hours: bool = False,
    time_in_force: str = "day",
    quantity: str = "1",
) -> Order:
    request = OrderRequest.create(
        symbol="AAPL",
        side=side,
        type="limit",
        quantity=quantity,
        time_in_force=time_in_force,
        limit_price=limit_price,
        extended_hours=extended_hours,
    )
    return Order.from_request(
        request, order_id=new_order_id(), client_order_id=ClientOrderId(str(uuid.uuid4())), now=et(MONDAY, 4)
    )


def at(moment: datetime) -> tuple[TestClock, PaperExchange]:
    clock = TestClock(moment)
    return clock, new_exchange(clock, calendar=NYSE)


def move_to(clock: TestClock, exchange: PaperExchange, moment: datetime) -> None:
    clock.advance(moment - clock.now())
    exchange.follow_calendar()


async def status(exchange: PaperExchange, placed: BrokerOrder) -> OrderStatus:
    return (await exchange.get_order(placed.broker_order_id)).status


class TestThePreMarket:
    async def test_an_extended_hours_order_trades_and_a_regular_one_waits_for_the_open(self) -> None:
        clock, exchange = at(et(MONDAY, 8))
        extended = await exchange.submit_order(limit("191", extended_hours=True))
        regular = await exchange.submit_order(limit("191"))

        assert (await exchange.get_clock()).session is Session.PRE_MARKET
        assert (extended.status, await status(exchange, extended)) == (OrderStatus.NEW, OrderStatus.FILLED)
        assert (regular.status, await status(exchange, regular)) == (OrderStatus.ACCEPTED, OrderStatus.ACCEPTED)

        move_to(clock, exchange, et(MONDAY, 9, 30))

        assert await status(exchange, regular) is OrderStatus.FILLED

    async def test_a_price_move_fills_a_resting_extended_order_and_leaves_a_regular_one_resting(self) -> None:
        clock, exchange = at(et(MONDAY, 10))
        regular = await exchange.submit_order(limit("180", time_in_force="gtc"))  # rests overnight
        move_to(clock, exchange, et(TUESDAY, 7))
        extended = await exchange.submit_order(limit("180", extended_hours=True))

        exchange.set_price("AAPL", D("179.50"))

        assert await status(exchange, extended) is OrderStatus.FILLED
        assert await status(exchange, regular) is OrderStatus.NEW  # only extended-hours orders trade now
        move_to(clock, exchange, et(TUESDAY, 9, 30))
        assert await status(exchange, regular) is OrderStatus.FILLED

    async def test_an_order_sent_overnight_is_routed_when_the_pre_market_starts(self) -> None:
        clock, exchange = at(et(MONDAY, 21))
        waiting = await exchange.submit_order(limit("191", extended_hours=True))
        regular = await exchange.submit_order(limit("191"))
        asked: list[float] = []

        async def sleep(seconds: float) -> None:
            if asked:
                raise _Stop
            asked.append(seconds)
            clock.advance(timedelta(seconds=seconds))

        with pytest.raises(_Stop):
            await run_sessions(exchange, clock, sleep=sleep)

        assert asked == [7 * 3600]  # 21:00 to 04:00, when the timer routes what waited
        assert waiting.status is OrderStatus.ACCEPTED
        assert await status(exchange, waiting) is OrderStatus.FILLED
        assert await status(exchange, regular) is OrderStatus.ACCEPTED


class _Stop(Exception):
    pass


class TestAfterHours:
    async def test_at_the_close_regular_day_orders_expire_and_extended_ones_trade_until_20(self) -> None:
        clock, exchange = at(et(MONDAY, 15))
        regular = await exchange.submit_order(limit("180"))
        crossing = await exchange.submit_order(limit("180", extended_hours=True))
        resting = await exchange.submit_order(limit("170", extended_hours=True))

        move_to(clock, exchange, et(MONDAY, 16))
        assert (await exchange.get_clock()).session is Session.AFTER_HOURS
        assert await status(exchange, regular) is OrderStatus.EXPIRED
        exchange.set_price("AAPL", D("179"))
        assert await status(exchange, crossing) is OrderStatus.FILLED
        assert await status(exchange, resting) is OrderStatus.NEW

        move_to(clock, exchange, et(MONDAY, 20))
        assert await status(exchange, resting) is OrderStatus.EXPIRED
        expired = [u for u in exchange.drain_updates() if u.event is TradeEvent.EXPIRED]
        assert [u.order.expired_at for u in expired] == [et(MONDAY, 16), et(MONDAY, 20)]

    async def test_after_an_early_close_the_after_hours_end_at_17(self) -> None:
        clock, exchange = at(et(DAY_AFTER_THANKSGIVING, 12))
        resting = await exchange.submit_order(limit("170", extended_hours=True))

        move_to(clock, exchange, et(DAY_AFTER_THANKSGIVING, 16, 59))
        assert await status(exchange, resting) is OrderStatus.NEW
        move_to(clock, exchange, et(DAY_AFTER_THANKSGIVING, 17))
        assert await status(exchange, resting) is OrderStatus.EXPIRED

    async def test_a_regular_order_sent_after_hours_waits_for_the_next_open(self) -> None:
        clock, exchange = at(et(MONDAY, 17))
        regular = await exchange.submit_order(limit("191"))
        move_to(clock, exchange, et(MONDAY, 20))
        assert await status(exchange, regular) is OrderStatus.ACCEPTED  # not expired: it never traded yet

        move_to(clock, exchange, et(TUESDAY, 9, 30))
        assert await status(exchange, regular) is OrderStatus.FILLED


class TestASleptThroughClose:
    """A machine suspended (or a process stopped) over the close wakes in another day's session:
    what that close would have expired expires when the exchange next follows its calendar."""

    async def test_extended_hours_orders_of_a_day_slept_through_expire_in_the_next_pre_market(self) -> None:
        clock, exchange = at(et(MONDAY, 17))
        resting = await exchange.submit_order(limit("170", extended_hours=True))
        move_to(clock, exchange, et(TUESDAY, 8))  # asleep from Monday's after-hours to Tuesday's pre-market
        assert await status(exchange, resting) is OrderStatus.EXPIRED

    async def test_day_orders_of_a_day_slept_through_expire_in_the_next_regular_session(self) -> None:
        clock, exchange = at(et(MONDAY, 15))
        regular = await exchange.submit_order(limit("170"))
        extended = await exchange.submit_order(limit("170", extended_hours=True))
        good = await exchange.submit_order(limit("170", time_in_force="gtc"))

        clock.advance(et(TUESDAY, 10) - clock.now())
        opened = exchange.follow_calendar()

        assert await status(exchange, regular) is OrderStatus.EXPIRED
        assert await status(exchange, extended) is OrderStatus.EXPIRED
        assert await status(exchange, good) is OrderStatus.NEW
        assert opened is True  # a new regular session: the engine hears an open

    async def test_a_close_slept_through_into_the_night_is_a_close(self) -> None:
        clock, exchange = at(et(MONDAY, 15))
        regular = await exchange.submit_order(limit("170"))
        clock.advance(et(TUESDAY, 2) - clock.now())
        assert exchange.follow_calendar() is False
        assert await status(exchange, regular) is OrderStatus.EXPIRED

    async def test_a_day_without_sleep_changes_nothing(self) -> None:
        clock, exchange = at(et(MONDAY, 15))
        regular = await exchange.submit_order(limit("170"))
        move_to(clock, exchange, et(MONDAY, 15, 59))
        assert await status(exchange, regular) is OrderStatus.NEW


class TestWhatIsRefused:
    @pytest.mark.parametrize(
        "change",
        [
            {"type": OrderType.MARKET, "limit_price": None},
            {"time_in_force": TimeInForce.GTC},
            {"type": OrderType.STOP_LIMIT, "stop_price": D("185")},
        ],
    )
    async def test_extended_hours_is_for_day_limit_orders_only(self, change: dict[str, object]) -> None:
        _, exchange = at(et(MONDAY, 8))
        wrong = attrs.evolve(limit("191", extended_hours=True), **change)

        with pytest.raises(BrokerRejected) as refused:
            await exchange.submit_order(wrong)

        assert (refused.value.code, refused.value.details["field"]) == ("INVALID_ORDER", "extended_hours")
        assert exchange.drain_updates() == []

    async def test_a_replace_cannot_make_an_extended_order_good_till_cancelled(self) -> None:
        _, exchange = at(et(MONDAY, 8))
        placed = await exchange.submit_order(limit("170", extended_hours=True))

        with pytest.raises(BrokerRejected, match="DAY limit"):
            await exchange.replace_order(
                placed.broker_order_id, client_order_id=ClientOrderId("again"), time_in_force=TimeInForce.GTC
            )
        assert await status(exchange, placed) is OrderStatus.NEW

    async def test_without_a_calendar_there_is_no_extended_session(self) -> None:
        exchange = new_exchange(market_open=False)

        placed = await exchange.submit_order(limit("191", extended_hours=True))

        assert placed.status is OrderStatus.ACCEPTED  # waits for open_market, as every order does
