"""The order store's queries: orders, fills, positions, history, counts and the trading state.

`PostgresOrderStore` inherits these reads; each is one query on a pooled connection in
autocommit, outside any unit of work, so they sit apart from the store's writes and transactions.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from psycopg_pool import AsyncConnectionPool

from adapters.cursor import decode_cursor, encode_cursor, encode_fill_cursor
from adapters.limits import check_limit
from adapters.postgres import history, rows
from adapters.postgres.errors import translated
from trading_core.enums import TradingState
from trading_core.fills import Fill
from trading_core.history import ClosedPositionPage, FillPage, HistoryFilter, PortfolioSnapshot, day_bounds
from trading_core.orders import Order
from trading_core.ports import FillTotals, OrderFilter, OrderPage, TradingStateRecord
from trading_core.positions import Position
from trading_core.values import BrokerOrderId, ClientOrderId, OrderId, Symbol, canonical_uuid

_NEWEST_FIRST: Final = " ORDER BY o.created_at DESC, o.id DESC LIMIT %s"
_BELOW_CURSOR: Final = "(o.created_at, o.id) < (%s::timestamptz, %s::uuid)"
_FILTERS: Final = {
    OrderFilter.OPEN: [rows.OPEN_PREDICATE],
    OrderFilter.CLOSED: [rows.CLOSED_PREDICATE],
    OrderFilter.ALL: [],
}
_COUNT_PENDING: Final = f"SELECT count(*) FROM trading.orders WHERE {rows.OPEN_PREDICATE}"  # noqa: S608
_TRADING_STATE: Final = (
    "SELECT state, reason, changed_at, changed_by FROM trading.trading_state ORDER BY id DESC LIMIT 1"
)


class StoreReads:
    """The store's queries, over the pool the store opens (`PostgresOrderStore` sets `_pool`)."""

    _pool: AsyncConnectionPool[Any]

    async def get_order(self, order_id: OrderId) -> Order | None:
        """The order, or None (also for an id that is no UUID)."""
        if canonical_uuid(order_id) is None:
            return None
        return await self._order(rows.SELECT_ORDERS + " WHERE o.id = %s", order_id)

    async def get_order_by_client_id(self, client_order_id: ClientOrderId) -> Order | None:
        """The order with this client order id, or None."""
        return await self._order(rows.SELECT_ORDERS + " WHERE o.client_order_id = %s", client_order_id)

    async def get_order_by_broker_id(self, broker_order_id: BrokerOrderId) -> Order | None:
        """The order with this broker order id, or None."""
        return await self._order(rows.SELECT_ORDERS + " WHERE o.broker_order_id = %s", broker_order_id)

    async def list_orders(
        self,
        *,
        status: OrderFilter = OrderFilter.OPEN,
        limit: int = 100,
        cursor: str | None = None,
        where: HistoryFilter | None = None,
    ) -> OrderPage:
        """Newest first by (created_at, id); see `adapters.cursor` for why the cursor is stable.

        Raises:
            ValueError: `limit` is less than 1.
        """
        check_limit(limit)
        filtered = history.filter_conditions(where, "o.created_at")
        if filtered is None:
            if cursor is not None:
                decode_cursor(cursor)  # refused as it would be with anything to list
            return OrderPage([])
        conditions = [*_FILTERS[OrderFilter(status)], *filtered[0]]
        params: list[Any] = list(filtered[1])
        if cursor is not None:
            conditions.append(_BELOW_CURSOR)
            params.extend(decode_cursor(cursor))
        where_sql = " WHERE " + " AND ".join(conditions) if conditions else ""
        found = await self._fetchall(rows.SELECT_ORDERS + where_sql + _NEWEST_FIRST, (*params, limit + 1))
        page = [rows.order_from_row(row) for row in found[:limit]]
        more = len(found) > limit
        return OrderPage(page, encode_cursor(page[-1].created_at, page[-1].id) if more else None)

    async def list_fills(self, order_id: OrderId) -> list[Fill]:
        """The order's fills by time, then execution id."""
        if canonical_uuid(order_id) is None:
            return []
        found = await self._fetchall(rows.SELECT_FILLS + " WHERE f.order_id = %s" + rows.FILL_ORDER, (order_id,))
        return [rows.fill_from_row(row) for row in found]

    async def find_fills(
        self, *, where: HistoryFilter | None = None, limit: int = 100, cursor: str | None = None
    ) -> FillPage:
        """Newest first by (time, execution id, order id), as the in-memory store lists them.

        Raises:
            ValueError: `limit` is less than 1.
        """
        check_limit(limit)
        below = history.below_fill(cursor) if cursor is not None else None
        filtered = history.filter_conditions(where, "f.filled_at")
        if filtered is None:
            return FillPage([])
        conditions, params = filtered
        if below is not None:
            conditions.append(below[0])
            params.extend(below[1])
        where_sql = " WHERE " + " AND ".join(conditions) if conditions else ""
        found = await self._fetchall(rows.SELECT_FILLS + where_sql + history.FILLS_NEWEST_FIRST, (*params, limit + 1))
        page = [rows.fill_from_row(row) for row in found[:limit]]
        if len(found) <= limit:
            return FillPage(page)
        last = page[-1]
        return FillPage(page, encode_fill_cursor(last.timestamp, last.order_id, last.execution_id))

    async def realized_by_strategy(self, day: date) -> dict[str | None, Decimal]:
        """Added up by the database over the day's fills."""
        found = await self._fetchall(history.REALIZED_BY_STRATEGY, day_bounds(day))
        return dict(found)

    async def list_closed_positions(
        self,
        *,
        symbol: Symbol | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> ClosedPositionPage:
        """The latest closed first, by (closed_at, execution id, order id).

        Raises:
            ValueError: `limit` is less than 1.
        """
        check_limit(limit)
        conditions, params = history.closed_conditions(symbol, since, until, cursor)
        where_sql = " WHERE " + " AND ".join(conditions) if conditions else ""
        found = await self._fetchall(
            history.SELECT_CLOSED + where_sql + history.CLOSED_NEWEST_FIRST, (*params, limit + 1)
        )
        page = [history.closed_from_row(row) for row in found[:limit]]
        if len(found) <= limit:
            return ClosedPositionPage(page)
        last = page[-1]
        return ClosedPositionPage(page, encode_fill_cursor(last.closed_at, last.order_id, last.execution_id))

    async def list_snapshots(self, *, since: datetime, until: datetime) -> list[PortfolioSnapshot]:
        """Oldest first."""
        found = await self._fetchall(history.SELECT_SNAPSHOTS, (since, until))
        return [history.snapshot_from_row(row) for row in found]

    async def fills_since(self, since: datetime) -> list[Fill]:
        """Fills at or after `since`, by time, then execution id and order id."""
        found = await self._fetchall(rows.SELECT_FILLS + " WHERE f.filled_at >= %s" + rows.FILL_ORDER, (since,))
        return [rows.fill_from_row(row) for row in found]

    async def fill_totals(self) -> FillTotals:
        """Added up by the database: one row and one per symbol, however long the history."""
        ((flow,),) = await self._fetchall(rows.FILLS_CASH_FLOW, ())
        last = await self._fetchall(rows.LAST_FILL_PRICES, ())
        return FillTotals(cash_flow=flow, last_prices={Symbol(symbol): price for symbol, price in last})

    async def get_position(self, symbol: Symbol) -> Position | None:
        """The open position in `symbol`, or None."""
        found = await self._fetchall(rows.SELECT_POSITIONS + " WHERE symbol = %s", (symbol,))
        return rows.position_from_row(found[0]) if found else None

    async def list_positions(self) -> list[Position]:
        """Open positions by symbol."""
        found = await self._fetchall(rows.SELECT_POSITIONS + ' ORDER BY symbol COLLATE "C"', ())
        return [rows.position_from_row(row) for row in found]

    async def last_order_at(self) -> datetime | None:
        """When the newest order was created, or None before the first."""
        moment: datetime | None = await self._scalar("SELECT max(created_at) FROM trading.orders")
        return moment

    async def count_pending_orders(self) -> int:
        """How many orders are open."""
        return int(await self._scalar(_COUNT_PENDING))

    async def count_open_positions(self) -> int:
        """How many positions are open."""
        return int(await self._scalar("SELECT count(*) FROM trading.positions"))

    async def get_trading_state(self) -> TradingStateRecord | None:
        """The last recorded trading state, or None when none was ever recorded."""
        found = await self._fetchall(_TRADING_STATE, ())
        if not found:
            return None
        state, reason, changed_at, changed_by = found[0]
        return TradingStateRecord(
            state=TradingState(state), reason=reason, changed_at=changed_at, changed_by=changed_by
        )

    # helpers

    async def _order(self, query: str, value: str) -> Order | None:
        found = await self._fetchall(query, (value,))
        return rows.order_from_row(found[0]) if found else None

    async def _scalar(self, query: str) -> Any:
        found = await self._fetchall(query, ())
        return found[0][0]

    async def _fetchall(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with translated():
            async with self._pool.connection() as conn:
                cursor = await conn.execute(query, params)
                found: list[tuple[Any, ...]] = await cursor.fetchall()
                return found
