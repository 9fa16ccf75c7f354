"""`build_orders`: the orders of a request that passed its checks. A flip's two halves, built from the
request itself, are the orders `split_at_flat`'s two requests make."""

from __future__ import annotations

from decimal import Decimal

import attrs
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.builders import NOW
from trading_core.engine.submission import build_order, build_orders
from trading_core.orders import Order
from trading_core.requests import OrderRequest, split_at_flat
from trading_core.testing import order_requests, quantities
from trading_core.values import ClientOrderId, OrderId


def _ids_aside(order: Order, request: OrderRequest) -> Order:
    """`order` without the ids made for it: its id, and its client order id unless the caller gave one."""
    given_id = order.client_order_id if request.client_order_id is not None else ClientOrderId("new")
    return attrs.evolve(order, id=OrderId("new"), client_order_id=given_id)


@given(
    order_requests(),
    quantities(2_000).map(Decimal) | st.just(Decimal(0)),
    st.sampled_from([1, -1]),
    st.sampled_from([None, ClientOrderId("mine")]),
)
def test_the_orders_are_those_of_the_split_requests(
    request: OrderRequest, held_abs: Decimal, sign: int, client_order_id: ClientOrderId | None
) -> None:
    request = attrs.evolve(request, client_order_id=client_order_id)
    held = held_abs * sign

    order, legs, follow_up = build_orders(request, NOW, held, exits_attached=False)

    closing, opening = split_at_flat(request, held)
    assert legs == []
    assert _ids_aside(order, request) == _ids_aside(build_order(closing, NOW), request)
    if opening is None:
        assert follow_up is None
    else:
        assert follow_up is not None
        expected = build_order(opening, NOW, parent_id=order.id)
        assert _ids_aside(follow_up, request) == _ids_aside(expected, request)
