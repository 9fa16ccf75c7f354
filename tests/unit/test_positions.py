"""Position math: cost basis, realised P&L on reductions, flips through zero, marks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading_core.enums import PositionSide, Side
from trading_core.positions import Position, PositionChange, apply_fill
from trading_core.testing import positions, prices, quantities

from .builders import AAPL, NOW, position

ZERO = Decimal(0)

Trade = tuple[Side, Decimal, Decimal]
trades = st.tuples(st.sampled_from(list(Side)), quantities(500), prices(max_cents=50_000))
whole_trades = st.tuples(st.sampled_from(list(Side)), quantities(500, fractional=False), prices(max_cents=50_000))
trade_lists = st.lists(trades | whole_trades, min_size=1, max_size=25)


def trade(p: Position, side: str, quantity: str | int, price: str | int) -> PositionChange:
    return apply_fill(p, side=Side(side), quantity=Decimal(quantity), price=Decimal(price), at=NOW)


def run(*steps: tuple[str, str | int, str | int]) -> tuple[Position, Decimal]:
    """Apply (side, quantity, price) steps from flat; the position and the P&L they realised."""
    p, realized = Position.flat(AAPL), ZERO
    for side, qty, price in steps:
        change = trade(p, side, qty, price)
        p, realized = change.after, realized + change.realized_pnl
    return p, realized


def signed(side: Side, qty: Decimal) -> Decimal:
    return qty if side is Side.BUY else -qty


class TestOpeningAndAdding:
    def test_opening_from_flat_keeps_the_exact_cost(self) -> None:
        change = trade(Position.flat(AAPL), "buy", "2.5", "100.01")

        assert (Decimal("2.5"), Decimal("250.025"), ZERO) == (
            change.after.quantity,
            change.after.cost_basis,
            change.realized_pnl,
        )
        assert (change.opened, change.closed, change.flipped) == (True, False, False)
        assert (change.after.opened_at, change.after.updated_at) == (NOW, NOW)

    def test_adding_averages_the_entry_by_quantity(self) -> None:
        p, _ = run(("buy", 10, 100), ("buy", 30, 104))

        assert (Decimal(40), Decimal(4120), Decimal("103.0000")) == (p.quantity, p.cost_basis, p.average_entry_price)

    def test_a_short_has_negative_quantity_and_cost(self) -> None:
        p, _ = run(("sell", 10, 100), ("sell", 10, 90))

        assert (Decimal(-20), Decimal(-1900), Decimal("95.0000"), PositionSide.SHORT) == (
            p.quantity,
            p.cost_basis,
            p.average_entry_price,
            p.side,
        )

    def test_the_average_entry_is_rounded_half_to_even_for_display(self) -> None:
        p, _ = run(("buy", 2, "10.0001"), ("buy", 2, "10.0002"))

        assert (Decimal("40.0006"), Decimal("10.0002")) == (p.cost_basis, p.average_entry_price)

    def test_a_flat_position_reads_long_with_no_entry(self) -> None:
        flat = Position.flat(AAPL)

        assert (flat.side, flat.average_entry_price, flat.is_open) == (PositionSide.LONG, ZERO, False)


class TestReducing:
    def test_a_partial_close_of_a_long_realises_the_gain_on_the_part_sold(self) -> None:
        p, realized = run(("buy", 10, 100), ("sell", 4, 110))

        assert (Decimal(40), Decimal(6), Decimal(600), Decimal(40)) == (
            realized,
            p.quantity,
            p.cost_basis,
            p.realized_pnl,
        )

    def test_a_partial_cover_of_a_short_realises_the_gain_on_the_part_bought(self) -> None:
        p, realized = run(("sell", 10, 100), ("buy", 4, 90))

        assert (Decimal(40), Decimal(-6), Decimal(-600)) == (realized, p.quantity, p.cost_basis)

    def test_a_loss_is_negative(self) -> None:
        _, long_loss = run(("buy", 10, 100), ("sell", 10, 95))
        _, short_loss = run(("sell", 10, 100), ("buy", 10, 105))

        assert (Decimal(-50), Decimal(-50)) == (long_loss, short_loss)

    def test_closing_exactly_leaves_nothing_behind(self) -> None:
        p, realized = run(("buy", 3, "10.01"), ("buy", 4, "10.02"), ("sell", 7, "11"))

        assert (ZERO, ZERO, Decimal("6.89"), False) == (p.quantity, p.cost_basis, realized, p.is_open)

    def test_an_uneven_partial_close_keeps_the_rounding_in_the_cost_basis(self) -> None:
        """A third of 30.02 is not a finite decimal: what is not realised stays in the cost."""
        p, realized = run(("buy", 1, 10), ("buy", 2, "10.01"), ("sell", 1, 10))

        assert (Decimal("-0.00666667"), Decimal("20.01333333"), Decimal("10.0067")) == (
            realized,
            p.cost_basis,
            p.average_entry_price,
        )
        assert Decimal(10) - realized + p.cost_basis == Decimal("30.02")

    def test_realised_pnl_starts_again_when_a_position_reopens_from_flat(self) -> None:
        p, _ = run(("buy", 10, 100), ("sell", 10, 110), ("buy", 5, 50))

        assert (ZERO, Decimal(250)) == (p.realized_pnl, p.cost_basis)

    def test_reducing_keeps_when_the_position_opened(self) -> None:
        before = position(AAPL, 10, 100)

        after = trade(before, "sell", 4, 100).after

        assert before.opened_at == after.opened_at


class TestFlips:
    def test_selling_through_a_long_closes_it_and_opens_a_short_at_the_fill_price(self) -> None:
        before = position(AAPL, 10, 100)

        change = trade(before, "sell", 15, 110)

        assert change.closed_leg is not None
        assert (Decimal(100), ZERO, ZERO, Decimal(100)) == (
            change.realized_pnl,
            change.closed_leg.quantity,
            change.closed_leg.cost_basis,
            change.closed_leg.realized_pnl,
        )
        assert (Decimal(-5), Decimal(-550), Decimal("110.0000"), ZERO) == (
            change.after.quantity,
            change.after.cost_basis,
            change.after.average_entry_price,
            change.after.realized_pnl,
        )
        assert (change.flipped, change.opened, change.closed) == (True, False, False)

    def test_buying_through_a_short_opens_a_long(self) -> None:
        change = trade(position(AAPL, -10, 100), "buy", 12, 90)

        assert (Decimal(100), Decimal(2), Decimal(180), PositionSide.LONG) == (
            change.realized_pnl,
            change.after.quantity,
            change.after.cost_basis,
            change.after.side,
        )
        assert change.flipped


class TestMarks:
    @pytest.mark.parametrize(
        ("qty", "entry", "mark", "expected"),
        [
            (10, 100, "110", ("1100", "100", "10.0000")),
            (10, 100, "90", ("900", "-100", "-10.0000")),
            (-10, 100, "110", ("-1100", "-100", "-10.0000")),
            (-10, 100, "90", ("-900", "100", "10.0000")),
            (3, 7, "8", ("24", "3", "14.2857")),
        ],
    )
    def test_market_value_and_unrealised_pnl_at_a_mark(
        self, qty: int, entry: int, mark: str, expected: tuple[str, str, str]
    ) -> None:
        """Value and P&L are signed: a short loses as the price rises; the percent is of the cost."""
        p, at = position(AAPL, qty, entry), Decimal(mark)

        actual = (p.market_value(at), p.unrealized_pnl(at), p.unrealized_pnl_percent(at))

        assert tuple(map(Decimal, expected)) == actual

    def test_a_flat_position_has_no_unrealised_percent(self) -> None:
        assert Position.flat(AAPL).unrealized_pnl_percent(Decimal(10)) == ZERO


class TestProperties:
    @settings(max_examples=300, deadline=None)
    @given(trade_lists, prices())
    def test_pnl_is_conserved_exactly(self, fills: list[Trade], mark: Decimal) -> None:
        """Realised + unrealised P&L == signed cash flow + marked value, to the last digit."""
        p, realized, cash = Position.flat(AAPL), ZERO, ZERO
        for side, qty, price in fills:
            change = apply_fill(p, side=side, quantity=qty, price=price, at=NOW)
            p, realized, cash = change.after, realized + change.realized_pnl, cash - signed(side, qty) * price

        assert cash + p.market_value(mark) == realized + p.unrealized_pnl(mark)
        assert sum((signed(s, q) for s, q, _ in fills), ZERO) == p.quantity

    @settings(max_examples=300, deadline=None)
    @given(trade_lists)
    def test_the_average_entry_stays_within_the_opening_fills(self, fills: list[Trade]) -> None:
        """Within the lowest and highest price of the fills that opened or added since flat."""
        p: Position = Position.flat(AAPL)
        opening: list[Decimal] = []
        for side, qty, price in fills:
            change = apply_fill(p, side=side, quantity=qty, price=price, at=NOW)
            p = change.after
            if change.flipped or change.opened:
                opening = [price]
            elif abs(p.quantity) > abs(change.before.quantity):
                opening.append(price)
            if p.is_open:
                assert min(opening) <= p.average_entry_price <= max(opening)
            else:
                opening = []

    @settings(max_examples=200, deadline=None)
    @given(trade_lists)
    def test_the_position_realises_what_its_fills_realised_since_it_opened(self, fills: list[Trade]) -> None:
        p, since_open = Position.flat(AAPL), ZERO
        for side, qty, price in fills:
            change = apply_fill(p, side=side, quantity=qty, price=price, at=NOW)
            if change.flipped:
                assert change.closed_leg is not None
                assert since_open + change.realized_pnl == change.closed_leg.realized_pnl
                since_open = ZERO
            elif change.opened:
                since_open = ZERO
            else:
                since_open += change.realized_pnl
            p = change.after

            assert since_open == p.realized_pnl

    @settings(max_examples=200, deadline=None)
    @given(positions(AAPL), quantities(5_000), prices())
    def test_a_reduction_realises_against_the_cost_it_removes(self, p: Position, qty: Decimal, price: Decimal) -> None:
        """Only a fill against the position realises; the signed cost falls by what it realised against."""
        side = Side.SELL if p.quantity > 0 else Side.BUY

        change = apply_fill(p, side=side, quantity=qty, price=price, at=NOW)

        closing = min(qty, abs(p.quantity))
        proceeds = price * closing * (1 if p.quantity > 0 else -1)
        removed = proceeds - change.realized_pnl
        if change.flipped:
            assert p.cost_basis == removed
            assert change.after.quantity * price == change.after.cost_basis
        else:
            assert p.cost_basis - removed == change.after.cost_basis
            assert (change.after.quantity == 0) == (change.after.cost_basis == 0)

    @settings(max_examples=100, deadline=None)
    @given(positions(AAPL), quantities(5_000), prices())
    def test_adding_realises_nothing(self, p: Position, qty: Decimal, price: Decimal) -> None:
        side = Side.BUY if p.quantity > 0 else Side.SELL

        change = apply_fill(p, side=side, quantity=qty, price=price, at=NOW)

        assert (ZERO, p.realized_pnl, p.cost_basis + signed(side, qty) * price) == (
            change.realized_pnl,
            change.after.realized_pnl,
            change.after.cost_basis,
        )
