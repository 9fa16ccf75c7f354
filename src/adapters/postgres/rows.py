"""Rows of the `trading` tables: the SQL that reads and writes them, and their domain values.

Each statement and the function that builds its parameters (or reads its rows) sit together, so
the column order cannot drift between them. Amounts go in and come out as Decimal; a value the
schema could not hold exactly (more than four places in a DECIMAL(15, 4), a naive timestamp) is
refused with `StoreError` instead of being rounded or shifted by the database.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from trading_core.enums import OrderStatus, OrderType, PositionSide, Side, TimeInForce
from trading_core.errors import StoreError
from trading_core.fills import Fill
from trading_core.orders import Order
from trading_core.positions import Position
from trading_core.values import (
    FOUR_PLACES,
    ZERO,
    BrokerOrderId,
    ClientOrderId,
    ExecutionId,
    OrderId,
    Symbol,
    money,
)

CLOSED_STATUSES: Final = tuple(sorted(s.value for s in OrderStatus if not s.is_open))
"""Written out in the open-orders index of migration 0002; a test keeps the two equal."""

_CLOSED_SQL: Final = ", ".join(f"'{s}'" for s in CLOSED_STATUSES)
OPEN_PREDICATE: Final = f"status NOT IN ({_CLOSED_SQL})"
"""Word for word the predicate of idx_orders_open_created, so the planner can use that index."""
CLOSED_PREDICATE: Final = f"status IN ({_CLOSED_SQL})"

# orders

_ORDER_COLUMNS: Final = (
    "id, client_order_id, broker_order_id, symbol, side, order_type, time_in_force, quantity, filled_quantity,"
    " filled_notional, average_fill_price, limit_price, stop_price, trail_price, trail_percent, status,"
    " extended_hours, strategy_id, decision_id, submitted_at, filled_at, cancelled_at, created_at, updated_at,"
    " rejection_code, rejection_reason, replaces, replaced_by, parent_id"
)
_ORDER_VALUES: Final = ", ".join(["%s"] * 29)

INSERT_ORDER: Final = (
    f"INSERT INTO trading.orders ({_ORDER_COLUMNS}) VALUES ({_ORDER_VALUES})"  # noqa: S608  # constants only
    " ON CONFLICT (client_order_id) DO NOTHING"
)
"""Inserts nothing (rowcount 0) when the client order id is taken, leaving the transaction usable."""

INSERT_NEW_ORDER: Final = f"INSERT INTO trading.orders ({_ORDER_COLUMNS}) VALUES ({_ORDER_VALUES})"  # noqa: S608
"""Fails on a taken client order id, taking the whole statement with it (`OrderStore.add_orders`)."""

UPDATE_ORDER: Final = f"UPDATE trading.orders SET ({_ORDER_COLUMNS}) = ({_ORDER_VALUES}) WHERE id = %s"  # noqa: S608

SELECT_ORDERS: Final = (
    "SELECT o.id::text, o.client_order_id, o.broker_order_id, o.symbol, o.side, o.order_type, o.time_in_force,"
    " o.quantity, o.filled_quantity, o.filled_notional, o.limit_price, o.stop_price, o.trail_price,"
    " o.trail_percent, o.status, o.extended_hours, o.strategy_id::text, o.decision_id::text, o.submitted_at,"
    " o.filled_at, o.cancelled_at, o.created_at, o.updated_at, o.rejection_code, o.rejection_reason,"
    " o.replaces::text, o.replaced_by::text, o.parent_id::text,"
    " ARRAY(SELECT f.broker_fill_id FROM trading.fills f"
    " WHERE f.order_id = o.id AND f.broker_fill_id IS NOT NULL) AS execution_ids"
    " FROM trading.orders o"
)
"""Every column of an order; its execution ids come from its fills, which are the record of them."""


def order_params(order: Order) -> tuple[Any, ...]:
    """The parameters of INSERT_ORDER (UPDATE_ORDER adds the id once more at the end)."""
    return (
        order.id,
        order.client_order_id,
        order.broker_order_id,
        order.symbol,
        order.side,
        order.type,
        order.time_in_force,
        _four(order.quantity, "quantity"),
        _four(order.filled_quantity, "filled_quantity"),
        order.filled_notional,
        order.average_fill_price,
        _four_or_none(order.limit_price, "limit_price"),
        _four_or_none(order.stop_price, "stop_price"),
        _four_or_none(order.trail_price, "trail_price"),
        _four_or_none(order.trail_percent, "trail_percent"),
        order.status,
        order.extended_hours,
        order.strategy_id,
        order.decision_id,
        _aware_or_none(order.submitted_at, "submitted_at"),
        _aware_or_none(order.filled_at, "filled_at"),
        _aware_or_none(order.cancelled_at, "cancelled_at"),
        _aware(order.created_at, "created_at"),
        _aware(order.updated_at, "updated_at"),
        order.rejection_code,
        order.rejection_reason,
        order.replaces,
        order.replaced_by,
        order.parent_id,
    )


def order_from_row(row: tuple[Any, ...]) -> Order:
    (
        order_id,
        client_order_id,
        broker_order_id,
        symbol,
        side,
        order_type,
        time_in_force,
        quantity,
        filled_quantity,
        filled_notional,
        limit_price,
        stop_price,
        trail_price,
        trail_percent,
        status,
        extended_hours,
        strategy_id,
        decision_id,
        submitted_at,
        filled_at,
        cancelled_at,
        created_at,
        updated_at,
        rejection_code,
        rejection_reason,
        replaces,
        replaced_by,
        parent_id,
        execution_ids,
    ) = row
    return Order(
        id=OrderId(order_id),
        client_order_id=ClientOrderId(client_order_id),
        broker_order_id=None if broker_order_id is None else BrokerOrderId(broker_order_id),
        symbol=Symbol(symbol),
        side=Side(side),
        type=OrderType(order_type),
        time_in_force=TimeInForce(time_in_force),
        quantity=quantity,
        filled_quantity=_amount_or_zero(filled_quantity),
        filled_notional=filled_notional,
        limit_price=limit_price,
        stop_price=stop_price,
        trail_price=trail_price,
        trail_percent=trail_percent,
        status=OrderStatus(status),
        extended_hours=bool(extended_hours),
        strategy_id=strategy_id,
        decision_id=decision_id,
        submitted_at=submitted_at,
        filled_at=filled_at,
        cancelled_at=cancelled_at,
        created_at=created_at,
        updated_at=updated_at,
        rejection_code=rejection_code,
        rejection_reason=rejection_reason,
        replaces=None if replaces is None else OrderId(replaces),
        replaced_by=None if replaced_by is None else OrderId(replaced_by),
        parent_id=None if parent_id is None else OrderId(parent_id),
        execution_ids=frozenset(ExecutionId(e) for e in execution_ids),
    )


# fills

INSERT_FILL: Final = (
    "INSERT INTO trading.fills (order_id, broker_fill_id, quantity, price, commission, filled_at)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
)

SELECT_FILLS: Final = (
    "SELECT f.order_id::text, f.broker_fill_id, o.symbol, o.side, f.quantity, f.price, f.filled_at, f.commission"
    " FROM trading.fills f JOIN trading.orders o ON o.id = f.order_id"
)
"""A fill's symbol and side are its order's: the fills table does not repeat them."""

FILL_ORDER: Final = ' ORDER BY f.filled_at, f.broker_fill_id COLLATE "C", f.order_id'

FILLS_CASH_FLOW: Final = (
    "SELECT COALESCE(sum(CASE WHEN o.side = 'buy' THEN -f.quantity * f.price ELSE f.quantity * f.price END"
    " - COALESCE(f.commission, 0)), 0) FROM trading.fills f JOIN trading.orders o ON o.id = f.order_id"
)
"""`fills.cash_flow` of every stored fill, in exact NUMERIC arithmetic."""

LAST_FILL_PRICES: Final = (
    "SELECT DISTINCT ON (o.symbol) o.symbol, f.price FROM trading.fills f JOIN trading.orders o ON o.id = f.order_id"
    ' ORDER BY o.symbol, f.filled_at DESC, f.broker_fill_id COLLATE "C" DESC, f.order_id DESC'
)
"""Each symbol's last fill in FILL_ORDER (DESC puts NULL ids first, where ascending order puts them last)."""


def fill_params(fill: Fill) -> tuple[Any, ...]:
    return (
        fill.order_id,
        fill.execution_id,
        _four(fill.quantity, "fill quantity"),
        _four(fill.price, "fill price"),
        _four(fill.commission, "commission"),
        _aware(fill.timestamp, "filled_at"),
    )


def fill_from_row(row: tuple[Any, ...]) -> Fill:
    order_id, execution_id, symbol, side, quantity, price, filled_at, commission = row
    return Fill(
        order_id=OrderId(order_id),
        execution_id=ExecutionId(execution_id),
        symbol=Symbol(symbol),
        side=Side(side),
        quantity=quantity,
        price=price,
        timestamp=filled_at,
        commission=_amount_or_zero(commission),
    )


# positions

UPSERT_POSITION: Final = (
    "INSERT INTO trading.positions (symbol, quantity, side, average_entry_price, cost_basis, cost_basis_exact,"
    " realized_pnl, opened_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (symbol) DO UPDATE SET quantity = EXCLUDED.quantity, side = EXCLUDED.side,"
    " average_entry_price = EXCLUDED.average_entry_price, cost_basis = EXCLUDED.cost_basis,"
    " cost_basis_exact = EXCLUDED.cost_basis_exact, realized_pnl = EXCLUDED.realized_pnl,"
    " opened_at = EXCLUDED.opened_at, updated_at = EXCLUDED.updated_at"
)
UPDATE_POSITION: Final = (
    "UPDATE trading.positions SET (quantity, side, average_entry_price, cost_basis, cost_basis_exact, realized_pnl,"
    " opened_at, updated_at) = (%s, %s, %s, %s, %s, %s, %s, %s) WHERE symbol = %s"
)
"""The row of a position known to be there: `versioned_position_params` (the symbol last)."""
INSERT_POSITION_SELECT: Final = (
    "INSERT INTO trading.positions (symbol, quantity, side, average_entry_price, cost_basis, cost_basis_exact,"
    " realized_pnl, opened_at, updated_at) SELECT %s, %s::numeric, %s, %s::numeric, %s::numeric, %s::numeric,"
    " %s::numeric, %s::timestamptz, %s::timestamptz"
)
"""UPSERT_POSITION's insert as a SELECT, to which a FROM can be added; `position_params`."""
DELETE_POSITION: Final = "DELETE FROM trading.positions WHERE symbol = %s"
"""The table caches open positions: one that goes flat is deleted."""

SELECT_POSITIONS: Final = (
    "SELECT symbol, quantity, side, cost_basis_exact, realized_pnl, opened_at, updated_at FROM trading.positions"
)


def position_params(position: Position) -> tuple[Any, ...]:
    """UPSERT_POSITION's parameters: the spec's unsigned quantity and side, beside the exact values."""
    return (
        position.symbol,
        _four(abs(position.quantity), "position quantity"),
        position.side,
        position.average_entry_price,
        money(position.cost_basis),
        position.cost_basis,
        position.realized_pnl,
        _aware_or_none(position.opened_at, "opened_at"),
        _aware_or_none(position.updated_at, "updated_at"),
    )


def versioned_position_params(position: Position) -> tuple[Any, ...]:
    """UPDATE_POSITION's parameters: `position_params` with the symbol moved to the end."""
    symbol, *values = position_params(position)
    return (*values, symbol)


def position_from_row(row: tuple[Any, ...]) -> Position:
    symbol, quantity, side, cost_basis, realized_pnl, opened_at, updated_at = row
    return Position(
        symbol=Symbol(symbol),
        quantity=-quantity if side == PositionSide.SHORT else quantity,
        cost_basis=cost_basis,
        realized_pnl=realized_pnl,
        opened_at=opened_at,
        updated_at=updated_at,
    )


# checks on the way in, and back out


def _amount_or_zero(value: Decimal | None) -> Decimal:
    """A four-place column whose domain default is ZERO: a stored 0.0000 (or NULL) reads as ZERO.

    Without this an order that never filled would come back with `0.0000` where the domain (and
    the in-memory store) has `0`: equal, but not the same text in a payload.
    """
    return value if value else ZERO


def _four(value: Decimal, column: str) -> Decimal:
    """`value` when DECIMAL(15, 4) holds it exactly; beyond eleven integer digits the database refuses."""
    try:
        if value == value.quantize(FOUR_PLACES):
            return value
    except InvalidOperation:
        pass
    raise StoreError(f"{column} has digits that DECIMAL(15, 4) would lose, was {value}", details={"column": column})


def _four_or_none(value: Decimal | None, column: str) -> Decimal | None:
    return None if value is None else _four(value, column)


def _aware(value: datetime, column: str) -> datetime:
    if value.tzinfo is None:
        raise StoreError(f"{column} must be timezone-aware, was {value.isoformat()}", details={"column": column})
    return value


def _aware_or_none(value: datetime | None, column: str) -> datetime | None:
    return None if value is None else _aware(value, column)
