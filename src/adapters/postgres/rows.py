"""Rows of the `trading` tables: the SQL that reads and writes them, and their domain values.

Each statement and the function that builds its parameters (or reads its rows) sit together, so
the column order cannot drift between them. An order's row is its fields, each its own column
(`type` is `order_type`): the statements' column lists are made from that field map, and one
cattrs converter (`_ROWS`) turns an order into its row's values and a row back into an order.
Amounts go in and come out as Decimal; a value the schema could not hold exactly (more than four
places in a DECIMAL(15, 4), a naive timestamp) is refused with `StoreError` instead of being
rounded or shifted by the database.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import attrs
import cattrs
from cattrs.fns import identity
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from psycopg.types.json import Jsonb

from trading_core.enums import OrderStatus, PositionSide, Side
from trading_core.errors import StoreError
from trading_core.fills import Fill
from trading_core.order_classes import StopLoss, TakeProfit
from trading_core.orders import Order
from trading_core.positions import Position
from trading_core.values import (
    FOUR_PLACES,
    ZERO,
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

# orders: their one field map, both ways

_ORDER_FIELDS: Final = tuple(a.name for a in attrs.fields(Order) if a.name != "execution_ids")
"""The fields an order's row holds, in the order of its columns: every one but its execution ids,
which are its fills' (`SELECT_ORDERS` reads them from there)."""
_ORDER_COLUMN: Final = {"type": "order_type"}
"""The fields whose column has another name; every other field is its own column."""
_FOUR_PLACE_COLUMNS: Final = (
    "quantity",
    "filled_quantity",
    "limit_price",
    "stop_price",
    "trail_price",
    "trail_percent",
)
"""The order's DECIMAL(15, 4) columns, which refuse what they would round (`filled_notional` is exact NUMERIC)."""
_UUID_COLUMNS: Final = frozenset({"id", "strategy_id", "decision_id", "replaces", "replaced_by", "parent_id", "leg_of"})
"""Read as text: the domain keeps ids as strings."""
_CASTS: Final = {**dict.fromkeys(_UUID_COLUMNS, "::text"), "legs": "::text[]"}

_ORDER_COLUMNS: Final = ", ".join([*(_ORDER_COLUMN.get(f, f) for f in _ORDER_FIELDS), "average_fill_price"])
"""`average_fill_price` is kept for readers of the table: the domain works it out from the fills' total."""
_ORDER_VALUES: Final = ", ".join(["%s"] * (len(_ORDER_FIELDS) + 1))

INSERT_ORDER: Final = (
    f"INSERT INTO trading.orders ({_ORDER_COLUMNS}) VALUES ({_ORDER_VALUES})"  # noqa: S608  # constants only
    " ON CONFLICT (client_order_id) DO NOTHING"
)
"""Inserts nothing (rowcount 0) when the client order id is taken, leaving the transaction usable."""

INSERT_NEW_ORDER: Final = f"INSERT INTO trading.orders ({_ORDER_COLUMNS}) VALUES ({_ORDER_VALUES})"  # noqa: S608
"""Fails on a taken client order id, taking the whole statement with it (`OrderStore.add_orders`)."""

UPDATE_ORDER: Final = f"UPDATE trading.orders SET ({_ORDER_COLUMNS}) = ({_ORDER_VALUES}) WHERE id = %s"  # noqa: S608

SELECT_ORDERS: Final = (
    "SELECT "  # noqa: S608  # constants only
    + ", ".join(f"o.{_ORDER_COLUMN.get(f, f)}{_CASTS.get(f, '')}" for f in _ORDER_FIELDS)
    + ", ARRAY(SELECT f.broker_fill_id FROM trading.fills f"
    " WHERE f.order_id = o.id AND f.broker_fill_id IS NOT NULL) AS execution_ids"
    " FROM trading.orders o"
)
"""Every column of an order; its execution ids come from its fills, which are the record of them."""
_ORDER_READ: Final = (*_ORDER_FIELDS, "execution_ids")


def order_params(order: Order) -> tuple[Any, ...]:
    """The parameters of INSERT_ORDER (UPDATE_ORDER adds the id once more at the end).

    Raises:
        StoreError: an amount has digits its column would lose, or a moment has no time zone.
    """
    row = _ROWS.unstructure(order)
    return (*[row[field] for field in _ORDER_FIELDS], order.average_fill_price)


def order_from_row(row: Sequence[Any]) -> Order:
    """The order a row of SELECT_ORDERS holds."""
    return _ROWS.structure(dict(zip(_ORDER_READ, row, strict=True)), Order)


# fills

INSERT_FILL: Final = (
    "INSERT INTO trading.fills (order_id, broker_fill_id, quantity, price, commission, filled_at, realized_pnl)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
)

SELECT_FILLS: Final = (
    "SELECT f.order_id::text, f.broker_fill_id, o.symbol, o.side, f.quantity, f.price, f.filled_at, f.commission,"
    " f.realized_pnl FROM trading.fills f JOIN trading.orders o ON o.id = f.order_id"
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
    """INSERT_FILL's parameters.

    Raises:
        StoreError: an amount has digits its column would lose, or its time has no time zone.
    """
    return (
        fill.order_id,
        fill.execution_id,
        _four(fill.quantity, "fill quantity"),
        _four(fill.price, "fill price"),
        _four(fill.commission, "commission"),
        _aware(fill.timestamp, "filled_at"),
        fill.realized_pnl,
    )


def fill_from_row(row: tuple[Any, ...]) -> Fill:
    """The fill a row of SELECT_FILLS holds."""
    order_id, execution_id, symbol, side, quantity, price, filled_at, commission, realized_pnl = row
    return Fill(
        order_id=OrderId(order_id),
        execution_id=ExecutionId(execution_id),
        symbol=Symbol(symbol),
        side=Side(side),
        quantity=quantity,
        price=price,
        timestamp=filled_at,
        commission=_amount_or_zero(commission),
        realized_pnl=realized_pnl,
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
    """The position a row of SELECT_POSITIONS holds, signed again by its side."""
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


# the converter


def _as_read(value: Any, _: type) -> Any:
    """psycopg reads amounts as Decimal and moments as aware datetimes: nothing is left to do."""
    return value


def _filled_quantity(value: Decimal | None, _: type) -> Decimal:
    return _amount_or_zero(value)


def _four_places(column: str) -> Callable[[Decimal | None], Decimal | None]:
    return lambda value: _four_or_none(value, column)


def _aware_moment(column: str) -> Callable[[datetime | None], datetime | None]:
    return lambda value: _aware_or_none(value, column)


def _is_optional(hint: Any) -> bool:
    args = typing.get_args(hint)
    return len(args) == 2 and type(None) in args and typing.get_origin(hint) in (typing.Union, types.UnionType)


def _optional(hint: Any, converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """`X | None` read as X, or None: `X`'s hook is looked up once here, where cattrs would look it up per value."""
    (inner,) = (arg for arg in typing.get_args(hint) if arg is not type(None))
    structure = converter.get_structure_hook(inner)
    if structure is _as_read:
        return _as_read
    return lambda value, _: None if value is None else structure(value, inner)


def _legs_in(legs: tuple[OrderId, ...]) -> list[str]:
    return list(legs)  # psycopg writes a list as an array (a tuple would be a record)


def _legs_out(value: list[str] | None, _: type) -> tuple[OrderId, ...]:
    return tuple(OrderId(v) for v in value or ())


def _exit_in(value: TakeProfit | StopLoss | None) -> Jsonb | None:
    """An exit's prices as a JSON object of exact strings, its absent ones left out."""
    if value is None:
        return None
    return Jsonb({name: str(v) for name, v in attrs.asdict(value).items() if v is not None})


def _exit_out(kind: type[TakeProfit] | type[StopLoss]) -> Callable[[Any, Any], Any]:
    def read(value: dict[str, str] | None, _: Any) -> Any:
        return None if value is None else kind(**{name: Decimal(v) for name, v in value.items()})

    return read


def _row_converter() -> cattrs.Converter:
    """Orders to rows and back: each field is its column, with the checks its column needs on the way in."""
    converter = cattrs.Converter(detailed_validation=False)  # a row the schema let in is well formed
    converter.register_unstructure_hook_func(lambda _: True, identity)  # psycopg writes the values as they are
    converter.register_structure_hook(Decimal, _as_read)
    converter.register_structure_hook(datetime, _as_read)
    converter.register_structure_hook_factory(_is_optional, _optional)
    moments = [name for name, hint in typing.get_type_hints(Order).items() if hint in (datetime, datetime | None)]
    fields: dict[str, Any] = {"execution_ids": override(omit=True)}
    fields |= {name: override(unstruct_hook=_four_places(name)) for name in _FOUR_PLACE_COLUMNS}
    fields |= {name: override(unstruct_hook=_aware_moment(name)) for name in moments}
    fields |= {
        "legs": override(unstruct_hook=_legs_in),
        "take_profit": override(unstruct_hook=_exit_in),
        "stop_loss": override(unstruct_hook=_exit_in),
    }
    unstructure = make_dict_unstructure_fn(Order, converter, **fields)
    converter.register_unstructure_hook(Order, unstructure)
    structure = make_dict_structure_fn(
        Order,
        converter,
        filled_quantity=override(struct_hook=_filled_quantity),
        legs=override(struct_hook=_legs_out),
        take_profit=override(struct_hook=_exit_out(TakeProfit)),
        stop_loss=override(struct_hook=_exit_out(StopLoss)),
    )
    converter.register_structure_hook(Order, structure)
    return converter


_ROWS: Final = _row_converter()
