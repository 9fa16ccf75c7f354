"""The order snapshot of the paper exchange's fast path, as Alpaca words it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from trading_core.broker_models import BrokerOrder
from trading_core.enums import OrderStatus
from trading_core.orders import Order
from trading_core.values import ZERO, BrokerOrderId, Symbol


def market_order(
    order: Order, broker_order_id: BrokerOrderId, symbol: Symbol, now: datetime, *, fill_price: Decimal | None = None
) -> BrokerOrder:
    """The snapshot of a market order taken at `now`: `new`, or with `fill_price` filled whole then.

    `order` is a market order (`type` is its own).
    """
    filled = fill_price is not None
    return BrokerOrder(
        broker_order_id=broker_order_id,
        client_order_id=order.client_order_id,
        symbol=symbol,
        side=order.side,
        type=order.type,
        time_in_force=order.time_in_force,
        quantity=order.quantity,
        status=OrderStatus.FILLED if filled else OrderStatus.NEW,
        created_at=now,
        updated_at=now,
        submitted_at=now,
        filled_quantity=order.quantity if filled else ZERO,
        filled_average_price=fill_price,
        extended_hours=order.extended_hours,
        filled_at=now if filled else None,
    )
