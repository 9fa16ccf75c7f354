"""The account book alone: the broker's rule for holds, the sums kept as positions and marks move, reads."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.paper import checks
from adapters.paper.instrument import Instrument
from adapters.paper.listings import Listing
from trading_core.account_book import AccountBook, AccountDrift, opening_quantity, reference_price
from trading_core.enums import Side
from trading_core.market import Account
from trading_core.positions import Position
from trading_core.testing.strategies import prices
from trading_core.values import OrderId, Symbol

AAPL, MSFT = Symbol("AAPL"), Symbol("MSFT")
D = Decimal


def _account(cash: str = "100000", equity: str = "100000", power: str = "200000", multiplier: int = 2) -> Account:
    return Account(
        account_id="acct",
        cash=D(cash),
        equity=D(equity),
        buying_power=D(power),
        last_equity=D("99000"),
        multiplier=D(multiplier),
    )


class Book:
    """Positions and marks as the engine's book holds them, with the account book over them."""

    def __init__(self) -> None:
        self.positions: dict[Symbol, Position] = {}
        self.marks: dict[Symbol, Decimal] = {}
        self.account = AccountBook(self.positions, self.marks)

    def hold(self, symbol: Symbol, quantity: str, mark: str) -> None:
        quantity_ = D(quantity)
        self.positions[symbol] = Position(symbol=symbol, quantity=quantity_, cost_basis=quantity_ * D(mark))
        self.marks[symbol] = D(mark)
        self.account.moved(symbol)

    def mark(self, symbol: Symbol, price: str) -> None:
        self.marks[symbol] = D(price)
        self.account.moved(symbol)


class TestTheBrokersRule:
    """The engine's model of the broker's holds is the paper exchange's own rule (the paper models Alpaca)."""

    @given(
        st.sampled_from(list(Side)),
        st.integers(1, 500),
        st.integers(-500, 500),
        st.integers(0, 500),
        st.integers(0, 300),
    )
    def test_the_opening_part_is_the_paper_exchanges(
        self, side: Side, quantity: int, held: int, same_side: int, released: int
    ) -> None:
        instrument = Instrument(Listing(symbol="AAPL", price=D(100)).to_asset(), D(100), datetime.now(UTC))
        instrument.position = Position(symbol=AAPL, quantity=D(held), cost_basis=D(held) * 100)
        if side is Side.BUY:
            instrument.open_buy = D(same_side + released)
        else:
            instrument.open_sell = D(same_side + released)

        theirs = checks.opening_quantity(
            instrument, side, D(quantity), can_short=True, reject_flips=False, released=D(released)
        )

        assert opening_quantity(side, D(quantity), D(held), D(same_side)) == theirs

    @given(st.sampled_from(list(Side)), st.none() | prices(), st.none() | prices(), prices())
    def test_the_reference_price_is_the_most_the_adding_part_could_cost(
        self, side: Side, limit: Decimal | None, stop: Decimal | None, mark: Decimal
    ) -> None:
        """One rule, which the paper exchange uses too: a buy's limit, else a stop above the mark,
        else the mark; a sale's limit when above the mark, else the mark."""
        if side is Side.BUY:
            expected = limit if limit is not None else stop if stop is not None and stop > mark else mark
        else:
            expected = limit if limit is not None and limit > mark else mark

        assert reference_price(side, limit, stop, mark) == expected

    def test_without_a_mark_an_order_is_valued_at_its_own_price(self) -> None:
        assert reference_price(Side.BUY, None, D(50), None) == D(50)
        assert reference_price(Side.SELL, D(70), None, None) == D(70)
        assert reference_price(Side.BUY, None, None, None) == 0


class TestReads:
    def test_a_read_is_taken_as_the_broker_shows_it_whatever_our_model_says(self) -> None:
        """The broker's figures differ from what our positions give (prices of its own): taken as they are."""
        book = Book()
        book.hold(AAPL, "100", "50.00")
        broker = _account(cash="95000", equity="100100", power="195200")

        book.account.take(broker)

        account = book.account.account()
        assert (account.cash, account.equity, account.buying_power) == (D(95000), D(100100), D(195200))
        assert (account.last_equity, account.account_id) == (D(99000), "acct")

    def test_our_changes_move_the_figures_on_from_the_read(self) -> None:
        book = Book()
        book.hold(AAPL, "100", "50.00")
        book.account.take(_account(cash="95000", equity="100100", power="195200"))

        book.mark(AAPL, "51.00")  # +100 of equity; twice that of buying power, less 100 more gross

        account = book.account.account()
        assert (account.equity, account.buying_power) == (D(100200), D(195300))

    def test_a_broker_that_shows_no_buying_power_is_taken_at_zero_not_below(self) -> None:
        book = Book()
        book.account.take(_account(power="0"))

        book.account.place(OrderId("o1"), D(1), D(10), D(1), acknowledged=True)

        assert book.account.account().buying_power == 0

    def test_differences_beyond_a_cent_are_told_figure_by_figure(self) -> None:
        book = Book()
        book.account.take(_account())

        drifts = book.account.differences(_account(cash="100000.01", equity="99999.98", power="200000"))

        assert drifts == [AccountDrift("equity", D(100000), D("99999.98"))]
        assert drifts[0].difference == D("-0.02")

    def test_a_read_without_the_balances_takes_the_last_equity_and_flags_only(self) -> None:
        book = Book()
        book.account.take(_account())
        moved = Account(
            account_id="acct",
            cash=D(1),
            equity=D(1),
            buying_power=D(1),
            last_equity=D(12345),
            multiplier=D(2),
            trading_blocked=True,
        )

        book.account.take(moved, balances=False)

        account = book.account.account()
        assert (account.cash, account.last_equity, account.trading_blocked) == (D(100000), D(12345), True)
        assert book.account.reads == 1


class TestValuation:
    @given(st.lists(st.tuples(st.sampled_from([AAPL, MSFT]), st.integers(-300, 300), prices(100, 20_000))))
    def test_the_sums_kept_as_positions_and_marks_move_are_those_of_a_full_valuation(
        self, moves: list[tuple[Symbol, int, Decimal]]
    ) -> None:
        """Longs, shorts, flips through zero and closes: market and gross value, and the unrealized
        P&L over the cost bases, stay exact."""
        book = Book()
        book.account.take(_account())
        for symbol, quantity, mark in moves:
            if quantity:
                book.hold(symbol, str(quantity), str(mark))
            else:
                book.positions.pop(symbol, None)
                book.mark(symbol, str(mark))
            book.account.account()  # valued now, or after several moves

        values = [p.quantity * book.marks[s] for s, p in book.positions.items()]
        cost = sum((p.cost_basis for p in book.positions.values()), D(0))
        unrealized = book.account.unrealized_pnl
        book.account.take(_account())  # a read values every position afresh

        assert book.account.market_value == sum(values, D(0))
        assert book.account.gross_value == sum((abs(v) for v in values), D(0))
        assert unrealized == sum(values, D(0)) - cost
        assert book.account.unrealized_pnl == unrealized

    def test_a_symbol_not_held_is_not_valued(self) -> None:
        book = Book()
        book.account.take(_account())

        book.mark(MSFT, "400.00")

        assert book.account.account().equity == D(100000)


class TestHolds:
    @pytest.fixture
    def book(self) -> Book:
        book = Book()
        book.account.take(_account())
        return book

    def test_an_order_holds_its_opening_part_of_what_is_unfilled(self, book: Book) -> None:
        book.account.place(OrderId("o1"), D(10), D(100), D(15), acknowledged=True)  # 15 to fill, 10 adding
        assert book.account.account().buying_power == D(199000)

        book.account.resize(OrderId("o1"), D(4))  # 11 filled: the reducing part first, then 1 adding
        assert book.account.account().buying_power == D(199600)

        book.account.release(OrderId("o1"))
        assert book.account.account().buying_power == D(200000)

    def test_placing_an_orders_hold_again_replaces_it(self, book: Book) -> None:
        book.account.place(OrderId("o1"), D(10), D(100), D(10), acknowledged=True)
        book.account.place(OrderId("o1"), D(10), D(100), D(10), acknowledged=True)

        assert book.account.account().buying_power == D(199000)

    def test_an_order_in_doubt_holds_apart_and_once_when_the_broker_shows_it(self, book: Book) -> None:
        book.account.place(OrderId("o1"), D(10), D(100), D(10), acknowledged=False)
        assert book.account.account().buying_power == D(199000)
        assert book.account.tracked_power == D(200000)  # what a read compares: the broker may not hold it

        read_meanwhile = book.account.acknowledge(OrderId("o1"))

        assert not read_meanwhile
        assert book.account.account().buying_power == book.account.tracked_power == D(199000)

    def test_acknowledging_after_a_read_says_the_read_may_have_counted_it(self, book: Book) -> None:
        book.account.place(OrderId("o1"), D(10), D(100), D(10), acknowledged=False)
        book.account.take(_account())

        assert book.account.acknowledge(OrderId("o1"))

    def test_a_superseded_order_holds_nothing_until_its_replacement_is_refused(self, book: Book) -> None:
        book.account.place(OrderId("old"), D(10), D(100), D(10), acknowledged=True)
        book.account.place(OrderId("new"), D(20), D(90), D(20), acknowledged=True)

        book.account.supersede(OrderId("old"), superseded=True)
        assert book.account.account().buying_power == D(198200)

        book.account.release(OrderId("new"))
        book.account.supersede(OrderId("old"), superseded=False)
        assert book.account.account().buying_power == D(199000)
