"""Exit groups and trailing stops over random price paths (Hypothesis), and their plain cases."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading_core.enums import OrderClass, OrderStatus, OrderType, Side
from trading_core.errors import InvalidOrder
from trading_core.order_classes import LegRole, leg_requests
from trading_core.orders import Order
from trading_core.protective import executable, exit_cap, exits, exits_to_cancel, legs_held, protecting
from trading_core.requests import OrderRequest
from trading_core.trailing import next_hwm, trail_stop_price, trailing_triggered
from trading_core.values import ClientOrderId, OrderId

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
D = Decimal


def built(request: OrderRequest, name: str) -> Order:
    return Order.from_request(request, order_id=OrderId(name), client_order_id=ClientOrderId(name), now=NOW)


def group(order_class: str, quantity: int = 10) -> tuple[Order, list[Order]]:
    kw: dict[str, Any] = {"take_profit": {"limit_price": "110"}, "stop_loss": {"stop_price": "95"}}
    if order_class == "oto":
        del kw["take_profit"]
    if order_class == "oco":
        r = OrderRequest.create(symbol="AAPL", side="sell", type="limit", quantity=quantity, order_class="oco", **kw)
    else:
        r = OrderRequest.create(
            symbol="AAPL", side="buy", type="limit", limit_price="100", quantity=quantity, order_class=order_class, **kw
        )
    parent = built(r, "parent")
    legs = [built(leg, role.value) for role, leg in leg_requests(r).items()]
    parent = attrs.evolve(parent, legs=tuple(leg.id for leg in legs))
    return parent, [attrs.evolve(leg, leg_of=parent.id) for leg in legs]


def fill(order: Order, quantity: Decimal) -> Order:
    filled = order.filled_quantity + quantity
    status = OrderStatus.FILLED if filled == order.quantity else OrderStatus.PARTIALLY_FILLED
    return attrs.evolve(order, filled_quantity=filled, status=status)


def cancel(order: Order) -> Order:
    return order if order.is_terminal else attrs.evolve(order, status=OrderStatus.CANCELED)


def triggers(order: Order, price: Decimal) -> bool:
    """Whether a sell exit trades at `price`: its limit reached from below, or its stop from above."""
    if order.type is OrderType.LIMIT:
        assert order.limit_price is not None
        return price >= order.limit_price
    assert order.stop_price is not None
    return price <= order.stop_price


class TestExitGroups:
    def test_a_brackets_legs_are_held_until_the_entry_fills_completely(self) -> None:
        """Alpaca: the exits "won't be active until the first order is completely filled"."""
        parent, legs = group("bracket")
        assert legs_held(parent)
        assert [executable(parent, legs, leg) for leg in legs] == [0, 0]
        parent = fill(parent, D(4))
        assert legs_held(parent)
        assert [executable(parent, legs, leg) for leg in legs] == [0, 0]
        parent = fill(parent, D(6))
        assert not legs_held(parent)
        assert exit_cap(parent) == 10
        assert [executable(parent, legs, leg) for leg in legs] == [10, 10]

    def test_a_partial_fill_of_one_exit_reduces_the_other(self) -> None:
        parent, (tp, sl) = group("bracket")
        parent = fill(parent, D(10))
        tp = fill(tp, D(3))
        assert executable(parent, [tp, sl], sl) == 7
        assert exits_to_cancel(parent, [tp, sl]) == []

    def test_one_exit_filled_cancels_the_other(self) -> None:
        parent, (tp, sl) = group("bracket")
        parent = fill(parent, D(10))
        sl = fill(sl, D(10))
        assert executable(parent, [tp, sl], tp) == 0
        assert exits_to_cancel(parent, [tp, sl]) == [tp]

    @pytest.mark.parametrize("ended", [OrderStatus.CANCELED, OrderStatus.EXPIRED])
    def test_an_entry_ended_part_filled_ends_its_legs_which_never_worked(self, ended: OrderStatus) -> None:
        """Alpaca: "if any one of the orders is canceled, any remaining open order in the group is canceled"."""
        parent, (tp, sl) = group("bracket")
        parent = attrs.evolve(fill(parent, D(4)), status=ended)
        assert [executable(parent, [tp, sl], leg) for leg in (tp, sl)] == [0, 0]
        assert exits_to_cancel(parent, [tp, sl]) == [tp, sl]

    def test_an_entry_ended_unfilled_ends_its_legs(self) -> None:
        parent, legs = group("oto")
        assert exits_to_cancel(cancel(parent), legs) == legs

    def test_an_ocos_order_is_one_of_its_two_exits(self) -> None:
        parent, legs = group("oco")
        pair = exits(parent, legs)
        assert [o.type for o in pair] == [OrderType.LIMIT, OrderType.STOP]
        assert not legs_held(parent)
        assert [executable(parent, pair, o) for o in pair] == [10, 10]
        pair[1] = fill(pair[1], D(10))
        assert exits_to_cancel(parent, pair) == [parent]


@st.composite
def price_paths(draw: st.DrawFn) -> list[Decimal]:
    cents = draw(st.lists(st.integers(8_500, 12_000), min_size=1, max_size=40))
    return [D(c) / 100 for c in cents]


@settings(max_examples=300, deadline=None)
@given(
    order_class=st.sampled_from(["bracket", "oco"]),
    path=price_paths(),
    fractions=st.lists(st.integers(1, 10), min_size=40, max_size=40),
)
def test_over_any_price_path_two_exits_never_both_fill_nor_exceed_the_entry(
    order_class: str, path: list[Decimal], fractions: list[int]
) -> None:
    """Each tick, the entry (a limit buy at 100) fills part of what is left when the price is at
    or below it; then each exit the price reaches fills part of what it may. The exits never
    fill more than the entry gave them, and never both completely."""
    parent, legs = group(order_class)
    for i, price in enumerate(path):
        share = D(fractions[i]) / 10
        if order_class != "oco" and not parent.is_terminal and price <= D(100):
            parent = fill(parent, max(D(1), (parent.remaining_quantity * share).to_integral_value()))
        pair = exits(parent, legs)
        for j, order in enumerate(pair):
            room = executable(parent, pair, order)
            if room and triggers(order, price):
                pair[j] = fill(order, max(D(1), (room * share).to_integral_value()))
        for ended in exits_to_cancel(parent, pair):
            pair[pair.index(ended)] = cancel(ended)
        if order_class == "oco":
            parent, legs = pair[0], pair[1:]
        else:
            legs = pair
        exit_fills = sum(o.filled_quantity for o in pair)
        assert exit_fills <= exit_cap(parent)
        assert not all(o.status is OrderStatus.FILLED for o in pair)


def first_trigger(side: Side, path: list[Decimal], trail: Decimal, *, percent: bool) -> int | None:
    """The spec's rule, by the prefix's extreme: the first tick that has come back by the trail."""
    for i, price in enumerate(path):
        extreme = max(path[: i + 1]) if side is Side.SELL else min(path[: i + 1])
        distance = extreme * trail / 100 if percent else trail
        if (extreme - price if side is Side.SELL else price - extreme) >= distance:
            return i
    return None


@settings(max_examples=300, deadline=None)
@given(
    side=st.sampled_from([Side.SELL, Side.BUY]),
    path=price_paths(),
    trail_cents=st.integers(1, 1_500),
    percent=st.booleans(),
)
def test_a_trailing_stop_triggers_exactly_when_the_price_retraces_by_the_trail(
    side: Side, path: list[Decimal], trail_cents: int, percent: bool
) -> None:
    trail = D(trail_cents) / 100
    kw = {"trail_percent": trail} if percent else {"trail_price": trail}
    hwm: Decimal | None = None
    triggered = None
    for i, price in enumerate(path):
        hwm = next_hwm(side, hwm, price)
        if trailing_triggered(
            side, hwm, price, trail_price=kw.get("trail_price"), trail_percent=kw.get("trail_percent")
        ):
            triggered = i
            break
    assert triggered == first_trigger(side, path, trail, percent=percent)


class TestTrailing:
    def test_the_mark_follows_the_price_up_for_a_sell_and_down_for_a_buy(self) -> None:
        assert next_hwm(Side.SELL, D(100), D(101)) == 101
        assert next_hwm(Side.SELL, D(100), D(99)) == 100
        assert next_hwm(Side.BUY, D(100), D(99)) == 99
        assert next_hwm(Side.BUY, None, D(99)) == 99

    def test_the_stop_is_derived_from_the_mark(self) -> None:
        assert trail_stop_price(Side.SELL, D(200), trail_price=D(5), trail_percent=None) == 195
        assert trail_stop_price(Side.SELL, D(200), trail_price=None, trail_percent=D("2.5")) == 195
        assert trail_stop_price(Side.BUY, D(200), trail_price=None, trail_percent=D(1)) == 202

    def test_exactly_one_trail(self) -> None:
        with pytest.raises(InvalidOrder) as e:
            trail_stop_price(Side.SELL, D(200), trail_price=None, trail_percent=None)
        assert e.value.field == "trail_price"


def test_leg_roles_name_alpacas_objects() -> None:
    assert [r.value for r in LegRole] == ["take_profit", "stop_loss"]
    assert OrderClass.OCO.value == "oco"


def test_the_orders_protecting_a_position_are_its_closing_sides_exits_and_stops() -> None:
    short_cover = built(OrderRequest.create(symbol="AAPL", side="buy", type="stop", stop_price="105", quantity=5), "s")
    target = built(OrderRequest.create(symbol="AAPL", side="buy", type="limit", limit_price="90", quantity=5), "t")
    adding = built(OrderRequest.create(symbol="AAPL", side="sell", type="stop", stop_price="95", quantity=5), "a")
    oco, legs = group("oco")
    assert protecting(D(-5), [short_cover, target, adding]) == [short_cover]
    assert protecting(D(10), [oco, *legs, target]) == [oco, *legs]
    assert protecting(D(0), [short_cover, oco]) == []
    assert protecting(D(-5), [attrs.evolve(short_cover, status=OrderStatus.CANCELED)]) == []
