"""Domain events: immutable facts named as the spec's publications.

Each carries `event_id` (the bus deduplicates on it), `ts_event` (when it happened at the venue)
and `ts_init` (when we recorded it). Payload objects are the frozen domain values themselves;
wire formats are built from them at the edges.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar

import attrs

from trading_core.fills import Fill
from trading_core.orders import Order
from trading_core.positions import Position
from trading_core.values import EventId


@attrs.frozen(kw_only=True, slots=False)  # a __dict__: built per order (docs/architecture.md, "Speed")
class Event:
    """Base of every domain event; `TYPE` is the name it is published under."""

    TYPE: ClassVar[str] = ""
    event_id: EventId
    ts_event: datetime
    ts_init: datetime


@attrs.frozen(kw_only=True, slots=False)  # a __dict__: built per order (docs/architecture.md, "Speed")
class OrderSubmitted(Event):
    """The broker accepted the order for execution."""

    TYPE: ClassVar[str] = "trade.order.submitted"
    order: Order


@attrs.frozen(kw_only=True, slots=False)  # a __dict__: built per order (docs/architecture.md, "Speed")
class OrderPartiallyFilled(Event):
    """Part of the order filled; the rest still works."""

    TYPE: ClassVar[str] = "trade.order.partial"
    order: Order
    fill: Fill
    realized_pnl: Decimal


@attrs.frozen(kw_only=True, slots=False)  # a __dict__: built per order (docs/architecture.md, "Speed")
class OrderFilled(Event):
    """The order filled completely; `realized_pnl` is what its last fill realised."""

    TYPE: ClassVar[str] = "trade.order.filled"
    order: Order
    fill: Fill
    realized_pnl: Decimal


@attrs.frozen(kw_only=True, slots=False)  # a __dict__: built per order (docs/architecture.md, "Speed")
class OrderRejected(Event):
    """The order was refused, by our risk checks or by the broker."""

    TYPE: ClassVar[str] = "trade.order.rejected"
    order: Order
    code: str
    reason: str


@attrs.frozen(kw_only=True, slots=False)  # a __dict__: built per order (docs/architecture.md, "Speed")
class OrderCancelled(Event):
    """The order stopped working: cancelled, expired, replaced or done for the day."""

    TYPE: ClassVar[str] = "trade.order.cancelled"
    order: Order
    reason: str


@attrs.frozen(kw_only=True, slots=False)  # a __dict__: built per order (docs/architecture.md, "Speed")
class PositionOpened(Event):
    """A position opened from flat (or from the other side, after a flip)."""

    TYPE: ClassVar[str] = "trade.position.opened"
    position: Position


@attrs.frozen(kw_only=True, slots=False)  # a __dict__: built per order (docs/architecture.md, "Speed")
class PositionUpdated(Event):
    """A position's quantity changed and it is still open on the same side."""

    TYPE: ClassVar[str] = "trade.position.updated"
    position: Position
    realized_pnl: Decimal


@attrs.frozen(kw_only=True, slots=False)  # a __dict__: built per order (docs/architecture.md, "Speed")
class PositionClosed(Event):
    """A position went flat; `realized_pnl` is the final P&L of the closing fill's position."""

    TYPE: ClassVar[str] = "trade.position.closed"
    position: Position
    realized_pnl: Decimal


EVENT_TYPES: tuple[type[Event], ...] = (
    OrderSubmitted,
    OrderPartiallyFilled,
    OrderFilled,
    OrderRejected,
    OrderCancelled,
    PositionOpened,
    PositionUpdated,
    PositionClosed,
)
"""Every event class, in the spec's table order."""
