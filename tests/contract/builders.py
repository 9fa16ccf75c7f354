"""Orders, fills, positions and events for the store tests, and a small payload encoder."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from trading_core.enums import OrderClass, OrderStatus, OrderType, Side, TimeInForce
from trading_core.events import Event, OrderFilled, OrderSubmitted, PositionOpened
from trading_core.fills import Fill
from trading_core.lifecycle import fill_order
from trading_core.order_classes import StopLoss, TakeProfit
from trading_core.orders import Order
from trading_core.positions import Position
from trading_core.values import (
    BrokerOrderId,
    ClientOrderId,
    ExecutionId,
    OrderId,
    Symbol,
    new_event_id,
    new_order_id,
)

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
_ticks = itertools.count()


def payload_of(event: Event) -> Mapping[str, Any]:
    """A stand-in for the real codec: a few fields, Decimals kept as Decimals."""
    payload: dict[str, Any] = {"type": event.TYPE, "eventId": event.event_id}
    order: Order | None = getattr(event, "order", None)
    if order is not None:
        payload["order"] = {
            "orderId": order.id,
            "status": order.status.value,
            "quantity": order.quantity,
            "filledQuantity": order.filled_quantity,
            "filledNotional": order.filled_notional,
        }
    fill: Fill | None = getattr(event, "fill", None)
    if fill is not None:
        payload["fill"] = {"executionId": fill.execution_id, "quantity": fill.quantity, "price": fill.price}
    position: Position | None = getattr(event, "position", None)
    if position is not None:
        payload["position"] = {
            "symbol": position.symbol,
            "quantity": position.quantity,
            "costBasis": position.cost_basis,
            "flags": [True, False, None],
            "count": 3,
        }
    return payload


def moment(seconds: float = 0) -> datetime:
    return T0 + timedelta(seconds=seconds)


def new_order(
    *,
    symbol: str = "AAPL",
    side: Side = Side.BUY,
    quantity: str = "10.0000",
    status: OrderStatus = OrderStatus.PENDING_NEW,
    created_at: datetime | None = None,
    **changes: Any,
) -> Order:
    """A plain limit order; each call is newer than the last unless `created_at` is given."""
    when = created_at if created_at is not None else moment(next(_ticks))
    order = Order(
        id=new_order_id(),
        client_order_id=ClientOrderId(f"coid-{uuid.uuid4()}"),
        symbol=Symbol(symbol),
        side=side,
        type=OrderType.LIMIT,
        time_in_force=TimeInForce.DAY,
        quantity=Decimal(quantity),
        limit_price=Decimal("187.2500"),
        status=status,
        created_at=when,
        updated_at=when,
    )
    return attrs.evolve(order, **changes) if changes else order


def full_order() -> Order:
    """An order with every optional field set, amounts at the schema's scale or exact."""
    when = moment(next(_ticks))
    return Order(
        id=new_order_id(),
        client_order_id=ClientOrderId(f"coid-{uuid.uuid4()}"),
        symbol=Symbol("BRK.B"),
        side=Side.SELL,
        type=OrderType.TRAILING_STOP,
        time_in_force=TimeInForce.GTC,
        quantity=Decimal("99999999999.9999"),
        status=OrderStatus.PARTIALLY_FILLED,
        created_at=when,
        updated_at=when + timedelta(microseconds=123457),
        limit_price=Decimal("0.0001"),
        stop_price=Decimal("412.5000"),
        trail_price=Decimal("1.2500"),
        trail_percent=Decimal("0.7500"),
        extended_hours=True,
        filled_quantity=Decimal("3.5000"),
        filled_notional=Decimal("1443.75001234"),
        broker_order_id=BrokerOrderId(f"broker-{uuid.uuid4()}"),
        strategy_id=str(uuid.uuid4()),
        decision_id=str(uuid.uuid4()),
        submitted_at=when + timedelta(seconds=1),
        filled_at=when + timedelta(seconds=2),
        cancelled_at=when + timedelta(seconds=3),
        rejection_code="INSUFFICIENT_FUNDS",
        rejection_reason="buying power of 10.00 is below 412.50",
        replaces=OrderId(str(uuid.uuid4())),
        replaced_by=OrderId(str(uuid.uuid4())),
        parent_id=OrderId(str(uuid.uuid4())),
        order_class=OrderClass.BRACKET,
        take_profit=TakeProfit(Decimal("450.0000")),
        stop_loss=StopLoss(Decimal("400.0000"), Decimal("399.5000")),
        legs=(OrderId(str(uuid.uuid4())), OrderId(str(uuid.uuid4()))),
        leg_of=OrderId(str(uuid.uuid4())),
        hwm=Decimal("415.2500"),
        execution_ids=frozenset({ExecutionId("exec-a"), ExecutionId("exec-b")}),
    )


def fill_for(order: Order, execution_id: str, quantity: str, price: str, *, seconds: float = 0) -> Fill:
    return Fill(
        order_id=order.id,
        execution_id=ExecutionId(execution_id),
        symbol=order.symbol,
        side=order.side,
        quantity=Decimal(quantity),
        price=Decimal(price),
        timestamp=order.created_at + timedelta(seconds=seconds),
        commission=Decimal("0.0100"),
    )


def filled(order: Order, fill: Fill) -> Order:
    """`order` after `fill`, as the domain computes it."""
    result = fill_order(order, fill, now=fill.timestamp)
    assert result is not None
    return result


def position(symbol: str = "AAPL", quantity: str = "10.0000", cost_basis: str = "1872.50000000") -> Position:
    return Position(
        symbol=Symbol(symbol),
        quantity=Decimal(quantity),
        cost_basis=Decimal(cost_basis),
        realized_pnl=Decimal("-12.34567800"),
        opened_at=moment(1),
        updated_at=moment(2),
    )


def submitted(order: Order) -> OrderSubmitted:
    return OrderSubmitted(event_id=new_event_id(), ts_event=order.created_at, ts_init=order.updated_at, order=order)


def filled_event(order: Order, fill: Fill) -> OrderFilled:
    return OrderFilled(
        event_id=new_event_id(),
        ts_event=fill.timestamp,
        ts_init=fill.timestamp,
        order=order,
        fill=fill,
        realized_pnl=Decimal("0.00000000"),
    )


def opened(held: Position) -> PositionOpened:
    assert held.opened_at is not None
    return PositionOpened(event_id=new_event_id(), ts_event=held.opened_at, ts_init=held.opened_at, position=held)


def decimal_texts(value: object) -> dict[str, str]:
    """Every Decimal field of an attrs value as text, so a changed scale shows up in a comparison."""
    return {
        field.name: str(getattr(value, field.name))
        for field in attrs.fields(type(value))
        if isinstance(getattr(value, field.name), Decimal)
    }
