"""Fills: one execution of (part of) an order. Applying one is `trading_core.lifecycle.execute`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import attrs

from trading_core.enums import Side
from trading_core.values import ZERO, ExecutionId, OrderId, Symbol


@attrs.frozen(kw_only=True)
class Fill:
    """One execution of (part of) an order."""

    order_id: OrderId
    execution_id: ExecutionId
    symbol: Symbol
    side: Side
    quantity: Decimal
    price: Decimal
    timestamp: datetime
    commission: Decimal = ZERO


def cash_flow(fills: Iterable[Fill]) -> Decimal:
    """The cash `fills` moved: sales in, purchases and commissions out."""
    total = ZERO
    for fill in fills:
        notional = fill.quantity * fill.price
        total += (-notional if fill.side is Side.BUY else notional) - fill.commission
    return total
