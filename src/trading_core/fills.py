"""Fills: one execution of (part of) an order. Applying one is `trading_core.lifecycle.execute`."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from decimal import Decimal

import attrs

from trading_core.enums import Side
from trading_core.values import ZERO, BrokerOrderId, ExecutionId, OrderId, Symbol


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
    realized_pnl: Decimal = ZERO
    """What this fill realized on its position (zero when it only opened or added to it): kept with
    the fill, as the position's own figure starts again each time it reopens."""


def cash_flow(fills: Iterable[Fill]) -> Decimal:
    """The cash `fills` moved: sales in, purchases and commissions out."""
    total = ZERO
    for fill in fills:
        notional = fill.quantity * fill.price
        total += (-notional if fill.side is Side.BUY else notional) - fill.commission
    return total


def made_up_execution_id(broker_order_id: BrokerOrderId, cumulative: Decimal) -> ExecutionId:
    """The id of a fill made up from a broker's cumulative quantity (no execution of its own was
    heard): it stands for every execution up to `cumulative` that had not been applied."""
    return ExecutionId(f"{broker_order_id}:{cumulative}")


def is_made_up(execution_id: ExecutionId) -> bool:
    """Whether `execution_id` is a made-up fill's (`made_up_execution_id`), not a broker's own."""
    return _made_up_cumulative(execution_id) is not None


def counted(execution_ids: Collection[ExecutionId], filled_quantity: Decimal, execution_id: ExecutionId) -> Decimal:
    """What of the broker's cumulative quantity an order has counted (its `execution_ids`, its
    `filled_quantity`), as a fill under `execution_id` sees it: a made-up fill, all the order
    filled; a broker's own execution, what made-up fills among the order's stand for."""
    if not execution_ids and not filled_quantity:
        return ZERO  # nothing counted yet (an order's first fill, the usual case), whatever the fill's id
    if is_made_up(execution_id):
        return filled_quantity
    return made_up_coverage(execution_ids)


def made_up_coverage(execution_ids: Collection[ExecutionId]) -> Decimal:
    """The cumulative quantity that made-up fills among `execution_ids` stand for: a broker's own
    execution up to it is counted already."""
    if not execution_ids:  # an order's first fill, the usual case
        return ZERO
    return max((c for c in map(_made_up_cumulative, execution_ids) if c is not None), default=ZERO)


def _made_up_cumulative(execution_id: ExecutionId) -> Decimal | None:
    head, colon, tail = execution_id.rpartition(":")
    if not colon or not head:
        return None
    try:
        cumulative = Decimal(tail)
    except ArithmeticError:
        return None
    return cumulative if cumulative.is_finite() else None
