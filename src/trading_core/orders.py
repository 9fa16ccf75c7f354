"""The order aggregate and the changes the state machine makes to it.

The state machine's table is `trading_core.transitions` (re-exported here): `apply_event` moves
an order through it. Every function returns a new `Order` plus the events that announce the
change; nothing is mutated.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Final

import attrs

from trading_core import codes
from trading_core.enums import ApiStatus, OrderStatus, OrderType, Side, SubmitStatus, TimeInForce
from trading_core.errors import InvalidOrder, InvalidTransition, OrderNotCancelable
from trading_core.events import Event, OrderCancelled, OrderRejected, OrderSubmitted
from trading_core.order_build import built, changed
from trading_core.requests import OrderRequest
from trading_core.transitions import (
    EVENT_FOR_STATUS,
    FILL_EVENTS,
    ROUTING_STATUSES,
    SAME,
    TRANSITIONS,
    WORKING,
    TradeEvent,
)
from trading_core.values import (
    FOUR_PLACES,
    ZERO,
    BrokerOrderId,
    ClientOrderId,
    ExecutionId,
    OrderId,
    Symbol,
    new_event_id,
)

__all__ = [
    "EVENT_FOR_STATUS",
    "FILL_EVENTS",
    "SAME",
    "TRANSITIONS",
    "WORKING",
    "Order",
    "TradeEvent",
    "apply_event",
    "doubt_since",
    "ensure_cancelable",
    "hold_in_doubt",
    "in_doubt",
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


@attrs.frozen(kw_only=True, slots=False)  # a __dict__, for trading_core.order_build
class Order:
    """An order as we know it: what was asked, where it stands at the broker, what has filled."""

    id: OrderId
    client_order_id: ClientOrderId
    symbol: Symbol
    side: Side
    type: OrderType
    time_in_force: TimeInForce
    quantity: Decimal
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    extended_hours: bool = False
    filled_quantity: Decimal = ZERO
    filled_notional: Decimal = ZERO
    """Sum of quantity times price over the fills, exact: the average fill price comes from it."""
    broker_order_id: BrokerOrderId | None = None
    strategy_id: str | None = None
    decision_id: str | None = None
    submitted_at: datetime | None = None
    filled_at: datetime | None = None
    cancelled_at: datetime | None = None
    rejection_code: str | None = None
    rejection_reason: str | None = None
    replaces: OrderId | None = None
    replaced_by: OrderId | None = None
    parent_id: OrderId | None = None
    """For the opening half of an order split at flat: the closing order that must fill first."""
    execution_ids: frozenset[ExecutionId] = frozenset()

    @classmethod
    def from_request(
        cls,
        request: OrderRequest,
        *,
        order_id: OrderId,
        client_order_id: ClientOrderId,
        now: datetime,
    ) -> Order:
        """A new order, not yet sent: status `pending_new`.

        Raises:
            InvalidOrder: The request is notional: it is resolved to a quantity first.
        """
        if request.quantity is None:
            raise InvalidOrder(
                "a notional order is resolved to a quantity before it becomes an order", field="notional"
            )
        fields = {  # every field, in declaration order: see trading_core.order_build
            "id": order_id,
            "client_order_id": client_order_id,
            "symbol": request.symbol,
            "side": request.side,
            "type": request.type,
            "time_in_force": request.time_in_force,
            "quantity": request.quantity,
            "status": OrderStatus.PENDING_NEW,
            "created_at": now,
            "updated_at": now,
            "limit_price": request.limit_price,
            "stop_price": request.stop_price,
            "trail_price": request.trail_price,
            "trail_percent": request.trail_percent,
            "extended_hours": request.extended_hours,
            "filled_quantity": ZERO,
            "filled_notional": ZERO,
            "broker_order_id": None,
            "strategy_id": request.strategy_id,
            "decision_id": request.decision_id,
            "submitted_at": None,
            "filled_at": None,
            "cancelled_at": None,
            "rejection_code": None,
            "rejection_reason": None,
            "replaces": None,
            "replaced_by": None,
            "parent_id": None,
            "execution_ids": frozenset(),
        }
        return built(cls, fields)

    @property
    def remaining_quantity(self) -> Decimal:
        """What has not filled yet."""
        return self.quantity - self.filled_quantity

    @property
    def average_fill_price(self) -> Decimal | None:
        """The quantity-weighted average of the fills, at the schema's four places."""
        if not self.filled_quantity:
            return None
        return (self.filled_notional / self.filled_quantity).quantize(FOUR_PLACES)

    @property
    def signed_quantity(self) -> Decimal:
        """The quantity, negative for a sell: the position change once it has filled."""
        return self.quantity if self.side is Side.BUY else -self.quantity

    @property
    def is_open(self) -> bool:
        """Open as the broker's `status=open` filter counts it."""
        return self.status.is_open

    @property
    def is_terminal(self) -> bool:
        """In a final status: nothing but a late fill changes it any more."""
        return self.status.is_terminal

    @property
    def api_status(self) -> ApiStatus:
        """The spec's status word; an open order with fills reads `partially_filled`."""
        if self.status is OrderStatus.CALCULATED and self.filled_quantity == self.quantity:
            return ApiStatus.FILLED
        word = self.status.api_status
        if word is ApiStatus.NEW and self.filled_quantity:
            return ApiStatus.PARTIALLY_FILLED
        return word

    @property
    def submit_status(self) -> SubmitStatus:
        """What happened to the submission: refused, taken by the broker, or not yet answered."""
        if self.status is OrderStatus.REJECTED:
            return SubmitStatus.REJECTED
        if self.broker_order_id is None:
            return SubmitStatus.PENDING
        return SubmitStatus.ACCEPTED


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


def in_doubt(order: Order) -> bool:
    """Perhaps at the broker, and not known there: sent unanswered, or stored and then a crash.

    The opening half of a split waits here for its closing half until it is sent (`submitted_at`),
    and an order queued for the open is `accepted`: neither has been sent.
    """
    return (
        order.broker_order_id is None
        and order.status is OrderStatus.PENDING_NEW
        and (order.submitted_at is not None or order.parent_id is None)
    )


def doubt_since(order: Order) -> datetime:
    """When the order may have reached the broker: its unanswered submission, or its creation."""
    return order.submitted_at or order.created_at


def reopened(order: Order, now: datetime) -> Order:
    """An order refused because the broker had no record of it, which the broker now reports.

    The broker's word outweighs an earlier verdict of absence: the order is pending again, so
    that the broker's acceptance and fills apply to it (announced as they come).
    """
    if (
        order.status is not OrderStatus.REJECTED
        or order.broker_order_id is not None
        or order.rejection_code != codes.BROKER_ERROR
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
        InvalidTransition: The event is a fill (see `fills.fill_order`), or the state machine has no
            edge from the order's status for it.
    """
    if event in FILL_EVENTS:
        raise InvalidTransition("fills go through fills.fill_order, which knows the quantity and price")
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


def ensure_cancelable(order: Order) -> None:
    """Refuse a cancel or replace request that the broker would refuse.

    Raises:
        OrderNotCancelable: The order is in a final status, or a replacement of it is pending.
    """
    if order.status.is_terminal:
        raise OrderNotCancelable(f'order is already in "{order.status}" state', details={"orderId": order.id})
    if order.status is OrderStatus.PENDING_REPLACE:
        raise OrderNotCancelable("order has a replace pending", details={"orderId": order.id})
