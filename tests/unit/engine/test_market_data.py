"""Strategy code reads bars and snapshots through the engine, whose arguments are checked before any request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from adapters.inprocess import start_paper_engine
from adapters.memory.store import InMemoryOrderStore
from adapters.paper import PaperExchange
from tests.contract.builders import payload_of
from trading_core.clock import TestClock
from trading_core.engine import TradingEngine
from trading_core.errors import BrokerError, InvalidMarketDataRequest, UnknownSymbol

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


async def test_bars_of_a_timeframe_by_name_up_to_now_and_a_snapshot() -> None:
    clock = TestClock(T0)
    engine, exchange = await start_paper_engine(clock=clock)
    for price in ("190.50", "191.25", "189.75"):
        clock.advance(timedelta(minutes=2))
        exchange.set_price("AAPL", Decimal(price))

    five = await engine.get_bars("AAPL", "5Min", T0)
    snapshot = await engine.get_snapshot("AAPL")

    assert [(b.timestamp, b.open, b.close) for b in five] == [
        (T0, Decimal("190.00"), Decimal("191.25")),
        (T0 + timedelta(minutes=5), Decimal("189.75"), Decimal("189.75")),
    ]
    assert snapshot.latest_trade is not None
    assert snapshot.latest_trade.price == Decimal("189.75")
    assert snapshot.daily_bar is not None
    assert (snapshot.daily_bar.high, snapshot.daily_bar.low) == (Decimal("191.25"), Decimal("189.75"))
    assert set(await engine.get_snapshots(["AAPL", "MSFT", "NOPE"])) == {"AAPL", "MSFT"}


@pytest.mark.parametrize(
    ("symbol", "timeframe", "start", "field"),
    [
        ("aapl!", "1Min", T0, "symbol"),
        ("AAPL", "1Fortnight", T0, "timeframe"),
        ("AAPL", "1Min", T0 + timedelta(days=1), "end"),
        ("AAPL", "1Min", T0.replace(tzinfo=None), "start"),
    ],
)
async def test_a_malformed_request_is_refused_naming_its_field(
    symbol: str, timeframe: str, start: datetime, field: str
) -> None:
    engine, _ = await start_paper_engine(clock=TestClock(T0))

    with pytest.raises(InvalidMarketDataRequest) as raised:
        await engine.get_bars(symbol, timeframe, start)

    assert (raised.value.code, raised.value.field) == ("INVALID_MARKET_DATA_REQUEST", field)


async def test_an_unlisted_symbol_is_unknown_for_bars_and_a_snapshot() -> None:
    engine, _ = await start_paper_engine(clock=TestClock(T0))

    with pytest.raises(UnknownSymbol):
        await engine.get_bars("NOPE", "1Day", T0)
    with pytest.raises(UnknownSymbol):
        await engine.get_snapshot("NOPE")


async def test_an_engine_without_market_data_says_so() -> None:
    clock = TestClock(T0)
    exchange = PaperExchange(clock)
    engine = TradingEngine(broker=exchange, store=InMemoryOrderStore(payload_of=payload_of), clock=clock)

    with pytest.raises(BrokerError, match="no market data"):
        await engine.get_bars("AAPL", "1Day", T0)


@pytest.mark.parametrize("start", ["2026-03-02T14:30:00Z", T0.date()])
async def test_a_start_that_is_no_datetime_is_refused_naming_it(start: object) -> None:
    engine, _ = await start_paper_engine(clock=TestClock(T0))

    with pytest.raises(InvalidMarketDataRequest, match="start must be a datetime") as raised:
        await engine.get_bars("AAPL", "1Day", start)  # type: ignore[arg-type]  # what a strategy might write

    assert raised.value.field == "start"


async def test_snapshots_of_one_symbol_given_as_a_string_are_refused_not_read_letter_by_letter() -> None:
    engine, _ = await start_paper_engine(clock=TestClock(T0))

    with pytest.raises(InvalidMarketDataRequest, match="a list of symbols") as raised:
        await engine.get_snapshots("AAPL")

    assert raised.value.field == "symbols"
