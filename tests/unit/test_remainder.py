"""What an entry with engine-attached exits leaves to protect, and the exits made for it."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest

from tests.unit.builders import order, request
from trading_core.enums import EngineProtection, OrderClass, OrderStatus, OrderType, Side
from trading_core.order_classes import StopLoss, TakeProfit, leg_requests
from trading_core.orders import Order
from trading_core.remainder import exits_request, left_unprotected, remainder_client_order_id

D = Decimal
BRACKET = request(
    type="limit",
    limit_price="100",
    order_class="bracket",
    take_profit={"limit_price": "110"},
    stop_loss={"stop_price": "95", "limit_price": "94.5"},
)


def entry(status: OrderStatus, filled: str, *, attached: bool = True) -> Order:
    made = order(BRACKET, status=status)
    protection = EngineProtection.EXITS_ATTACHED if attached else None
    return attrs.evolve(made, filled_quantity=D(filled), engine_protection=protection)


def legs_of(parent: Order) -> list[Order]:
    return [order(leg, order_id=role.value) for role, leg in leg_requests(BRACKET).items()]


class TestLeftUnprotected:
    @pytest.mark.parametrize("end", [OrderStatus.CANCELED, OrderStatus.EXPIRED])
    def test_all_an_entry_filled_when_it_ends_in_part(self, end: OrderStatus) -> None:
        before = entry(OrderStatus.PARTIALLY_FILLED, "4")

        assert left_unprotected(before, attrs.evolve(before, status=end)) == D(4)

    def test_nothing_when_it_fills_completely_its_legs_protect_it(self) -> None:
        before = entry(OrderStatus.PARTIALLY_FILLED, "4")

        assert left_unprotected(before, entry(OrderStatus.FILLED, "10")) == 0

    def test_what_a_late_fill_adds_after_the_end(self) -> None:
        before = entry(OrderStatus.CANCELED, "4")

        assert left_unprotected(before, entry(OrderStatus.CANCELED, "6")) == D(2)
        # A late fill that completes it leaves its status filled; its legs ended all the same.
        assert left_unprotected(entry(OrderStatus.CANCELED, "6"), entry(OrderStatus.FILLED, "10")) == D(4)

    def test_nothing_for_an_entry_whose_exits_were_the_users(self) -> None:
        before = entry(OrderStatus.PARTIALLY_FILLED, "4", attached=False)

        assert left_unprotected(before, attrs.evolve(before, status=OrderStatus.CANCELED)) == 0

    def test_nothing_for_an_unfilled_end(self) -> None:
        before = entry(OrderStatus.NEW, "0")

        assert left_unprotected(before, attrs.evolve(before, status=OrderStatus.CANCELED)) == 0


class TestExitsRequest:
    def test_a_brackets_two_exits_become_an_oco_at_their_prices(self) -> None:
        parent = entry(OrderStatus.CANCELED, "4")

        made = exits_request(parent, legs_of(parent), D(4))

        assert made is not None
        assert (made.order_class, made.side, made.type, made.quantity) == (
            OrderClass.OCO,
            Side.SELL,
            OrderType.LIMIT,
            D(4),
        )
        assert (made.take_profit, made.stop_loss) == (TakeProfit(D(110)), StopLoss(D(95), D("94.5")))
        assert made.client_order_id == remainder_client_order_id(parent, D(4))

    def test_a_stop_limit_stop_loss_alone_becomes_a_stop_limit(self) -> None:
        parent = entry(OrderStatus.CANCELED, "4")
        (_, stop) = legs_of(parent)

        made = exits_request(parent, [stop], D(4))

        assert made is not None
        assert (made.order_class, made.type, made.stop_price, made.limit_price) == (
            OrderClass.SIMPLE,
            OrderType.STOP_LIMIT,
            D(95),
            D("94.5"),
        )

    def test_a_take_profit_alone_becomes_a_limit(self) -> None:
        parent = entry(OrderStatus.CANCELED, "4")
        (take_profit, _) = legs_of(parent)

        made = exits_request(parent, [take_profit], D(4))

        assert made is not None
        assert (made.order_class, made.type, made.limit_price, made.stop_loss) == (
            OrderClass.SIMPLE,
            OrderType.LIMIT,
            D(110),
            None,
        )

    def test_none_without_a_leg_to_price_them_from(self) -> None:
        assert exits_request(entry(OrderStatus.CANCELED, "4"), [], D(4)) is None

    def test_a_late_fills_exits_have_an_id_of_their_own(self) -> None:
        first, later = entry(OrderStatus.CANCELED, "4"), entry(OrderStatus.CANCELED, "6")

        assert remainder_client_order_id(first, D(4)) != remainder_client_order_id(later, D(6))
