"""An order's life: each change the broker's answers and updates make to an order, and to its
position, with the events that announce it.

Every function takes values and returns new ones plus the events; nothing is mutated and nothing
is stored here (the ledger stores what these return, with its events, in one transaction). The
state machine's table is `trading_core.transitions`; the values are `Order`, `Fill` and
`Position`, in modules of their own, which the events carry.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Final

import attrs

from trading_core import codes
from trading_core.enums import OrderStatus
from trading_core.errors import InvalidTransition, Overfill
from trading_core.events import (
    Event,
    OrderCancelled,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderSubmitted,
    PositionClosed,
    PositionOpened,
    PositionUpdated,
)
from trading_core.fills import Fill, counted
from trading_core.order_build import changed
from trading_core.orders import Order
from trading_core.positions import Position, PositionChange
from trading_core.positions import apply_fill as apply_fill_to_position
from trading_core.transitions import FILL_EVENTS, ROUTING_STATUSES, SAME, TRANSITIONS, WORKING, TradeEvent
from trading_core.values import ZERO, BrokerOrderId, ExecutionId, new_event_id

__all__ = [
    "Execution",
    "apply_event",
    "execute",
    "execute_reported",
    "fill_order",
    "hold_in_doubt",
    "mark_submitted",
    "reject",
    "reopened",
]

_CANCEL_REASONS: Final = {
    OrderStatus.CANCELED: "canceled",
    OrderStatus.EXPIRED: "expired",
    OrderStatus.REPLACED: "replaced",
    OrderStatus.DONE_FOR_DAY: "done_for_day",
}

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


def reject(
    order: Order, *, code: str, reason: str, now: datetime, ts_event: datetime | None = None
) -> tuple[Order, list[Event]]:
    """Refuse an order that has not been sent (risk) or that the broker refused on submission.

    Raises:
        InvalidTransition: The order is no longer `pending_new`.
    """
    if order.status is not OrderStatus.PENDING_NEW:
        raise InvalidTransition(f"{order.status} -> rejected: only an unsent order can be refused here")
    rejected = changed(
        order,
        status=OrderStatus.REJECTED,
        rejection_code=code,
        rejection_reason=reason,
        updated_at=now,
    )
    event = OrderRejected(
        event_id=new_event_id(),
        ts_event=ts_event or now,
        ts_init=now,
        order=rejected,
        code=code,
        reason=reason,
    )
    return rejected, [event]


def hold_in_doubt(order: Order, *, now: datetime) -> tuple[Order, list[Event]]:
    """A submission went unanswered: pending, marked as sent at `now`, until evidence settles it.

    Nothing is announced: the broker may or may not have the order, and `trade.order.submitted`
    comes when it shows it. An order the broker has answered for meanwhile is left as it is.
    """
    if order.broker_order_id is not None or order.is_terminal:
        return order, []
    return changed(order, status=OrderStatus.PENDING_NEW, submitted_at=now, updated_at=now), []


def reopened(order: Order, now: datetime) -> Order:
    """An order refused because the broker had no record of it, which the broker now reports.

    The broker's word outweighs an earlier verdict of absence: the order is pending again, so
    that the broker's acceptance and fills apply to it (announced as they come).
    """
    if (
        order.rejection_code != codes.BROKER_ERROR  # asked first: most orders were never refused
        or order.status is not OrderStatus.REJECTED
        or order.broker_order_id is not None
    ):
        return order
    return changed(order, status=OrderStatus.PENDING_NEW, rejection_code=None, rejection_reason=None, updated_at=now)


def mark_submitted(
    order: Order,
    *,
    broker_order_id: BrokerOrderId,
    status: OrderStatus,
    now: datetime,
    ts_event: datetime,
) -> tuple[Order, list[Event]]:
    """Record the broker's acceptance of our submission.

    Raises:
        InvalidTransition: The order is already at the broker under another broker order id.
    """
    if order.broker_order_id is not None:
        if order.broker_order_id != broker_order_id:
            raise InvalidTransition(f"order {order.id} is already at the broker as {order.broker_order_id}")
        return order, []
    next_status: OrderStatus
    if order.status is not OrderStatus.PENDING_NEW:
        next_status = order.status  # the stream told us more than the REST answer did; keep it
    elif status in ROUTING_STATUSES:
        next_status = status
    else:
        # A later status (filled, canceled...) comes with its own trade updates: apply those.
        next_status = OrderStatus.PARTIALLY_FILLED if order.filled_quantity else OrderStatus.NEW
    submitted = changed(
        order,
        broker_order_id=broker_order_id,
        status=next_status,
        submitted_at=ts_event,
        updated_at=now,
    )
    return submitted, [OrderSubmitted(event_id=new_event_id(), ts_event=ts_event, ts_init=now, order=submitted)]


def apply_event(
    order: Order, event: TradeEvent, *, now: datetime, ts_event: datetime, reason: str | None = None
) -> tuple[Order, list[Event]]:
    """Move the order through a broker status event; terminal orders absorb whatever comes later.

    Raises:
        InvalidTransition: The event is a fill (see `fill_order`), or the state machine has no
            edge from the order's status for it.
    """
    if event in FILL_EVENTS:
        raise InvalidTransition("fills go through fill_order, which knows the quantity and price")
    target = TRANSITIONS.get((order.status, event))
    if target is None:
        if order.status.is_terminal:
            return order, []
        raise InvalidTransition(f"{order.status} -> {event}: not a transition of the order state machine")
    if target == SAME:
        return order, []
    if target == WORKING:
        next_status = OrderStatus.PARTIALLY_FILLED if order.filled_quantity else OrderStatus.NEW
    else:
        next_status = OrderStatus(target)
    if next_status is order.status:
        return order, []
    ends = next_status in _CANCEL_REASONS and next_status is not OrderStatus.DONE_FOR_DAY
    refused = next_status is OrderStatus.REJECTED
    moved = changed(
        order,
        status=next_status,
        updated_at=now,
        cancelled_at=ts_event if ends else order.cancelled_at,
        rejection_code="BROKER_REJECTED" if refused else order.rejection_code,
        rejection_reason=(reason or "rejected by the broker") if refused else order.rejection_reason,
    )
    return moved, list(_status_events(moved, next_status, now=now, ts_event=ts_event, reason=reason))


def _status_events(
    order: Order, status: OrderStatus, *, now: datetime, ts_event: datetime, reason: str | None
) -> Iterable[Event]:
    if status in _CANCEL_REASONS:
        yield OrderCancelled(
            event_id=new_event_id(),
            ts_event=ts_event,
            ts_init=now,
            order=order,
            reason=reason or _CANCEL_REASONS[status],
        )
    elif status is OrderStatus.REJECTED:
        yield OrderRejected(
            event_id=new_event_id(),
            ts_event=ts_event,
            ts_init=now,
            order=order,
            code=order.rejection_code or "BROKER_REJECTED",
            reason=order.rejection_reason or "rejected by the broker",
        )


@attrs.frozen
class Execution:
    """The outcome of applying a fill: the new order, the position change and their events."""

    order: Order
    position: PositionChange
    events: list[Event]
    fill: Fill
    """The fill as it is stored: with what it realized."""


def fill_order(order: Order, fill: Fill, *, cumulative_quantity: Decimal | None = None, now: datetime) -> Order | None:
    """Apply `fill` to `order`; None when it is a duplicate already counted.

    A fill counts once, and each execution of the broker's is stored under its own id, whatever
    order they arrive in: an execution is a duplicate when its id is known, or when a fill made up
    from the broker's cumulative quantity (`fills.made_up_execution_id`, when no execution of its
    own was heard) stands for it already. A made-up fill counts only what the cumulative quantity
    it comes with adds to ours. A late fill on a cancelled or replaced order is applied: the shares
    did change hands. The filled quantity only ever grows, up to the quantity.

    Raises:
        InvalidTransition: The fill is of another order, of zero or less, or of a rejected order.
        Overfill: The fill would take the filled quantity beyond the order's quantity.
    """
    if fill.order_id != order.id or fill.symbol != order.symbol or fill.side is not order.side:
        raise InvalidTransition(f"fill {fill.execution_id} is not an execution of order {order.id}")
    if _counted_already(order, fill.execution_id, cumulative_quantity):
        return None
    return _filled(order, fill.execution_id, fill.quantity, fill.price, fill.timestamp, now=now)


def _counted_already(order: Order, execution_id: ExecutionId, cumulative_quantity: Decimal | None) -> bool:
    """Whether `order` has counted an execution: its id is known, or a made-up fill stands for it."""
    if execution_id in order.execution_ids:
        return True
    return cumulative_quantity is not None and cumulative_quantity <= counted(
        order.execution_ids, order.filled_quantity, execution_id
    )


def _filled(
    order: Order, execution_id: ExecutionId, quantity: Decimal, price: Decimal, at: datetime, *, now: datetime
) -> Order:
    """`order` with a new execution of its own counted, given by its terms (`fill_order`)."""
    if quantity <= ZERO:
        raise InvalidTransition(f"fill of {quantity}: a fill of order {order.id} must be of a positive quantity")
    # Asked first: a working order (the usual one) is not a rejected one, nor a filled one.
    working = order.status in _WORKING_AFTER_FILL
    if not working and order.status is OrderStatus.REJECTED:
        raise InvalidTransition(f"rejected -> fill: order {order.id} was refused and cannot fill")
    filled = order.filled_quantity + quantity
    if filled > order.quantity:
        raise Overfill(
            f"fill of {quantity} would take order {order.id} to {filled} of {order.quantity}",
            details={"orderId": order.id, "executionId": execution_id},
        )
    filled_at = order.filled_at
    if filled == order.quantity:
        status, filled_at = OrderStatus.FILLED, at
    elif working:
        status = OrderStatus.PARTIALLY_FILLED
    else:
        status = order.status  # pending_cancel stays pending; a cancelled order stays cancelled
        if status is OrderStatus.FILLED:
            filled_at = at
    return changed(
        order,
        status=status,
        filled_quantity=filled,
        filled_notional=order.filled_notional + quantity * price,
        filled_at=filled_at,
        updated_at=now,
        execution_ids=order.execution_ids | {execution_id},
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
    realized = change.realized_pnl
    if realized:  # built only when it realized something; written out, as `attrs.evolve` costs twice this
        fill = Fill(
            order_id=fill.order_id,
            execution_id=fill.execution_id,
            symbol=fill.symbol,
            side=fill.side,
            quantity=fill.quantity,
            price=fill.price,
            timestamp=fill.timestamp,
            commission=fill.commission,
            realized_pnl=realized,
        )
    return Execution(filled, change, _events(filled, fill, change, now), fill)


def execute_reported(
    order: Order,
    position: Position,
    *,
    execution_id: ExecutionId,
    quantity: Decimal,
    price: Decimal,
    at: datetime,
    cumulative_quantity: Decimal | None = None,
    now: datetime,
) -> Execution | None:
    """`execute` for an execution of `order` given by its terms, its `Fill` built once, with what
    it realized (`execute` builds it again when it realized something); None for a duplicate."""
    if _counted_already(order, execution_id, cumulative_quantity):
        return None
    filled = _filled(order, execution_id, quantity, price, at, now=now)
    change = apply_fill_to_position(position, side=order.side, quantity=quantity, price=price, at=at)
    fill = Fill(
        order_id=order.id,
        execution_id=execution_id,
        symbol=order.symbol,
        side=order.side,
        quantity=quantity,
        price=price,
        timestamp=at,
        realized_pnl=change.realized_pnl or ZERO,  # as `execute`'s: a zero at eight places is kept as ZERO
    )
    return Execution(filled, change, _events(filled, fill, change, now), fill)


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
