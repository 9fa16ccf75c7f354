"""The core's orders written as Alpaca's request bodies: decimals as plain strings, absent members left out."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from adapters.alpaca.wire import unstructure_present
from trading_core.enums import OrderClass, TimeInForce
from trading_core.orders import Order
from trading_core.values import ClientOrderId

__all__ = ["order_body", "replace_body"]


def order_body(order: Order) -> dict[str, Any]:
    """The `POST /v2/orders` body for an order: decimals as strings, absent prices left out."""
    body: dict[str, Any] = {
        "symbol": str(order.symbol),
        "qty": order.quantity,
        "side": order.side.value,
        "type": order.type.value,
        "time_in_force": order.time_in_force.value,
        "client_order_id": str(order.client_order_id),
        "limit_price": order.limit_price,
        "stop_price": order.stop_price,
        "trail_price": order.trail_price,
        "trail_percent": order.trail_percent,
    }
    if order.extended_hours:
        body["extended_hours"] = True
    if order.order_class is not OrderClass.SIMPLE:
        body["order_class"] = order.order_class.value
        if order.order_class is OrderClass.OCO:
            body["limit_price"] = None  # Alpaca prices an OCO by its take-profit's limit
        if order.take_profit is not None:
            body["take_profit"] = {"limit_price": order.take_profit.limit_price}
        if order.stop_loss is not None:
            stop_loss = {"stop_price": order.stop_loss.stop_price, "limit_price": order.stop_loss.limit_price}
            body["stop_loss"] = {k: v for k, v in stop_loss.items() if v is not None}
    return unstructure_present(body)


def replace_body(
    *,
    client_order_id: ClientOrderId,
    quantity: Decimal | None,
    limit_price: Decimal | None,
    stop_price: Decimal | None,
    time_in_force: TimeInForce | None,
    trail: Decimal | None = None,
) -> dict[str, Any]:
    """The `PATCH /v2/orders/{id}` body: only what changes, plus the new order's client id
    (and a trailing stop's new `trail`)."""
    body = {
        "client_order_id": str(client_order_id),
        "qty": quantity,
        "limit_price": limit_price,
        "stop_price": stop_price,
        "time_in_force": time_in_force.value if time_in_force is not None else None,
        "trail": trail,
    }
    return unstructure_present(body)
