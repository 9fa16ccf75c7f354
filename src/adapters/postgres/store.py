"""PostgresOrderStore: the OrderStore port on PostgreSQL, psycopg 3 async over a connection pool.

Nothing connects in the constructor: `await PostgresOrderStore.open(conninfo, payload_of=...)`
opens the pool (and optionally applies the migrations), `await store.close()` closes it. Pooled
connections are checked before they are lent (`connections.LivenessCheck`), so one the server
dropped is replaced instead of failing the caller, and `ping()` tells the health endpoint whether
the database answers.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from datetime import date, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Final

import psycopg
from psycopg import pq
from psycopg_pool import AsyncConnectionPool

from adapters.cursor import decode_cursor, encode_cursor, encode_fill_cursor
from adapters.outbox import PayloadOf
from adapters.postgres import history, rows
from adapters.postgres.batch import WriteBatch, WriteKind
from adapters.postgres.connections import LivenessCheck, StoreConnection, Transaction, connection_options
from adapters.postgres.errors import translated
from adapters.postgres.group_commit import GroupCommit
from adapters.postgres.migrate import apply_migrations
from adapters.postgres.outbox import PRUNE, claim, encode_events
from adapters.postgres.remembered import RememberedRows
from adapters.postgres.symbol_locks import SymbolLocks
from adapters.postgres.unit_of_work import PostgresUnitOfWork
from trading_core.enums import TradingState
from trading_core.events import Event
from trading_core.fills import Fill
from trading_core.history import ClosedPositionPage, FillPage, HistoryFilter, PortfolioSnapshot, day_bounds
from trading_core.orders import Order
from trading_core.ports import FillTotals, OrderFilter, OrderPage, OutboxBatch, TradingStateRecord, UnitOfWork
from trading_core.positions import Position
from trading_core.values import BrokerOrderId, ClientOrderId, OrderId, Symbol, canonical_uuid

__all__ = ["PostgresOrderStore"]

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


class PostgresOrderStore:
    """Orders, fills, positions, trading state and the outbox in the `trading` schema.

    Args:
        pool: a psycopg pool whose connections are in autocommit mode and use UTC (`open` builds
            one, with `connections.connection_options`, `StoreConnection`s and a `LivenessCheck`).
        payload_of: turns a domain event into its JSON-ready payload for the outbox.
        ping_timeout: seconds `ping()` waits for a connection before it answers False.
    """

    def __init__(self, pool: AsyncConnectionPool[Any], *, payload_of: PayloadOf, ping_timeout: float = 2.0) -> None:
        self._pool = pool
        self._payload_of = payload_of
        self._ping_timeout = ping_timeout
        self._remembered = RememberedRows()
        self._group = GroupCommit(pool)
        self._symbol_locks = SymbolLocks(pool)
        self._snapshots = itertools.count()
        """Numbers the snapshots' keys in a group commit's batch, where each write has a key of its own."""

    @classmethod
    async def open(
        cls,
        conninfo: str,
        *,
        payload_of: PayloadOf,
        min_size: int = 1,
        max_size: int = 10,
        pool_timeout: float = 30.0,
        migrate: bool = False,
        wait: bool = True,
        ping_timeout: float = 2.0,
    ) -> PostgresOrderStore:
        """Open a pool on `conninfo` and return the store on it.

        Args:
            conninfo: a libpq connection string or URL.
            payload_of: turns a domain event into its JSON-ready payload.
            min_size: connections kept open.
            max_size: connections at most; writers beyond it wait up to `pool_timeout` seconds.
            pool_timeout: seconds to wait for a connection (and, with `wait`, for the first ones).
            migrate: apply pending migrations first.
            wait: wait until `min_size` connections are open; without it the store opens even
                when the database is down, and `ping()` says so.
            ping_timeout: seconds `ping()` waits for a connection before it answers False.

        Raises:
            StoreError: the database could not be reached (or migrated) in time.
        """
        if migrate:
            await apply_migrations(conninfo)
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            conninfo,
            open=False,
            min_size=min_size,
            max_size=max_size,
            timeout=pool_timeout,
            kwargs=connection_options(conninfo),
            connection_class=StoreConnection,
            check=LivenessCheck(),
            name="trading-store",
        )
        with translated():
            try:
                await pool.open(wait=wait, timeout=pool_timeout)
            except psycopg.Error:
                await pool.close()
                raise
        return cls(pool, payload_of=payload_of, ping_timeout=ping_timeout)

    async def close(self) -> None:
        """Close the pool and its connections."""
        await self._pool.close()

    async def __aenter__(self) -> PostgresOrderStore:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # transactions

    def unit_of_work(self, *, optimistic: bool = False) -> AbstractAsyncContextManager[UnitOfWork]:
        """One transaction (`PostgresUnitOfWork`); `optimistic`: rows read for update may be taken as remembered."""
        return PostgresUnitOfWork(
            self._pool, self._payload_of, remembered=self._remembered, group=self._group, optimistic=optimistic
        )

    async def add_orders(self, orders: Sequence[Order], events: Sequence[Event] = ()) -> None:
        """One statement in autocommit, merged with others waiting (`GroupCommit`): a taken client
        order id fails all of this call's orders and nothing else."""
        if not orders and not events:
            return
        batch = WriteBatch()
        for order in orders:
            batch.write(("order", order.id), WriteKind.NEW_ORDER, rows.order_params(order))
        if events:
            batch.add_events(encode_events(events, self._payload_of))
        version = await self._group.write(batch)
        self._remembered.wrote(orders, (), version)

    async def prune_outbox(self, sent_before: datetime, limit: int = 10_000) -> int:
        """Delete at most `limit` messages sent before `sent_before`; how many were deleted.

        Raises:
            ValueError: `limit` is below 1.
            StoreError: the database refused or could not be reached.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, was {limit}")
        with translated():
            async with self._pool.connection() as conn:
                cursor = await conn.execute(PRUNE, (sent_before, limit))
                return int(cursor.rowcount)

    def symbol_lock(self, symbol: Symbol) -> AbstractAsyncContextManager[None]:
        """An advisory lock held in a transaction of its own, so every replica on the database waits for it."""
        return self._symbol_locks.hold(symbol)

    def claim_outbox(self, limit: int = 100) -> AbstractAsyncContextManager[OutboxBatch]:
        """Claim the oldest unsent messages that no other relay holds (`FOR UPDATE SKIP LOCKED`).

        Raises:
            ValueError: `limit` is less than 1.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, was {limit}")
        return self._claim(limit)

    @asynccontextmanager
    async def _claim(self, limit: int) -> AsyncIterator[OutboxBatch]:
        async with Transaction(self._pool) as conn:
            batch = await claim(conn, limit)
            try:
                yield batch
            except BaseException:
                batch.closed = True
                with suppress(psycopg.Error):
                    await _commit_marks(conn)  # keep what the bus acknowledged before the error
                raise
            batch.closed = True
            with translated():
                await _commit_marks(conn)

    # queries

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
        if limit < 1:
            raise ValueError(f"limit must be at least 1, was {limit}")
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
        if limit < 1:
            raise ValueError(f"limit must be at least 1, was {limit}")
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
        if limit < 1:
            raise ValueError(f"limit must be at least 1, was {limit}")
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

    async def add_snapshot(self, snapshot: PortfolioSnapshot) -> None:
        """One insert, sent with other writes waiting (`GroupCommit`): a snapshot follows every fill."""
        batch = WriteBatch()
        batch.write(("snapshot", str(next(self._snapshots))), WriteKind.SNAPSHOT, history.snapshot_params(snapshot))
        await self._group.write(batch)

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

    async def ping(self) -> bool:
        """Whether the database answers within `ping_timeout` seconds."""
        try:
            async with self._pool.connection(timeout=self._ping_timeout) as conn:
                await conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

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

    def __repr__(self) -> str:
        return f"PostgresOrderStore({self._pool.name!r})"


async def _commit_marks(conn: psycopg.AsyncConnection[Any]) -> None:
    if conn.info.transaction_status == pq.TransactionStatus.INTRANS:
        await conn.commit()
