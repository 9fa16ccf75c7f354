"""The order: what was asked, where it stands at the broker, what has filled.

The state machine's table is `trading_core.transitions` (re-exported here); the changes that move
an order through it, with their events, are `trading_core.lifecycle`'s.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from trading_core.enums import (
    ApiStatus,
    EngineProtection,
    OrderClass,
    OrderStatus,
    OrderType,
    Side,
    SubmitStatus,
    TimeInForce,
)
from trading_core.errors import InvalidOrder, OrderNotCancelable
from trading_core.order_build import built
from trading_core.order_classes import StopLoss, TakeProfit
from trading_core.requests import OrderRequest
from trading_core.transitions import (
    EVENT_FOR_STATUS,
    FILL_EVENTS,
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
)

__all__ = [
    "EVENT_FOR_STATUS",
    "FILL_EVENTS",
    "SAME",
    "TRANSITIONS",
    "WORKING",
    "Order",
    "TradeEvent",
    "doubt_since",
    "ensure_cancelable",
    "in_doubt",
]


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
    """For the opening half of an order split at flat: the closing order that must fill first. For
    the engine's exits of an entry that ended in part filled (`engine_protection`): that entry."""
    order_class: OrderClass = OrderClass.SIMPLE
    """A bracket's, OTO's or OCO's parent carries its class and what its exits were asked for."""
    take_profit: TakeProfit | None = None
    stop_loss: StopLoss | None = None
    legs: tuple[OrderId, ...] = ()
    """The parent's legs (orders of their own): take-profit first, then stop-loss (Alpaca's order)."""
    leg_of: OrderId | None = None
    """For a leg: its parent (the API's `parentOrderId`, Alpaca's parent of the `legs`)."""
    hwm: Decimal | None = None
    """A trailing stop's high-water mark (low-water for a buy), as the broker last reported it."""
    engine_protection: EngineProtection | None = None
    """An entry whose exits the engine attached, or the engine's exits for what such an entry filled
    before it ended in part (then `parent_id` names the entry)."""
    execution_ids: frozenset[ExecutionId] = frozenset()

    @classmethod
    def from_request(
        cls,
        request: OrderRequest,
        *,
        order_id: OrderId,
        client_order_id: ClientOrderId,
        now: datetime,
        status: OrderStatus = OrderStatus.PENDING_NEW,
        parent_id: OrderId | None = None,
        replaces: OrderId | None = None,
        quantity: Decimal | None = None,
    ) -> Order:
        """A new order, not yet sent: status `pending_new` unless `status` says otherwise.

        `parent_id` names the closing half that must fill first (for an opening half), `replaces`
        the order it replaces, and `quantity` a part of the request's (a half of an order split at
        flat): given here, they cost no second order, or request, built to carry them.

        Raises:
            InvalidOrder: The request is notional: it is resolved to a quantity first.
        """
        if request.quantity is None:
            raise InvalidOrder(
                "a notional order is resolved to a quantity before it becomes an order", field="notional"
            )
        fields = _new_order_fields(
            request,
            order_id=order_id,
            client_order_id=client_order_id,
            now=now,
            status=status,
            parent_id=parent_id,
            replaces=replaces,
            quantity=request.quantity if quantity is None else quantity,
        )
        return built(cls, fields)

    @property
    def is_leg(self) -> bool:
        """One of an order class's exits, sent with its parent."""
        return self.leg_of is not None

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


def _new_order_fields(
    request: OrderRequest,
    *,
    order_id: OrderId,
    client_order_id: ClientOrderId,
    now: datetime,
    status: OrderStatus,
    parent_id: OrderId | None,
    replaces: OrderId | None,
    quantity: Decimal,
) -> dict[str, Any]:
    """The fields of a new order for `request` (`Order.from_request`), of `quantity`."""
    return {  # every field, in declaration order: see trading_core.order_build
        "id": order_id,
        "client_order_id": client_order_id,
        "symbol": request.symbol,
        "side": request.side,
        "type": request.type,
        "time_in_force": request.time_in_force,
        "quantity": quantity,
        "status": status,
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
        "replaces": replaces,
        "replaced_by": None,
        "parent_id": parent_id,
        "order_class": request.order_class,
        "take_profit": request.take_profit,
        "stop_loss": request.stop_loss,
        "legs": (),
        "leg_of": None,
        "hwm": None,
        "engine_protection": None,
        "execution_ids": frozenset(),
    }


def in_doubt(order: Order) -> bool:
    """Perhaps at the broker, and not known there: sent unanswered, or stored and then a crash.

    The opening half of a split waits here for its closing half until it is sent (`submitted_at`),
    and an order queued for the open is `accepted`: neither has been sent. A leg is never sent
    alone: the broker's answer to its parent gives it its broker id.
    """
    return (
        order.broker_order_id is None
        and order.status is OrderStatus.PENDING_NEW
        and (order.submitted_at is not None or order.parent_id is None)
        and order.leg_of is None  # a leg goes with its parent: it is in doubt as its parent is
    )


def doubt_since(order: Order) -> datetime:
    """When the order may have reached the broker: its unanswered submission, or its creation."""
    return order.submitted_at or order.created_at


def ensure_cancelable(order: Order) -> None:
    """Refuse a cancel or replace request that the broker would refuse.

    Raises:
        OrderNotCancelable: The order is in a final status, or a replacement of it is pending.
    """
    if order.status.is_terminal:
        raise OrderNotCancelable(f'order is already in "{order.status}" state', details={"orderId": order.id})
    if order.status is OrderStatus.PENDING_REPLACE:
        raise OrderNotCancelable("order has a replace pending", details={"orderId": order.id})
