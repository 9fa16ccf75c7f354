"""The paper exchange's trade updates and the order snapshot of its fast path, as Alpaca words them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.enums import OrderStatus, OrderType
from trading_core.orders import Order, TradeEvent
from trading_core.values import ZERO, BrokerOrderId, ExecutionId, Symbol


def market_order(
    order: Order, broker_order_id: BrokerOrderId, symbol: Symbol, now: datetime, *, fill_price: Decimal | None = None
) -> BrokerOrder:
    """The snapshot of a market order taken at `now`: `new`, or with `fill_price` filled whole then."""
    filled = fill_price is not None
    return BrokerOrder(
        broker_order_id=broker_order_id,
        client_order_id=order.client_order_id,
        symbol=symbol,
        side=order.side,
        type=OrderType.MARKET,
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


def order_update(event: TradeEvent, order: BrokerOrder, now: datetime) -> TradeUpdate:
    """The update announcing that `order` moved with `event` (no execution)."""
    return TradeUpdate(event=event, order=order, timestamp=now)


def fill_update(
    event: TradeEvent,
    order: BrokerOrder,
    now: datetime,
    *,
    execution_id: ExecutionId,
    fill_price: Decimal,
    quantity: Decimal,
    position_quantity: Decimal,
) -> TradeUpdate:
    """The update of one execution (`fill` or `partial_fill`)."""
    return TradeUpdate(
        event=event,
        order=order,
        timestamp=now,
        execution_id=execution_id,
        price=fill_price,
        quantity=quantity,
        position_quantity=position_quantity,
    )
