"""Executions: a fill applied to its order and to the position, with the events both announce."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import attrs

from trading_core.enums import OrderStatus, Side
from trading_core.errors import InvalidTransition, Overfill
from trading_core.events import (
    Event,
    OrderFilled,
    OrderPartiallyFilled,
    PositionClosed,
    PositionOpened,
    PositionUpdated,
)
from trading_core.order_build import changed
from trading_core.orders import Order
from trading_core.positions import Position, PositionChange
from trading_core.positions import apply_fill as apply_fill_to_position
from trading_core.values import ZERO, ExecutionId, OrderId, Symbol, new_event_id

_WORKING_AFTER_FILL = frozenset(
    {
        OrderStatus.PENDING_NEW,
        OrderStatus.ACCEPTED,
        OrderStatus.NEW,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.ACCEPTED_FOR_BIDDING,
        OrderStatus.PENDING_REVIEW,
        OrderStatus.HELD,
        OrderStatus.STOPPED,
        OrderStatus.SUSPENDED,
    }
)
"""Statuses a partial fill turns into `partially_filled`; the others keep their status."""


@attrs.frozen(kw_only=True)
class Fill:
    """One execution of (part of) an order."""

    order_id: OrderId
    execution_id: ExecutionId
    symbol: Symbol
    side: Side
    quantity: Decimal
    price: Decimal
    timestamp: datetime
    commission: Decimal = ZERO


@attrs.frozen
class Execution:
    """The outcome of applying a fill: the new order, the position change and their events."""

    order: Order
    position: PositionChange
    events: list[Event]


def cash_flow(fills: Iterable[Fill]) -> Decimal:
    """The cash `fills` moved: sales in, purchases and commissions out."""
    total = ZERO
    for fill in fills:
        notional = fill.quantity * fill.price
        total += (-notional if fill.side is Side.BUY else notional) - fill.commission
    return total


def fill_order(order: Order, fill: Fill, *, cumulative_quantity: Decimal | None = None, now: datetime) -> Order | None:
    """Apply `fill` to `order`; None when it is a duplicate already counted.

    A fill counts once: its execution id must be new, and when the broker states the cumulative
    filled quantity after it, that must exceed what we already hold (a backfill from a poll may
    have counted it under another id). A late fill on a cancelled or replaced order is applied:
    the shares did change hands. The filled quantity only ever grows, up to the quantity.

    Raises:
        InvalidTransition: The fill is of another order, of zero or less, or of a rejected order.
        Overfill: The fill would take the filled quantity beyond the order's quantity.
    """
    if (fill.order_id, fill.symbol, fill.side) != (order.id, order.symbol, order.side):
        raise InvalidTransition(f"fill {fill.execution_id} is not an execution of order {order.id}")
    if fill.execution_id in order.execution_ids:
        return None
    if cumulative_quantity is not None and cumulative_quantity <= order.filled_quantity:
        return None
    if fill.quantity <= ZERO:
        raise InvalidTransition(f"fill of {fill.quantity}: a fill of order {order.id} must be of a positive quantity")
    if order.status is OrderStatus.REJECTED:
        raise InvalidTransition(f"rejected -> fill: order {order.id} was refused and cannot fill")
    filled = order.filled_quantity + fill.quantity
    if filled > order.quantity:
        raise Overfill(
            f"fill of {fill.quantity} would take order {order.id} to {filled} of {order.quantity}",
            details={"orderId": order.id, "executionId": fill.execution_id},
        )
    if filled == order.quantity:
        status = OrderStatus.FILLED
    elif order.status in _WORKING_AFTER_FILL:
        status = OrderStatus.PARTIALLY_FILLED
    else:
        status = order.status  # pending_cancel stays pending; a cancelled order stays cancelled
    return changed(
        order,
        status=status,
        filled_quantity=filled,
        filled_notional=order.filled_notional + fill.quantity * fill.price,
        filled_at=fill.timestamp if status is OrderStatus.FILLED else order.filled_at,
        updated_at=now,
        execution_ids=order.execution_ids | {fill.execution_id},
    )


def execute(
    order: Order,
    position: Position,
    fill: Fill,
    *,
    cumulative_quantity: Decimal | None = None,
    now: datetime,
) -> Execution | None:
    """Apply a fill to its order and position; None for a duplicate."""
    filled = fill_order(order, fill, cumulative_quantity=cumulative_quantity, now=now)
    if filled is None:
        return None
    change = apply_fill_to_position(
        position, side=fill.side, quantity=fill.quantity, price=fill.price, at=fill.timestamp
    )
    return Execution(filled, change, _events(filled, fill, change, now))


def _events(order: Order, fill: Fill, change: PositionChange, now: datetime) -> list[Event]:
    """The order's event (filled, or partially), then what the fill did to the position."""
    kind = OrderFilled if order.status is OrderStatus.FILLED else OrderPartiallyFilled
    ts = fill.timestamp
    order_event = kind(
        event_id=new_event_id(), ts_event=ts, ts_init=now, order=order, fill=fill, realized_pnl=change.realized_pnl
    )
    return [order_event, *_position_events(change, ts, now)]


def _position_events(change: PositionChange, ts: datetime, now: datetime) -> list[Event]:
    """Opened, closed (both, on a flip) or updated: the position's events for one fill."""
    after = change.after
    if change.closed_leg is not None:
        closed = change.closed_leg
        return [
            PositionClosed(
                event_id=new_event_id(), ts_event=ts, ts_init=now, position=closed, realized_pnl=closed.realized_pnl
            ),
            PositionOpened(event_id=new_event_id(), ts_event=ts, ts_init=now, position=after),
        ]
    if change.opened:
        return [PositionOpened(event_id=new_event_id(), ts_event=ts, ts_init=now, position=after)]
    if change.closed:
        return [
            PositionClosed(
                event_id=new_event_id(), ts_event=ts, ts_init=now, position=after, realized_pnl=after.realized_pnl
            )
        ]
    return [
        PositionUpdated(
            event_id=new_event_id(), ts_event=ts, ts_init=now, position=after, realized_pnl=change.realized_pnl
        )
    ]
