"""The engine's history: orders and fills by filter, closed positions, snapshots of the portfolio's
value at each fill, and `find_position` beside `get_position`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from adapters.paper import PaperExchange
from tests.unit.engine.conftest import market
from trading_core import TestClock
from trading_core.engine import TradingEngine
from trading_core.enums import PositionSide, Side
from trading_core.errors import PositionNotFound
from trading_core.history import MAX_PAGE_SIZE, Timeframe
from trading_core.ports import OrderFilter

TREND = "0190a0e0-0000-7000-8000-000000000001"


async def test_orders_and_fills_are_listed_by_filter(engine: TradingEngine, exchange: PaperExchange) -> None:
    exchange.set_price("AAPL", Decimal("50.00"))
    exchange.set_price("MSFT", Decimal("20.00"))
    await engine.submit(market("AAPL", "buy", 10, strategy_id=TREND))
    await engine.submit(market("MSFT", "buy", 5))
    await engine.submit(market("AAPL", "sell", 10, strategy_id=TREND.upper()))

    trend = await engine.list_orders(status=OrderFilter.ALL, strategy_id=TREND)
    assert [(o.symbol, o.side) for o in trend.orders] == [("AAPL", Side.SELL), ("AAPL", Side.BUY)]
    msft = await engine.list_fills(symbol="msft")
    assert [(f.symbol, f.quantity) for f in msft.fills] == [("MSFT", 5)]
    sales = await engine.list_fills(side="sell")
    assert [f.realized_pnl for f in sales.fills] == [0]  # bought and sold at 50.00
    assert (await engine.list_fills(since=engine.now() + timedelta(seconds=1))).fills == []


async def test_a_strategy_id_that_is_no_uuid_is_refused(engine: TradingEngine) -> None:
    with pytest.raises(ValueError, match="strategy_id must be a UUID"):
        await engine.list_orders(strategy_id="trend")
    with pytest.raises(ValueError, match="'short' is not a valid Side"):
        await engine.list_fills(side="short")


async def test_each_closed_position_is_kept_with_its_realized_pnl(
    engine: TradingEngine, exchange: PaperExchange, clock: TestClock
) -> None:
    exchange.set_price("AAPL", Decimal("50.00"))
    await engine.submit(market("AAPL", "buy", 100))
    clock.advance(timedelta(minutes=1))
    exchange.set_price("AAPL", Decimal("46.30"))
    await engine.submit(market("AAPL", "sell", 50))
    await engine.submit(market("AAPL", "sell", 100))  # closes 50 (-185.00 more), then opens 50 short
    clock.advance(timedelta(minutes=1))
    exchange.set_price("AAPL", Decimal("47.00"))
    await engine.submit(market("AAPL", "buy", 50))  # the short closes: -35.00

    closed = (await engine.history.closed_positions(None, None, None, 10, None)).positions
    assert [(c.side, c.realized_pnl) for c in closed] == [
        (PositionSide.SHORT, Decimal("-35.00")),
        (PositionSide.LONG, Decimal("-370.00")),
    ]
    assert closed[1].closed_at - closed[1].opened_at == timedelta(minutes=1)  # type: ignore[operator]
    assert (await engine.realized_pnl()).total == Decimal("-405.00")


async def test_a_snapshot_follows_each_fill(engine: TradingEngine, exchange: PaperExchange, clock: TestClock) -> None:
    exchange.set_price("AAPL", Decimal("50.00"))
    await engine.submit(market("AAPL", "buy", 100))
    clock.advance(timedelta(minutes=1))
    exchange.set_price("AAPL", Decimal("52.00"))
    await engine.submit(market("AAPL", "sell", 40))  # realizes 80.00
    exchange.set_price("AAPL", Decimal("53.00"))
    clock.advance(timedelta(minutes=1))
    taken = await engine.history.snapshot()  # as the service does on its interval

    history = await engine.history.portfolio_history(None, None, Timeframe.ALL)
    assert history[-1] == taken
    assert [(s.exposure, s.realized_pnl, s.unrealized_pnl) for s in history] == [
        (Decimal("5000.00"), 0, 0),
        (Decimal("3120.00"), Decimal("80.00"), Decimal("120.00")),
        (Decimal("3180.00"), Decimal("80.00"), Decimal("180.00")),
    ]
    account = await engine.get_account()
    assert (taken.cash, taken.equity) == (account.cash, account.equity)
    assert taken.equity == Decimal(1_000_000) + Decimal("80.00") + Decimal("180.00")
    per_minute = await engine.history.portfolio_history(None, None, Timeframe.MINUTE)
    assert per_minute == history  # one a minute
    per_hour = await engine.history.portfolio_history(None, None, Timeframe.HOUR)
    assert per_hour == [taken]  # the last of the hour


async def test_find_position_answers_none_for_a_flat_symbol(engine: TradingEngine, exchange: PaperExchange) -> None:
    exchange.set_price("AAPL", Decimal("50.00"))
    assert await engine.find_position("AAPL") is None
    with pytest.raises(PositionNotFound):
        await engine.get_position("AAPL")
    await engine.submit(market("AAPL", "buy", 3))
    found = await engine.find_position("aapl")
    assert found == await engine.get_position("AAPL")
    assert found is not None
    assert found.quantity == 3


async def test_closed_positions_and_portfolio_history_take_their_filters_as_keywords_with_defaults(
    engine: TradingEngine, exchange: PaperExchange, clock: TestClock
) -> None:
    exchange.set_price("AAPL", Decimal("50.00"))
    await engine.submit(market("AAPL", "buy", 10))
    exchange.set_price("AAPL", Decimal("51.00"))
    await engine.submit(market("AAPL", "sell", 10))

    closed = await engine.history.closed_positions()
    assert [c.realized_pnl for c in closed.positions] == [Decimal("10.00")]
    assert (await engine.history.closed_positions(symbol="aapl", limit=1)).positions == closed.positions
    assert (await engine.history.closed_positions(symbol="MSFT")).positions == []
    assert len(await engine.history.portfolio_history(timeframe="all")) == 2  # one snapshot a fill
    assert len(await engine.history.portfolio_history()) == 1  # the last of the five minutes


@pytest.mark.parametrize(
    ("since", "until", "error", "message"),
    [
        (datetime(2026, 3, 2, 14, 30), None, ValueError, "since must carry a time zone"),
        (None, "2026-03-02", TypeError, "until must be a datetime"),
    ],
)
async def test_a_time_that_names_no_instant_is_refused_by_every_listing(
    engine: TradingEngine, since: object, until: object, error: type[Exception], message: str
) -> None:
    listings = [
        lambda: engine.list_orders(status=OrderFilter.ALL, since=since, until=until),  # type: ignore[arg-type]
        lambda: engine.list_fills(since=since, until=until),  # type: ignore[arg-type]
        lambda: engine.history.closed_positions(since=since, until=until),  # type: ignore[arg-type]
        lambda: engine.history.portfolio_history(since=since, until=until),  # type: ignore[arg-type]
    ]
    for listing in listings:
        with pytest.raises(error, match=message):
            await listing()


@pytest.mark.parametrize(
    ("limit", "error", "message"),
    [
        (501, ValueError, "limit must be from 1 to 500, was 501"),
        (10_000, ValueError, "limit must be from 1 to 500"),
        (0, ValueError, "limit must be from 1 to 500, was 0"),
        (-1, ValueError, "limit must be from 1 to 500"),
        ("100", TypeError, "limit must be an int"),
        (True, TypeError, "limit must be an int"),
    ],
)
async def test_a_page_beyond_the_apis_bound_is_refused_by_every_listing(
    engine: TradingEngine, limit: object, error: type[Exception], message: str
) -> None:
    """The API caps `?limit=` at 500; the library's listings hold to the same bound."""
    listings = [
        lambda: engine.list_orders(status=OrderFilter.ALL, limit=limit),  # type: ignore[arg-type]
        lambda: engine.list_fills(limit=limit),  # type: ignore[arg-type]
        lambda: engine.history.closed_positions(limit=limit),  # type: ignore[arg-type]
    ]
    for listing in listings:
        with pytest.raises(error, match=message):
            await listing()


async def test_a_page_of_the_bound_is_listed(engine: TradingEngine, exchange: PaperExchange) -> None:
    exchange.set_price("AAPL", Decimal("50.00"))
    await engine.submit(market("AAPL", "buy", 1))

    page = await engine.list_orders(status=OrderFilter.ALL, limit=MAX_PAGE_SIZE)

    assert (len(page.orders), MAX_PAGE_SIZE) == (1, 500)


@pytest.mark.parametrize("day", ["2026-03-02", datetime(2026, 3, 2, tzinfo=UTC)])
async def test_realized_pnl_takes_a_date_and_nothing_else(engine: TradingEngine, day: object) -> None:
    with pytest.raises(TypeError, match="day must be a date"):
        await engine.realized_pnl(day=day)  # type: ignore[arg-type]
