"""The history's SQL (migration 0008): listings of orders and fills by filter, the day's realized
P&L by strategy, closed positions and portfolio snapshots."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from adapters.cursor import decode_fill_cursor
from trading_core.enums import PositionSide
from trading_core.history import ClosedPosition, HistoryFilter, PortfolioSnapshot
from trading_core.values import ExecutionId, OrderId, Symbol, canonical_uuid

INSERT_CLOSED: Final = (
    "INSERT INTO trading.position_history"
    " (order_id, execution_id, symbol, side, opened_at, closed_at, realized_pnl) VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
SELECT_CLOSED: Final = (
    "SELECT order_id::text, execution_id, symbol, side, opened_at, closed_at, realized_pnl"
    " FROM trading.position_history h"
)
CLOSED_NEWEST_FIRST: Final = ' ORDER BY h.closed_at DESC, h.execution_id COLLATE "C" DESC, h.order_id DESC LIMIT %s'
_BELOW_CLOSED: Final = (
    '(h.closed_at, h.execution_id COLLATE "C", h.order_id) < (%s::timestamptz, %s::text COLLATE "C", %s::uuid)'
)

FILLS_NEWEST_FIRST: Final = ' ORDER BY f.filled_at DESC, f.broker_fill_id COLLATE "C" DESC, f.order_id DESC LIMIT %s'
_BELOW_FILL: Final = (
    '(f.filled_at, f.broker_fill_id COLLATE "C", f.order_id) < (%s::timestamptz, %s::text COLLATE "C", %s::uuid)'
)

REALIZED_BY_STRATEGY: Final = (
    "SELECT o.strategy_id::text, sum(f.realized_pnl) FROM trading.fills f JOIN trading.orders o ON o.id = f.order_id"
    " WHERE f.filled_at >= %s AND f.filled_at < %s AND f.realized_pnl <> 0 GROUP BY o.strategy_id"
)

INSERT_SNAPSHOT: Final = (
    "INSERT INTO trading.portfolio_snapshots (taken_at, equity, cash, exposure, realized_pnl, unrealized_pnl)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
)
SELECT_SNAPSHOTS: Final = (
    "SELECT taken_at, equity, cash, exposure, realized_pnl, unrealized_pnl FROM trading.portfolio_snapshots"
    " WHERE taken_at >= %s AND taken_at < %s ORDER BY taken_at, id"
)


def filter_conditions(where: HistoryFilter | None, time_column: str) -> tuple[list[str], list[Any]] | None:
    """SQL conditions on `o` (the order) and `time_column` for `where`; None when nothing can match
    (a strategy id that is no UUID: the column holds only UUIDs)."""
    conditions: list[str] = []
    params: list[Any] = []
    if where is None:
        return conditions, params
    if where.symbol is not None:
        conditions.append("o.symbol = %s")
        params.append(where.symbol)
    if where.side is not None:
        conditions.append("o.side = %s")
        params.append(str(where.side))
    if where.strategy_id is not None:
        strategy = canonical_uuid(where.strategy_id)
        if strategy is None:
            return None
        conditions.append("o.strategy_id = %s::uuid")
        params.append(strategy)
    if where.since is not None:
        conditions.append(f"{time_column} >= %s")
        params.append(where.since)
    if where.until is not None:
        conditions.append(f"{time_column} < %s")
        params.append(where.until)
    return conditions, params


def below_fill(cursor: str) -> tuple[str, tuple[Any, ...]]:
    """The condition (and its parameters) that continues a listing of fills after `cursor`."""
    at, order_id, execution_id = decode_fill_cursor(cursor)
    return _BELOW_FILL, (at, execution_id, order_id)


def closed_conditions(
    symbol: Symbol | None, since: datetime | None, until: datetime | None, cursor: str | None
) -> tuple[list[str], list[Any]]:
    """The WHERE conditions of a listing of closed positions, with their parameters."""
    conditions: list[str] = []
    params: list[Any] = []
    if symbol is not None:
        conditions.append("h.symbol = %s")
        params.append(symbol)
    if since is not None:
        conditions.append("h.closed_at >= %s")
        params.append(since)
    if until is not None:
        conditions.append("h.closed_at < %s")
        params.append(until)
    if cursor is not None:
        at, order_id, execution_id = decode_fill_cursor(cursor)
        conditions.append(_BELOW_CLOSED)
        params.extend((at, execution_id, order_id))
    return conditions, params


def closed_params(closed: ClosedPosition) -> tuple[Any, ...]:
    """INSERT_CLOSED's parameters."""
    return (
        closed.order_id,
        closed.execution_id,
        closed.symbol,
        str(closed.side),
        closed.opened_at,
        closed.closed_at,
        closed.realized_pnl,
    )


def closed_from_row(row: tuple[Any, ...]) -> ClosedPosition:
    """The closed position a row of SELECT_CLOSED holds."""
    order_id, execution_id, symbol, side, opened_at, closed_at, realized_pnl = row
    return ClosedPosition(
        symbol=Symbol(symbol),
        side=PositionSide(side),
        opened_at=opened_at,
        closed_at=closed_at,
        realized_pnl=realized_pnl,
        order_id=OrderId(order_id),
        execution_id=ExecutionId(execution_id),
    )


def snapshot_params(snapshot: PortfolioSnapshot) -> tuple[Any, ...]:
    """INSERT_SNAPSHOT's parameters."""
    return (
        snapshot.taken_at,
        snapshot.equity,
        snapshot.cash,
        snapshot.exposure,
        snapshot.realized_pnl,
        snapshot.unrealized_pnl,
    )


def snapshot_from_row(row: tuple[Any, ...]) -> PortfolioSnapshot:
    """The snapshot a row of SELECT_SNAPSHOTS holds."""
    taken_at, equity, cash, exposure, realized, unrealized = row
    return PortfolioSnapshot(
        taken_at=taken_at, equity=equity, cash=cash, exposure=exposure, realized_pnl=realized, unrealized_pnl=unrealized
    )
