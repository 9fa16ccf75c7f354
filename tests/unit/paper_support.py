"""Shared set-up for the paper exchange's tests: a fixed clock, orders built as the engine builds them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from adapters.paper import PaperConfig, PaperExchange
from trading_core.broker_models import TradeUpdate
from trading_core.clock import TestClock
from trading_core.enums import OrderStatus
from trading_core.orders import Order
from trading_core.requests import OrderRequest
from trading_core.values import ClientOrderId, new_order_id

MONDAY_10AM_ET = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
"""A Monday, 10:00 in New York."""


def new_exchange(clock: TestClock | None = None, **config: Any) -> PaperExchange:
    """An exchange on a fixed clock (Monday 10:00 in New York), configured by keyword."""
    return PaperExchange(clock or TestClock(MONDAY_10AM_ET), config=PaperConfig(**config))


def order(
    symbol: str = "AAPL",
    side: str = "buy",
    quantity: str | int = 10,
    type: str = "market",
    *,
    time_in_force: str = "day",
    limit_price: str | None = None,
    stop_price: str | None = None,
    client_order_id: str | None = None,
) -> Order:
    """An order as the engine sends it: validated by `OrderRequest.create`, status pending_new."""
    request = OrderRequest.create(
        symbol=symbol,
        side=side,
        type=type,
        quantity=str(quantity),
        time_in_force=time_in_force,
        limit_price=limit_price,
        stop_price=stop_price,
    )
    return Order.from_request(
        request,
        order_id=new_order_id(),
        client_order_id=ClientOrderId(client_order_id or str(uuid.uuid4())),
        now=MONDAY_10AM_ET,
    )


def events(updates: Sequence[TradeUpdate]) -> list[tuple[str, OrderStatus]]:
    """(event, order status after it) for each update."""
    return [(str(u.event), u.order.status) for u in updates]


def fills(updates: Sequence[TradeUpdate]) -> list[tuple[Decimal | None, Decimal | None]]:
    """(quantity, price) of each fill and partial fill."""
    return [(u.quantity, u.price) for u in updates if u.is_fill]


def D(text: str | int) -> Decimal:  # noqa: N802  # reads like the literal it stands for
    return Decimal(text)
