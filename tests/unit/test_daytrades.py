"""The self-imposed day-trade budget: counting day trades from our own fills."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading_core.daytrades import DayTrades, business_days_back
from trading_core.enums import Side
from trading_core.positions import Position, apply_fill
from trading_core.testing import quantities
from trading_core.values import Symbol

from .builders import AAPL, MSFT, NOW

MON, TUE, WED, THU, FRI, SAT, SUN = (date(2026, 3, d) for d in range(2, 9))
NEXT_MON = date(2026, 3, 9)


class Book:
    """Positions and the day-trade record, advanced one fill at a time."""

    def __init__(self) -> None:
        self.positions: dict[Symbol, Position] = {}
        self.trades = DayTrades()

    def fill(self, day: date, symbol: Symbol, side: str, qty: int | str | Decimal) -> Book:
        held = self.positions.get(symbol, Position.flat(symbol))
        change = apply_fill(held, side=Side(side), quantity=Decimal(qty), price=Decimal(100), at=NOW)
        self.positions[symbol] = change.after
        self.trades = self.trades.record(symbol, change, day)
        return self


class TestBusinessDays:
    @pytest.mark.parametrize(
        ("today", "count", "expected"),
        [
            (FRI, 5, MON),
            (MON, 5, date(2026, 2, 24)),
            (WED, 5, date(2026, 2, 26)),
            (SAT, 5, MON),
            (SUN, 5, MON),
            (MON, 1, MON),
            (SAT, 1, FRI),
            (NEXT_MON, 5, TUE),
        ],
    )
    def test_the_window_starts_count_business_days_back(self, today: date, count: int, expected: date) -> None:
        assert expected == business_days_back(today, count)

    @given(st.dates(date(2020, 1, 1), date(2030, 1, 1)), st.integers(1, 10))
    def test_the_window_holds_exactly_count_business_days(self, today: date, count: int) -> None:
        start = business_days_back(today, count)

        days = [start + timedelta(n) for n in range((today - start).days + 1)]
        assert count == sum(1 for d in days if d.weekday() < 5)
        assert start.weekday() < 5


class TestRecord:
    def test_opening_and_reducing_the_same_day_is_a_day_trade(self) -> None:
        trades = Book().fill(MON, AAPL, "buy", 10).fill(MON, AAPL, "sell", 4).trades

        assert trades.dates == (MON,)

    def test_reducing_a_position_opened_yesterday_is_not(self) -> None:
        trades = Book().fill(MON, AAPL, "buy", 10).fill(TUE, AAPL, "sell", 10).trades

        assert trades.dates == ()

    def test_several_reductions_after_one_opening_count_once(self) -> None:
        trades = Book().fill(MON, AAPL, "buy", 10).fill(MON, AAPL, "sell", 4).fill(MON, AAPL, "sell", 6).trades

        assert trades.dates == (MON,)

    def test_a_round_trip_after_a_round_trip_counts_again(self) -> None:
        book = Book().fill(MON, AAPL, "buy", 10).fill(MON, AAPL, "sell", 10)

        trades = book.fill(MON, AAPL, "buy", 5).fill(MON, AAPL, "sell", 5).trades

        assert trades.dates == (MON, MON)

    def test_adding_to_an_overnight_position_and_selling_is_a_day_trade(self) -> None:
        trades = Book().fill(MON, AAPL, "buy", 10).fill(TUE, AAPL, "buy", 5).fill(TUE, AAPL, "sell", 3).trades

        assert trades.dates == (TUE,)

    def test_a_short_covered_the_same_day_is_a_day_trade(self) -> None:
        trades = Book().fill(WED, AAPL, "sell", 10).fill(WED, AAPL, "buy", 10).trades

        assert trades.dates == (WED,)

    def test_a_flip_closes_one_day_trade_and_opens_the_other_side(self) -> None:
        book = Book().fill(MON, AAPL, "buy", 10).fill(MON, AAPL, "sell", 15)

        assert (book.trades.dates, book.trades.would_day_trade(AAPL, MON)) == ((MON,), True)
        assert book.fill(MON, AAPL, "buy", 5).trades.dates == (MON, MON)

    def test_symbols_are_counted_apart(self) -> None:
        trades = Book().fill(MON, AAPL, "buy", 10).fill(MON, MSFT, "sell", 1).trades

        assert trades.dates == ()

    def test_what_opened_today_is_forgotten_tomorrow(self) -> None:
        trades = Book().fill(MON, AAPL, "buy", 10).trades

        assert (trades.would_day_trade(AAPL, MON), trades.would_day_trade(AAPL, TUE)) == (True, False)

    def test_a_fill_that_changes_nothing_returns_the_same_record(self) -> None:
        book = Book().fill(MON, AAPL, "buy", 10).fill(MON, AAPL, "sell", 1)
        before = book.trades

        assert before is book.fill(MON, AAPL, "sell", 1).trades


class TestCount:
    def test_counts_day_trades_in_the_last_five_business_days(self) -> None:
        trades = DayTrades.from_dates((date(2026, 2, 27), MON, WED, FRI))

        assert (trades.count(FRI), trades.count(WED), trades.count(NEXT_MON, window_days=10)) == (3, 3, 4)

    def test_old_day_trades_leave_the_window(self) -> None:
        trades = DayTrades.from_dates((MON, MON, MON))

        assert (trades.count(FRI), trades.count(SUN), trades.count(NEXT_MON)) == (3, 3, 0)

    @settings(max_examples=100, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.integers(0, 20), st.sampled_from([AAPL, MSFT]), st.sampled_from(["buy", "sell"]), quantities(50)
            ),
            max_size=30,
        ).map(sorted),
    )
    def test_never_more_day_trades_than_reducing_fills(self, fills: list[tuple[int, Symbol, str, Decimal]]) -> None:
        book = Book()
        reductions = 0
        for day, symbol, side, qty in fills:
            held = book.positions.get(symbol, Position.flat(symbol)).quantity
            reductions += bool(held) and (held > 0) != (side == "buy")
            book.fill(MON + timedelta(day), symbol, side, qty)

        dates = book.trades.dates
        assert len(dates) <= reductions
        assert list(dates) == sorted(dates)
