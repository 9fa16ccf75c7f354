"""Bars, timeframes and snapshots: the values, their checks, and the paper exchange's tape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.paper import PaperConfig, PaperExchange
from adapters.paper.tape import Tape
from trading_core.bars import ONE_DAY, ONE_MINUTE, Bar, Timeframe, TimeframeUnit, aggregate, check_range
from trading_core.clock import TestClock
from trading_core.errors import InvalidMarketDataRequest, UnknownSymbol
from trading_core.values import Symbol

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # 9:30 in New York (EST)
AAPL = Symbol("AAPL")


def bar(at: datetime, o: str, h: str, low: str, c: str, *, volume: int = 100) -> Bar:
    return Bar(
        timestamp=at,
        open=Decimal(o),
        high=Decimal(h),
        low=Decimal(low),
        close=Decimal(c),
        volume=Decimal(volume),
        trade_count=1,
        vwap=Decimal(c),
    )


class TestTimeframe:
    @pytest.mark.parametrize(
        ("text", "amount", "unit"),
        [
            ("1Min", 1, TimeframeUnit.MINUTE),
            ("15Min", 15, TimeframeUnit.MINUTE),
            ("5T", 5, TimeframeUnit.MINUTE),
            ("1Hour", 1, TimeframeUnit.HOUR),
            ("4H", 4, TimeframeUnit.HOUR),
            ("1Day", 1, TimeframeUnit.DAY),
            ("1Week", 1, TimeframeUnit.WEEK),
            ("3Month", 3, TimeframeUnit.MONTH),
            ("12M", 12, TimeframeUnit.MONTH),
        ],
    )
    def test_reads_alpacas_spellings(self, text: str, amount: int, unit: TimeframeUnit) -> None:
        parsed = Timeframe.parse(text)

        assert (parsed.amount, parsed.unit) == (amount, unit)
        assert Timeframe.parse(str(parsed)) == parsed

    @pytest.mark.parametrize(
        "text", ["", "Min", "1Second", "60Min", "24Hour", "2Day", "2Week", "5Month", "24Month", "0Min", "x"]
    )
    def test_refuses_what_alpaca_does_not_know_naming_the_timeframe(self, text: str) -> None:
        with pytest.raises(InvalidMarketDataRequest) as raised:
            Timeframe.parse(text)

        assert (raised.value.code, raised.value.field) == ("INVALID_MARKET_DATA_REQUEST", "timeframe")

    def test_minute_and_hour_bars_start_at_whole_multiples_of_their_length(self) -> None:
        moment = datetime(2026, 3, 2, 14, 47, 31, tzinfo=UTC)

        assert Timeframe.parse("5Min").start_of(moment) == datetime(2026, 3, 2, 14, 45, tzinfo=UTC)
        assert Timeframe.parse("1Hour").start_of(moment) == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)

    def test_days_start_at_new_york_midnight_in_winter_and_summer(self) -> None:
        assert ONE_DAY.start_of(datetime(2026, 1, 6, 3, 0, tzinfo=UTC)) == datetime(2026, 1, 5, 5, 0, tzinfo=UTC)
        assert ONE_DAY.start_of(datetime(2026, 7, 6, 3, 59, tzinfo=UTC)) == datetime(2026, 7, 5, 4, 0, tzinfo=UTC)

    def test_weeks_start_on_monday_and_months_of_three_on_quarters(self) -> None:
        thursday = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)

        assert Timeframe.parse("1Week").start_of(thursday) == datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
        assert Timeframe.parse("3Month").start_of(datetime(2026, 5, 20, tzinfo=UTC)) == datetime(
            2026, 4, 1, 4, 0, tzinfo=UTC
        )


class TestBar:
    @pytest.mark.parametrize(
        ("o", "h", "low", "c"),
        [("10", "9", "8", "9"), ("10", "11", "10.5", "11"), ("10", "11", "9", "12"), ("10", "9", "11", "10")],
    )
    def test_prices_out_of_order_are_refused(self, o: str, h: str, low: str, c: str) -> None:
        with pytest.raises(ValueError, match="low <= open, close <= high"):
            bar(T0, o, h, low, c)

    def test_aggregate_takes_the_first_open_the_last_close_the_extremes_and_weights_the_vwap(self) -> None:
        minutes = [
            bar(T0, "10", "12", "9", "11", volume=100),
            bar(T0 + timedelta(minutes=1), "11", "13", "10", "10", volume=300),
            bar(T0 + timedelta(minutes=5), "10", "10", "8", "9"),
        ]

        five = aggregate(minutes, Timeframe.parse("5Min"))

        assert [b.timestamp for b in five] == [T0, T0 + timedelta(minutes=5)]
        first = five[0]
        assert (first.open, first.high, first.low, first.close) == (10, 13, 9, 10)
        assert (first.volume, first.trade_count, first.vwap) == (400, 2, Decimal("10.250000"))


class TestRange:
    def test_an_end_before_the_start_is_refused_naming_end(self) -> None:
        with pytest.raises(InvalidMarketDataRequest) as raised:
            check_range(T0, T0 - timedelta(seconds=1))

        assert raised.value.field == "end"

    def test_a_naive_instant_is_refused_naming_it(self) -> None:
        with pytest.raises(InvalidMarketDataRequest) as raised:
            check_range(T0.replace(tzinfo=None), T0)

        assert raised.value.field == "start"


_moves = st.lists(
    st.tuples(st.integers(min_value=0, max_value=400), st.integers(min_value=1, max_value=100_000)),
    min_size=1,
    max_size=80,
)
"""Price moves: seconds since the previous one, and the price in cents."""


def _taped(moves: list[tuple[int, int]]) -> tuple[Tape, list[tuple[datetime, Decimal]]]:
    tape = Tape(None)
    at, trades = T0, []
    for gap, cents in moves:
        at += timedelta(seconds=gap)
        price = Decimal(cents).scaleb(-2)
        tape.record(AAPL, price, at)
        trades.append((at, price))
    return tape, trades


def _ohlcv(b: Bar) -> tuple[datetime, Decimal, Decimal, Decimal, Decimal, Decimal]:
    return b.timestamp, b.open, b.high, b.low, b.close, b.volume


class TestTape:
    @given(moves=_moves, timeframe=st.sampled_from(["1Min", "3Min", "1Hour", "1Day", "1Week"]))
    def test_bars_hold_every_trade_once_with_their_prices_in_order(
        self, moves: list[tuple[int, int]], timeframe: str
    ) -> None:
        tape, trades = _taped(moves)
        frame = Timeframe.parse(timeframe)

        bars = tape.bars(AAPL, frame, T0 - timedelta(days=8), trades[-1][0])

        assert sum(b.trade_count for b in bars) == len(trades)
        assert sum(b.volume for b in bars) == 100 * len(trades)
        for b in bars:
            inside = [p for at, p in trades if frame.start_of(at) == b.timestamp]
            assert (b.open, b.close, b.high, b.low) == (inside[0], inside[-1], max(inside), min(inside))
            assert b.low <= b.vwap <= b.high

    @given(moves=_moves)
    @settings(max_examples=50)
    def test_coarse_bars_are_the_fine_ones_aggregated(self, moves: list[tuple[int, int]]) -> None:
        tape, trades = _taped(moves)
        span = (T0 - timedelta(days=8), trades[-1][0])
        minutes = tape.bars(AAPL, ONE_MINUTE, *span)

        for coarse in ("5Min", "1Hour", "1Day"):
            frame = Timeframe.parse(coarse)
            expected = [_ohlcv(b) for b in tape.bars(AAPL, frame, *span)]
            assert [_ohlcv(b) for b in aggregate(minutes, frame)] == expected

    def test_a_range_gets_the_bars_that_start_in_it_both_ends_included(self) -> None:
        tape, _ = _taped([(0, 100), (60, 101), (60, 102), (60, 103)])

        bars = tape.bars(AAPL, ONE_MINUTE, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2))

        assert [b.close for b in bars] == [Decimal("1.01"), Decimal("1.02")]


def _walked(seed: int, *, kept: int | None = 3 * 24 * 60) -> PaperExchange:
    clock = TestClock(T0)
    exchange = PaperExchange(clock, config=PaperConfig(seed=seed, minute_bars_kept=kept))
    for _ in range(90):
        clock.advance(timedelta(seconds=20))
        exchange.step_prices()
    return exchange


class TestPaperExchange:
    async def test_bars_are_the_same_for_the_same_seed_and_clock(self) -> None:
        span = (T0, T0 + timedelta(hours=1))
        first, again, other = _walked(3), _walked(3), _walked(4)

        bars = await first.get_bars(AAPL, ONE_MINUTE, *span)

        assert bars == await again.get_bars(AAPL, ONE_MINUTE, *span)
        assert bars != await other.get_bars(AAPL, ONE_MINUTE, *span)
        assert len(bars) == 31  # the listing price's minute, then three moves a minute for 30 minutes
        assert bars[-1].close == first.price("AAPL")

    async def test_old_minute_bars_are_forgotten_and_the_daily_bar_keeps_every_trade(self) -> None:
        exchange = _walked(3, kept=5)
        span = (ONE_DAY.start_of(T0), T0 + timedelta(hours=1))

        minutes = await exchange.get_bars(AAPL, ONE_MINUTE, *span)
        (daily,) = await exchange.get_bars(AAPL, ONE_DAY, *span)

        # five finished minutes kept (a sixth until the next trim), and the open one
        assert 6 <= len(minutes) <= 7
        assert [b.timestamp for b in minutes] == [
            T0 + timedelta(minutes=31 - len(minutes) + m) for m in range(len(minutes))
        ]
        assert daily.trade_count == 91

    async def test_an_unlisted_symbol_is_unknown_and_left_out_of_snapshots(self) -> None:
        exchange = _walked(3)

        with pytest.raises(UnknownSymbol):
            await exchange.get_bars(Symbol("NOPE"), ONE_DAY, T0, T0)
        assert await exchange.get_snapshots([Symbol("NOPE")]) == {}


def _with_history(days: int, *, seed: int = 0, at: datetime = T0, kept: int | None = 2880) -> PaperExchange:
    return PaperExchange(TestClock(at), config=PaperConfig(history_days=days, seed=seed, minute_bars_kept=kept))


class TestMadeUpHistory:
    async def test_sessions_before_the_start_day_end_at_the_listing_price(self) -> None:
        exchange = _with_history(5)

        days = await exchange.get_bars(AAPL, ONE_DAY, T0 - timedelta(days=30), T0)

        assert [d.timestamp.date().isoformat() for d in days] == [
            *("2026-02-23", "2026-02-24", "2026-02-25", "2026-02-26", "2026-02-27"),
            "2026-03-02",  # the start day: the exchange's own trades
        ]
        assert days[-2].close == days[-1].open == Decimal("190.00")
        assert all(d.trade_count == 390 * 4 and d.volume == 390 * 400 for d in days[:-1])

    async def test_the_calendars_holidays_and_weekends_are_left_out(self) -> None:
        wednesday = datetime(2026, 2, 18, 15, 0, tzinfo=UTC)
        exchange = _with_history(3, at=wednesday)

        days = await exchange.get_bars(AAPL, ONE_DAY, wednesday - timedelta(days=30), wednesday)

        # Presidents' Day (Monday 16 February) and the weekend before it had no session
        assert [d.timestamp.date().isoformat() for d in days] == [
            "2026-02-12",
            "2026-02-13",
            "2026-02-17",
            "2026-02-18",
        ]

    async def test_the_same_seed_makes_the_same_history_and_another_seed_another(self) -> None:
        span = (T0 - timedelta(days=10), T0)

        first = await _with_history(3, seed=1).get_bars(AAPL, ONE_MINUTE, *span)

        assert first == await _with_history(3, seed=1).get_bars(AAPL, ONE_MINUTE, *span)
        assert first != await _with_history(3, seed=2).get_bars(AAPL, ONE_MINUTE, *span)
        assert len(first) == 3 * 390 + 1

    async def test_made_up_minutes_add_up_to_the_made_up_days_and_the_snapshot_has_the_day_before(self) -> None:
        exchange = _with_history(2)
        span = (T0 - timedelta(days=10), T0)

        minutes = await exchange.get_bars(AAPL, ONE_MINUTE, *span)
        days = await exchange.get_bars(AAPL, ONE_DAY, *span)
        snapshot = (await exchange.get_snapshots([AAPL]))[AAPL]

        assert [_ohlcv(b) for b in aggregate(minutes, ONE_DAY)] == [_ohlcv(b) for b in days]
        assert snapshot.previous_daily_bar == days[-2]

    async def test_made_up_minutes_are_kept_as_the_exchanges_own_are_and_days_all(self) -> None:
        exchange = _with_history(3, kept=100)
        span = (T0 - timedelta(days=10), T0)

        minutes = await exchange.get_bars(AAPL, ONE_MINUTE, *span)
        days = await exchange.get_bars(AAPL, ONE_DAY, *span)

        assert 100 <= len(minutes) - 1 <= 106  # the made-up ones kept, and the exchange's first
        assert len(days) == 4
