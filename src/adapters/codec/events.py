"""Domain events on the wire: camelCase JSON payloads inside a CloudEvents 1.0 envelope.

The envelope (structured mode, `application/cloudevents+json`)::

    {"specversion": "1.0", "id": "<event uuid>", "type": "trade.order.filled",
     "source": "trading-engine", "time": "2026-03-02T15:00:00.25Z",
     "datacontenttype": "application/json", "data": {...}}

Amounts are Decimal end to end: the payload holds `Decimal`s and `encode_json` writes them as JSON
numbers with exactly their digits. Times are RFC 3339 in UTC with a `Z`. Absent values are `null`,
never missing keys. `docs/events/*.schema.json` is the contract these functions keep.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from adapters.codec._json import encode_json
from adapters.outbox import LazyOutboxMessage, OutboxMessage
from trading_core.enums import EngineProtection
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
from trading_core.fills import Fill
from trading_core.orders import Order
from trading_core.ports import EventMessage
from trading_core.positions import Position
from trading_core.values import at_four_places

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_SOURCE",
    "SPECVERSION",
    "EncodedEvent",
    "EventRecord",
    "encode_envelope",
    "envelope",
    "event_payload",
    "rfc3339",
]

SPECVERSION: Final = "1.0"
"""The CloudEvents version the envelope follows."""
DEFAULT_SOURCE: Final = "trading-engine"
"""The envelope's `source`: who published the event."""
CONTENT_TYPE: Final = "application/cloudevents+json"
"""The Content-Type of a published message: a whole CloudEvent as JSON."""


def rfc3339(moment: datetime) -> str:
    """`moment` in UTC as RFC 3339 with a `Z`, microseconds only when it has them.

    Raises:
        ValueError: `moment` has no timezone.
    """
    if moment.tzinfo is None:
        raise ValueError(f"a timestamp on the wire must be timezone-aware, was {moment!r}")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else rfc3339(moment)


def _str(value: str | None) -> str | None:
    return None if value is None else str(value)


def _order(order: Order) -> dict[str, Any]:
    return {
        "orderId": str(order.id),
        "clientOrderId": str(order.client_order_id),
        "brokerOrderId": _str(order.broker_order_id),
        "symbol": str(order.symbol),
        "side": order.side.value,
        "type": order.type.value,
        "timeInForce": order.time_in_force.value,
        "quantity": at_four_places(order.quantity),
        "filledQuantity": at_four_places(order.filled_quantity),  # 0.0000 before a fill, not 0
        "limitPrice": order.limit_price,
        "stopPrice": order.stop_price,
        "trailPrice": order.trail_price,
        "trailPercent": order.trail_percent,
        "hwm": order.hwm,
        "averagePrice": order.average_fill_price,
        "extendedHours": order.extended_hours,
        "status": order.api_status.value,
        "brokerStatus": order.status.value,
        "strategyId": order.strategy_id,
        "decisionId": order.decision_id,
        "replaces": _str(order.replaces),
        "replacedBy": _str(order.replaced_by),
        "createdAt": rfc3339(order.created_at),
        "updatedAt": rfc3339(order.updated_at),
        "submittedAt": _time(order.submitted_at),
        "filledAt": _time(order.filled_at),
        "cancelledAt": _time(order.cancelled_at),
        "orderClass": order.order_class.value,
        "legs": [str(leg) for leg in order.legs],
        "parentOrderId": _str(order.leg_of or _entry_protected(order)),
        "engineProtection": None if order.engine_protection is None else order.engine_protection.value,
        "takeProfit": None if order.take_profit is None else {"limitPrice": order.take_profit.limit_price},
        "stopLoss": None
        if order.stop_loss is None
        else {"stopPrice": order.stop_loss.stop_price, "limitPrice": order.stop_loss.limit_price},
    }


def _entry_protected(order: Order) -> str | None:
    """The entry whose filled part the engine's exits `order` protect (`trading_core.remainder`)."""
    return order.parent_id if order.engine_protection is EngineProtection.FILLED_PART else None


def _fill(fill: Fill) -> dict[str, Any]:
    return {
        "executionId": str(fill.execution_id),
        "quantity": fill.quantity,
        "price": fill.price,
        "commission": fill.commission,
        "timestamp": rfc3339(fill.timestamp),
    }


def _position(position: Position) -> dict[str, Any]:
    """Quantity and cost basis are absolute, as the API shows them; `side` says which way (null when flat)."""
    flat = not position.is_open
    return {
        "symbol": str(position.symbol),
        "quantity": at_four_places(abs(position.quantity)),
        "side": None if flat else position.side.value,
        "averageEntryPrice": None if flat else position.average_entry_price,
        "costBasis": abs(position.cost_basis),
        "realizedPnl": position.realized_pnl,
        "openedAt": _time(position.opened_at),
        "updatedAt": _time(position.updated_at),
    }


def _submitted(e: OrderSubmitted) -> dict[str, Any]:
    return _order(e.order)


def _filled(e: OrderFilled | OrderPartiallyFilled) -> dict[str, Any]:
    return {**_order(e.order), "fill": _fill(e.fill), "realizedPnl": e.realized_pnl}


def _rejected(e: OrderRejected) -> dict[str, Any]:
    return {**_order(e.order), "code": e.code, "reason": e.reason}


def _cancelled(e: OrderCancelled) -> dict[str, Any]:
    return {**_order(e.order), "reason": e.reason}


def _opened(e: PositionOpened) -> dict[str, Any]:
    return _position(e.position)


def _updated(e: PositionUpdated) -> dict[str, Any]:
    return {**_position(e.position), "realizedPnlChange": e.realized_pnl}


def _closed(e: PositionClosed) -> dict[str, Any]:
    return {**_position(e.position), "realizedPnl": e.realized_pnl, "closedAt": rfc3339(e.ts_event)}


_PAYLOADS: Final[dict[type[Event], Callable[[Any], dict[str, Any]]]] = {
    OrderSubmitted: _submitted,
    OrderPartiallyFilled: _filled,
    OrderFilled: _filled,
    OrderRejected: _rejected,
    OrderCancelled: _cancelled,
    PositionOpened: _opened,
    PositionUpdated: _updated,
    PositionClosed: _closed,
}


def event_payload(event: Event) -> dict[str, Any]:
    """The event's `data`: camelCase keys, `Decimal` amounts, RFC 3339 times, `null` for absent values.

    Raises:
        TypeError: `event` is not one of the published event classes.
    """
    build = _PAYLOADS.get(type(event))
    if build is None:
        raise TypeError(f"no wire format for {type(event).__name__}")
    return build(event)


class EncodedEvent(LazyOutboxMessage):
    """A domain event seen as an `EventMessage`, encoded by `event_payload` on first use."""

    __slots__ = ()

    def __init__(self, event: Event) -> None:
        super().__init__(event, event_payload)


EventRecord = OutboxMessage
"""An `EventMessage` from stored fields, such as an outbox row read back."""


def _message(event: Event | EventMessage) -> EventMessage:
    return EncodedEvent(event) if isinstance(event, Event) else event


def envelope(event: Event | EventMessage, *, source: str = DEFAULT_SOURCE) -> dict[str, Any]:
    """The CloudEvents envelope of an event or an outgoing message, ready for `encode_json`."""
    message = _message(event)
    return {
        "specversion": SPECVERSION,
        "id": str(message.event_id),
        "type": message.type,
        "source": source,
        "time": rfc3339(message.occurred_at),
        "datacontenttype": "application/json",
        "data": message.payload,
    }


def encode_envelope(event: Event | EventMessage, *, source: str = DEFAULT_SOURCE) -> bytes:
    """The bytes published for an event: its envelope as JSON with exact numbers."""
    return encode_json(envelope(event, source=source))
