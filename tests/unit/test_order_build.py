"""`order_build` builds and changes orders exactly as `Order(...)` and `attrs.evolve` do."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading_core.enums import OrderStatus
from trading_core.order_build import changed
from trading_core.orders import Order
from trading_core.requests import OrderRequest
from trading_core.testing import order_requests, prices, quantities
from trading_core.values import BrokerOrderId, ClientOrderId, ExecutionId, OrderId

from .builders import NOW

FIELDS = [a.name for a in attrs.fields(Order)]


def from_request(req: OrderRequest) -> Order:
    return Order.from_request(req, order_id=OrderId("o-1"), client_order_id=ClientOrderId("c-1"), now=NOW)


def changes() -> st.SearchStrategy[dict[str, Any]]:
    """Any changes the engine makes to an order, a few fields at a time."""
    return st.fixed_dictionaries(
        {},
        optional={
            "status": st.sampled_from(list(OrderStatus)),
            "filled_quantity": quantities(),
            "filled_notional": prices(),
            "broker_order_id": st.just(BrokerOrderId("b-1")),
            "submitted_at": st.just(NOW + timedelta(seconds=1)),
            "updated_at": st.just(NOW + timedelta(seconds=2)),
            "rejection_code": st.none() | st.just("BROKER_REJECTED"),
            "execution_ids": st.frozensets(st.just(ExecutionId("e-1"))),
        },
    )


@given(order_requests())
def test_an_order_from_a_request_is_the_one_its_constructor_builds(req: OrderRequest) -> None:
    new = from_request(req)
    expected = Order(**{name: getattr(new, name) for name in FIELDS})

    assert new == expected
    assert (hash(new), repr(new)) == (hash(expected), repr(expected))
    assert list(vars(new)) == FIELDS  # every field, each written once
    assert attrs.asdict(new) == attrs.asdict(expected)


@given(order_requests(), st.sampled_from([OrderStatus.PENDING_NEW, OrderStatus.ACCEPTED]), st.booleans())
def test_an_order_from_a_request_takes_its_status_parent_and_replaced_order(
    req: OrderRequest, status: OrderStatus, linked: bool
) -> None:
    """As the plain order changed after: the queued, the opening half of a flip, a replacement."""
    parent, replaced = (OrderId("o-0"), OrderId("o-9")) if linked else (None, None)

    new = Order.from_request(
        req,
        order_id=OrderId("o-1"),
        client_order_id=ClientOrderId("c-1"),
        now=NOW,
        status=status,
        parent_id=parent,
        replaces=replaced,
    )

    expected = attrs.evolve(from_request(req), status=status, parent_id=parent, replaces=replaced)
    assert new == expected
    assert list(vars(new)) == FIELDS


@given(order_requests(), changes(), changes())
def test_a_change_is_what_attrs_evolve_makes(req: OrderRequest, first: dict[str, Any], then: dict[str, Any]) -> None:
    """Of an order built either way, and of a change of a change."""
    for order in (from_request(req), attrs.evolve(from_request(req))):
        once, expected = changed(order, **first), attrs.evolve(order, **first)

        assert once == expected
        assert (hash(once), repr(once), list(vars(once))) == (hash(expected), repr(expected), FIELDS)
        assert changed(once, **then) == attrs.evolve(expected, **then)


def test_a_change_leaves_the_order_it_was_made_from_as_it_was() -> None:
    order = from_request(OrderRequest.create(symbol="AAPL", side="buy", type="market", quantity=1))
    before = attrs.asdict(order)

    changed(order, status=OrderStatus.NEW)

    assert before == attrs.asdict(order)


def test_a_change_to_a_field_the_order_does_not_have_is_refused() -> None:
    order = from_request(OrderRequest.create(symbol="AAPL", side="buy", type="market", quantity=1))

    with pytest.raises(TypeError, match="statuss"):
        changed(order, statuss=OrderStatus.NEW)  # type: ignore[call-arg]


def test_an_order_built_either_way_stays_frozen() -> None:
    order = from_request(OrderRequest.create(symbol="AAPL", side="buy", type="market", quantity=1))

    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        changed(order, status=OrderStatus.NEW).status = OrderStatus.FILLED  # type: ignore[misc]
