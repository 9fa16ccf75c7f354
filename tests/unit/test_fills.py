"""Fills applied to their order and to the position, with the events both announce."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading_core.enums import OrderStatus, Side
from trading_core.errors import InvalidTransition, Overfill
from trading_core.events import (
    OrderFilled,
    OrderPartiallyFilled,
    PositionClosed,
    PositionOpened,
    PositionUpdated,
)
from trading_core.fills import Fill, made_up_execution_id
from trading_core.lifecycle import Execution, execute, execute_reported, fill_order
from trading_core.orders import Order
from trading_core.positions import Position
from trading_core.requests import OrderRequest
from trading_core.testing import fills_for, order_requests, quantities
from trading_core.values import BrokerOrderId, ExecutionId

from .builders import AAPL, NOW, fill, order, position, request

S = OrderStatus
LATER = NOW + timedelta(minutes=1)


def filled(o: Order, *fills: Fill) -> Order:
    for f in fills:
        result = fill_order(o, f, now=LATER)
        assert result is not None
        o = result
    return o


class TestFillOrder:
    def test_a_partial_fill_leaves_the_order_working(self) -> None:
        o = order(status=S.NEW)

        actual = filled(o, fill(o, "4", "100"))

        assert (S.PARTIALLY_FILLED, Decimal(4), Decimal(6), None) == (
            actual.status,
            actual.filled_quantity,
            actual.remaining_quantity,
            actual.filled_at,
        )

    def test_the_last_fill_completes_the_order(self) -> None:
        o = order(status=S.NEW)
        last = fill(o, "6", "101", seconds=9)

        actual = filled(o, fill(o, "4", "100"), last)

        assert (S.FILLED, Decimal(10), last.timestamp, LATER) == (
            actual.status,
            actual.filled_quantity,
            actual.filled_at,
            actual.updated_at,
        )

    def test_the_average_price_is_weighted_by_quantity(self) -> None:
        o = order(status=S.NEW)

        actual = filled(o, fill(o, "1", "10"), fill(o, "2", "11.5"))

        assert (Decimal("33.0"), Decimal("11.0000")) == (actual.filled_notional, actual.average_fill_price)

    def test_the_average_price_is_kept_at_four_places(self) -> None:
        o = order(request(quantity="3"), status=S.NEW)

        actual = filled(o, fill(o, "1", "10"), fill(o, "1", "10"), fill(o, "1", "10.01"))

        assert Decimal("10.0033") == actual.average_fill_price

    @pytest.mark.parametrize("status", [S.PENDING_NEW, S.ACCEPTED, S.HELD, S.STOPPED, S.SUSPENDED])
    def test_a_partial_fill_before_the_order_is_working_makes_it_partially_filled(self, status: OrderStatus) -> None:
        o = order(status=status)

        assert filled(o, fill(o, "1")).status == S.PARTIALLY_FILLED

    @pytest.mark.parametrize("status", [S.PENDING_CANCEL, S.PENDING_REPLACE, S.DONE_FOR_DAY, S.CALCULATED])
    def test_a_partial_fill_keeps_a_pending_or_closing_status(self, status: OrderStatus) -> None:
        o = order(status=status)

        assert status == filled(o, fill(o, "1")).status

    @pytest.mark.parametrize("status", [S.CANCELED, S.EXPIRED, S.REPLACED])
    def test_fill_after_cancel_is_applied(self, status: OrderStatus) -> None:
        """The shares changed hands: the fill counts, and the order stays where it ended."""
        o = order(status=status)

        actual = filled(o, fill(o, "3"))

        assert (status, Decimal(3)) == (actual.status, actual.filled_quantity)

    @pytest.mark.parametrize("status", [S.CANCELED, S.EXPIRED, S.REPLACED])
    def test_a_late_fill_that_completes_the_order_makes_it_filled(self, status: OrderStatus) -> None:
        o = filled(order(status=S.NEW), fill(order(), "4", execution_id="first"))
        o = attrs.evolve(o, status=status)

        actual = filled(o, fill(o, "6", execution_id="last"))

        assert actual.status == S.FILLED

    def test_a_fill_with_a_seen_execution_id_is_a_duplicate(self) -> None:
        o = order(status=S.NEW)
        once = filled(o, fill(o, "4", execution_id="x-1"))

        actual = fill_order(once, fill(once, "4", execution_id="x-1"), now=LATER)

        assert actual is None

    def test_a_duplicate_on_a_filled_order_is_still_a_no_op(self) -> None:
        o = order(status=S.NEW)
        done = filled(o, fill(o, "10", execution_id="x-1"))

        assert fill_order(done, fill(done, "10", execution_id="x-1"), now=LATER) is None

    def test_a_made_up_fill_already_counted_is_a_duplicate(self) -> None:
        """A poll makes a fill up from the broker's cumulative quantity; ours shows we have it."""
        o = filled(order(status=S.NEW), fill(order(), "4", execution_id="stream-1"))
        made_up = made_up_execution_id(BrokerOrderId("b-1"), Decimal(4))

        actual = fill_order(o, fill(o, "4", execution_id=made_up), cumulative_quantity=Decimal(4), now=LATER)

        assert actual is None

    def test_an_execution_a_made_up_fill_stands_for_is_a_duplicate(self) -> None:
        made_up = made_up_execution_id(BrokerOrderId("b-1"), Decimal(6))
        o = filled(order(status=S.NEW), fill(order(), "6", execution_id=made_up))

        actual = fill_order(o, fill(o, "2", execution_id="stream-1"), cumulative_quantity=Decimal(2), now=LATER)

        assert actual is None

    def test_an_earlier_execution_applied_after_a_later_one_counts_under_its_own_id(self) -> None:
        """The stream's inbox has two readers: the later execution can be applied first."""
        o = filled(order(status=S.NEW), fill(order(), "3", execution_id="stream-2"))

        actual = fill_order(o, fill(o, "2", execution_id="stream-1"), cumulative_quantity=Decimal(2), now=LATER)

        assert actual is not None
        assert (actual.filled_quantity, actual.execution_ids) == (Decimal(5), frozenset({"stream-1", "stream-2"}))

    def test_a_fill_with_a_new_cumulative_quantity_counts(self) -> None:
        o = filled(order(status=S.NEW), fill(order(), "4", execution_id="stream-1"))

        actual = fill_order(o, fill(o, "2", execution_id="stream-2"), cumulative_quantity=Decimal(6), now=LATER)

        assert actual is not None
        assert Decimal(6) == actual.filled_quantity

    def test_a_fill_beyond_the_quantity_is_refused(self) -> None:
        o = filled(order(status=S.NEW), fill(order(), "9"))

        with pytest.raises(Overfill) as e:
            fill_order(o, fill(o, "1.0001", execution_id="x-over"), now=LATER)

        assert {"orderId": o.id, "executionId": ExecutionId("x-over")} == e.value.details

    def test_any_new_fill_on_a_filled_order_is_an_overfill(self) -> None:
        o = filled(order(status=S.NEW), fill(order(), "10"))

        with pytest.raises(Overfill):
            fill_order(o, fill(o, "0.0001", execution_id="x-late"), now=LATER)

    @pytest.mark.parametrize("quantity", ["0", "-3"])
    def test_a_fill_of_no_or_negative_quantity_is_refused(self, quantity: str) -> None:
        """The filled quantity never goes down, whatever the broker sends."""
        o = filled(order(status=S.NEW), fill(order(), "4"))

        with pytest.raises(InvalidTransition, match="positive quantity"):
            fill_order(o, fill(o, quantity), now=LATER)

    def test_a_fill_on_a_rejected_order_is_refused(self) -> None:
        o = order(status=S.REJECTED)

        with pytest.raises(InvalidTransition, match="rejected -> fill"):
            fill_order(o, fill(o, "1"), now=LATER)

    @settings(max_examples=50, deadline=None)
    @given(data=st.data(), req=order_requests(quantity=quantities(1_000)))
    def test_fills_count_the_same_in_any_order(self, data: st.DataObject, req: OrderRequest) -> None:
        """Out-of-order delivery changes nothing: quantity, notional and completion agree."""
        o = order(req, status=S.NEW)
        fills = data.draw(fills_for(o))
        shuffled = data.draw(st.permutations(fills))

        a, b = filled(o, *fills), filled(o, *shuffled)

        assert (a.filled_quantity, a.filled_notional, a.status) == (b.filled_quantity, b.filled_notional, b.status)
        assert a.filled_quantity <= a.quantity
        assert (a.status is S.FILLED) == (a.filled_quantity == a.quantity)


class TestExecute:
    def test_an_opening_fill_announces_the_fill_and_a_new_position(self) -> None:
        o = order(status=S.NEW)

        execution = execute(o, Position.flat(AAPL), fill(o, "4", "100"), now=LATER)

        assert execution is not None
        assert [OrderPartiallyFilled, PositionOpened] == [type(e) for e in execution.events]
        assert (Decimal(4), Decimal(400)) == (execution.position.after.quantity, execution.position.after.cost_basis)
        assert execution.order.status == S.PARTIALLY_FILLED

    def test_adding_to_a_position_announces_an_update(self) -> None:
        o = order(status=S.NEW)

        execution = execute(o, position(AAPL, 5, 90), fill(o, "10", "100"), now=LATER)

        assert execution is not None
        assert [OrderFilled, PositionUpdated] == [type(e) for e in execution.events]

    def test_a_closing_fill_announces_the_close_with_its_pnl(self) -> None:
        o = order(request(side="sell"), status=S.NEW)

        execution = execute(o, position(AAPL, 10, 90), fill(o, "10", "100"), now=LATER)

        assert execution is not None
        assert [OrderFilled, PositionClosed] == [type(e) for e in execution.events]
        closed = execution.events[1]
        assert isinstance(closed, PositionClosed)
        assert (Decimal(100), Decimal(0)) == (closed.realized_pnl, closed.position.quantity)
        order_event = execution.events[0]
        assert isinstance(order_event, OrderFilled)
        assert Decimal(100) == order_event.realized_pnl

    def test_a_flip_announces_the_old_side_closed_and_the_new_one_opened(self) -> None:
        o = order(request(side="sell", quantity="15"), status=S.NEW)

        execution = execute(o, position(AAPL, 10, 90), fill(o, "15", "100"), now=LATER)

        assert execution is not None
        assert [OrderFilled, PositionClosed, PositionOpened] == [type(e) for e in execution.events]
        closed, opened = execution.events[1], execution.events[2]
        assert isinstance(closed, PositionClosed)
        assert isinstance(opened, PositionOpened)
        assert (Decimal(0), Decimal(100)) == (closed.position.quantity, closed.realized_pnl)
        assert (Decimal(-5), Decimal(-500)) == (opened.position.quantity, opened.position.cost_basis)

    def test_events_carry_venue_and_our_time_and_distinct_ids(self) -> None:
        o = order(status=S.NEW)
        f = fill(o, "4", seconds=3)

        execution = execute(o, Position.flat(AAPL), f, now=LATER)

        assert execution is not None
        assert {(f.timestamp, LATER)} == {(e.ts_event, e.ts_init) for e in execution.events}
        assert len({e.event_id for e in execution.events}) == len(execution.events)

    def test_a_duplicate_fill_changes_nothing(self) -> None:
        o = filled(order(status=S.NEW), fill(order(), "4", execution_id="x-1"))

        assert execute(o, position(AAPL, 4, 100), fill(o, "4", execution_id="x-1"), now=LATER) is None

    def test_a_sell_fill_moves_the_position_down(self) -> None:
        o = order(request(side="sell", quantity="3"), status=S.NEW)

        execution = execute(o, Position.flat(AAPL), fill(o, "3", "50"), now=LATER)

        assert execution is not None
        assert (Side.SELL, Decimal(-3), Decimal(-150)) == (
            o.side,
            execution.position.after.quantity,
            execution.position.after.cost_basis,
        )


def reported(o: Order, held: Position, f: Fill, cumulative: Decimal | None = None) -> Execution | None:
    """`execute_reported` given the terms of `f`."""
    return execute_reported(
        o,
        held,
        execution_id=f.execution_id,
        quantity=f.quantity,
        price=f.price,
        at=f.timestamp,
        cumulative_quantity=cumulative,
        now=LATER,
    )


class TestExecuteReported:
    @pytest.mark.parametrize(
        ("side", "quantity", "held"),
        [
            ("buy", "4", 0),
            ("buy", "10", 5),
            ("sell", "10", 10),
            ("sell", "15", 10),
            ("sell", "4", 10),
            ("buy", "3", -3),
        ],
    )
    def test_it_does_what_execute_does(self, side: str, quantity: str, held: int) -> None:
        o = order(request(side=side, quantity=quantity), status=S.NEW)
        at = position(AAPL, held, 90) if held else Position.flat(AAPL)
        f = fill(o, quantity, "100")

        expected, actual = execute(o, at, f, now=LATER), reported(o, at, f)

        assert expected is not None
        assert actual is not None
        assert (expected.order, expected.position, expected.fill) == (actual.order, actual.position, actual.fill)
        assert [(type(e), e.ts_event) for e in expected.events] == [(type(e), e.ts_event) for e in actual.events]

    def test_a_duplicate_changes_nothing(self) -> None:
        f = fill(order(), "4", execution_id="x-1")
        o = filled(order(status=S.NEW), f)

        assert reported(o, position(AAPL, 4, 100), f) is None
        made_up = attrs.evolve(f, execution_id=made_up_execution_id(BrokerOrderId("b-1"), Decimal(4)))
        assert reported(o, position(AAPL, 4, 100), made_up, Decimal(4)) is None

    def test_an_overfill_is_refused(self) -> None:
        o = order(status=S.NEW)

        with pytest.raises(Overfill):
            reported(o, Position.flat(AAPL), fill(o, "11"))


class TestFillBelongsToItsOrder:
    def test_a_fill_of_another_order_is_refused(self) -> None:
        mine = order(order_id="mine")
        theirs = order(order_id="theirs")

        with pytest.raises(InvalidTransition, match="not an execution of order mine"):
            fill_order(mine, fill(theirs, "1"), now=NOW)

    def test_a_fill_on_the_wrong_side_is_refused(self) -> None:
        buy = order()
        sell_fill = attrs.evolve(fill(buy, "1"), side=Side.SELL)

        with pytest.raises(InvalidTransition):
            fill_order(buy, sell_fill, now=NOW)
