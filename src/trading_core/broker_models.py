"""What the broker reports: its view of an order, a position, and the trade update stream."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs

from trading_core.enums import OrderClass, OrderStatus, OrderType, Side, TimeInForce
from trading_core.orders import FILL_EVENTS, TradeEvent
from trading_core.values import ZERO, BrokerOrderId, ClientOrderId, ExecutionId, Symbol


@attrs.frozen(kw_only=True, slots=False)  # a __dict__: built per order (docs/architecture.md, "Speed")
class BrokerOrder:
    """An order as the broker reports it."""

    broker_order_id: BrokerOrderId
    client_order_id: ClientOrderId
    symbol: Symbol
    side: Side
    type: OrderType
    time_in_force: TimeInForce
    quantity: Decimal
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime
    filled_quantity: Decimal = ZERO
    filled_average_price: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    extended_hours: bool = False
    filled_at: datetime | None = None
    canceled_at: datetime | None = None
    expired_at: datetime | None = None
    replaced_by: BrokerOrderId | None = None
    replaces: BrokerOrderId | None = None
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    hwm: Decimal | None = None
    """A trailing stop's high-water mark (low-water for a buy); its `stop_price` is the one derived from it."""
    order_class: OrderClass = OrderClass.SIMPLE
    legs: tuple[BrokerOrder, ...] = ()
    """A parent's legs, as the broker answers a submission (and lists with `nested=true`)."""


@attrs.frozen(kw_only=True)
class BrokerPosition:
    """A position as the broker reports it; `quantity` is negative for a short."""

    symbol: Symbol
    quantity: Decimal
    average_entry_price: Decimal
    cost_basis: Decimal
    current_price: Decimal | None = None


@attrs.frozen(kw_only=True, slots=False)  # a __dict__: built per order (docs/architecture.md, "Speed")
class TradeUpdate:
    """One message of the broker's trade update stream.

    `event` is a `TradeEvent`, or the raw name when the broker sent one we do not know (kept, and
    ignored by the order state machine, rather than crashing the stream).
    """

    event: TradeEvent | str
    order: BrokerOrder
    timestamp: datetime
    execution_id: ExecutionId | None = None
    price: Decimal | None = None
    quantity: Decimal | None = None
    position_quantity: Decimal | None = None
    reason: str | None = None

    @property
    def is_fill(self) -> bool:
        """The update reports an execution (`fill` or `partial_fill`)."""
        return self.event in FILL_EVENTS
