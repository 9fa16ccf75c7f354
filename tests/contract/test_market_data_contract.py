"""The MarketData port's bars and snapshots: the same cases on the paper exchange and through the
Alpaca adapter against the simulator (real sockets), both serving the prices they trade at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.contract.conftest import Venue
from trading_core.bars import ONE_DAY, Timeframe, aggregate
from trading_core.errors import InvalidMarketDataRequest, UnknownSymbol
from trading_core.values import Symbol

AAPL = Symbol("AAPL")
PRICES = ["191.10", "189.55", "190.40"]


def _today_so_far() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return ONE_DAY.start_of(now), now + timedelta(minutes=1)


async def test_todays_bar_opens_at_the_listing_price_and_spans_every_price_traded(venue: Venue) -> None:
    """History starts with the exchange: its listing price (190.00) opens the day; each move is a trade."""
    for price in PRICES:
        venue.set_price("AAPL", price)
    start, end = _today_so_far()

    daily = await venue.broker.get_bars(AAPL, ONE_DAY, start, end)

    assert len(daily) == 1
    bar = daily[0]
    assert (bar.open, bar.close) == (Decimal("190.00"), Decimal("190.40"))
    assert (bar.high, bar.low) == (Decimal("191.10"), Decimal("189.55"))
    assert (bar.volume, bar.trade_count) == (Decimal(400), 4)
    assert bar.low <= bar.vwap <= bar.high


async def test_minute_and_hour_bars_add_up_to_the_daily_bar(venue: Venue) -> None:
    for price in PRICES:
        venue.set_price("AAPL", price)
    start, end = _today_so_far()

    minutes = await venue.broker.get_bars(AAPL, Timeframe.parse("1Min"), start, end)
    hours = await venue.broker.get_bars(AAPL, Timeframe.parse("1Hour"), start, end)
    (daily,) = await venue.broker.get_bars(AAPL, ONE_DAY, start, end)

    for finer in (minutes, hours):
        (summed,) = aggregate(finer, ONE_DAY)
        assert (summed.open, summed.high, summed.low, summed.close) == (daily.open, daily.high, daily.low, daily.close)
        assert (summed.volume, summed.trade_count) == (daily.volume, daily.trade_count)
        assert abs(summed.vwap - daily.vwap) <= Decimal("0.000001") * len(finer)
    assert [b.timestamp for b in minutes] == sorted(b.timestamp for b in minutes)


async def test_a_range_before_the_exchange_started_has_no_bars(venue: Venue) -> None:
    start, _ = _today_so_far()

    days_ago = start - timedelta(days=3), start - timedelta(days=2)

    bars = await venue.broker.get_bars(AAPL, Timeframe.parse("1Min"), *days_ago)

    assert bars == []


async def test_the_snapshot_shows_the_last_price_as_trade_quote_and_the_latest_bars(venue: Venue) -> None:
    for price in PRICES:
        venue.set_price("AAPL", price)

    found = await venue.broker.get_snapshots([AAPL, Symbol("MSFT"), Symbol("NOPE")])

    assert set(found) == {AAPL, Symbol("MSFT")}
    snap = found[AAPL]
    assert snap.latest_trade is not None
    assert snap.latest_quote is not None
    assert (snap.latest_trade.price, snap.latest_quote.bid, snap.latest_quote.ask) == (Decimal("190.40"),) * 3
    assert snap.minute_bar is not None
    assert snap.minute_bar.close == Decimal("190.40")
    assert snap.daily_bar is not None
    assert (snap.daily_bar.open, snap.daily_bar.close, snap.daily_bar.high) == (
        Decimal("190.00"),
        Decimal("190.40"),
        Decimal("191.10"),
    )
    assert snap.previous_daily_bar is None  # no day before the exchange's start
    msft = found[Symbol("MSFT")]
    assert msft.daily_bar is not None
    assert msft.daily_bar.close == Decimal("415.00")


async def test_an_unknown_symbol_has_no_bars_and_says_so(venue: Venue) -> None:
    start, end = _today_so_far()

    with pytest.raises(UnknownSymbol) as raised:
        await venue.broker.get_bars(Symbol("NOPE"), ONE_DAY, start, end)

    assert raised.value.code == "SYMBOL_NOT_FOUND"


async def test_a_range_that_ends_before_it_starts_is_refused_naming_end(venue: Venue) -> None:
    start, end = _today_so_far()

    with pytest.raises(InvalidMarketDataRequest) as raised:
        await venue.broker.get_bars(AAPL, ONE_DAY, end, start)

    assert (raised.value.code, raised.value.field) == ("INVALID_MARKET_DATA_REQUEST", "end")
