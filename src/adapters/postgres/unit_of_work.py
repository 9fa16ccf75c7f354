"""The PostgreSQL unit of work: one transaction on one pooled connection.

Concurrent updates are serialised with row locks, not version columns. `for_update=True` reads
with `SELECT ... FOR UPDATE`, so a second writer of the same order waits until the first commits
and then reads what it wrote: no fill is lost and nobody retries. Updates of one order are short
and already arrive in the broker's order, so waiting costs little, whereas optimistic versions
would push a retry loop into every caller. A position is locked by symbol with a transaction
advisory lock as well, so two first fills in a symbol (no row to lock yet) also take turns.
Deadlocks and serialisation failures come out as `ConcurrentUpdate`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Final, NoReturn

import psycopg
from psycopg_pool import AsyncConnectionPool

from adapters.outbox import PayloadOf
from adapters.postgres import rows
from adapters.postgres.connections import Transaction
from adapters.postgres.errors import translate
from adapters.postgres.outbox import INSERT_EVENT, event_params
from trading_core.errors import DuplicateClientOrderId, StoreError, TradingError
from trading_core.events import Event
from trading_core.fills import Fill
from trading_core.orders import Order
from trading_core.ports import TradingStateRecord
from trading_core.positions import Position
from trading_core.values import BrokerOrderId, ClientOrderId, OrderId, Symbol

POSITION_LOCK_CLASS: Final = 0x7472_7073  # "trps": advisory locks of positions, keyed by symbol

_LOCK_ORDER: Final = {
    column: f"SELECT id::text FROM trading.orders WHERE {column} = %s FOR UPDATE"  # noqa: S608  # constants
    for column in ("id", "client_order_id", "broker_order_id")
}
_LOCK_POSITION: Final = "SELECT pg_advisory_xact_lock(%s, hashtext(%s))"
_BY_ID: Final = rows.SELECT_ORDERS + " WHERE o.id = %s"
_BY_CLIENT_ID: Final = rows.SELECT_ORDERS + " WHERE o.client_order_id = %s"
_BY_BROKER_ID: Final = rows.SELECT_ORDERS + " WHERE o.broker_order_id = %s"
_POSITION: Final = rows.SELECT_POSITIONS + " WHERE symbol = %s"
_INSERT_STATE: Final = (
    "INSERT INTO trading.trading_state (state, reason, changed_at, changed_by) VALUES (%s, %s, %s, %s)"
)


class PostgresUnitOfWork:
    """Reads and writes of one transaction on a pooled connection, lent for the `async with` block."""

    __slots__ = ("_conn", "_failed", "_lease", "_payload_of")

    def __init__(self, pool: AsyncConnectionPool[Any], payload_of: PayloadOf) -> None:
        self._lease = Transaction(pool)
        self._payload_of = payload_of
        self._failed = False

    async def __aenter__(self) -> PostgresUnitOfWork:
        self._conn = await self._lease.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._lease.__aexit__(exc_type, exc, tb)

    # reads

    async def get_order(self, order_id: OrderId, *, for_update: bool = False) -> Order | None:
        if not is_uuid(order_id):
            return None
        if for_update and await self._lock_order("id", order_id) is None:
            return None
        return await self._order(_BY_ID, order_id)

    async def get_order_by_client_id(self, client_order_id: ClientOrderId, *, for_update: bool = False) -> Order | None:
        if not for_update:
            return await self._order(_BY_CLIENT_ID, client_order_id)
        order_id = await self._lock_order("client_order_id", client_order_id)
        return None if order_id is None else await self._order(_BY_ID, order_id)

    async def get_order_by_broker_id(self, broker_order_id: BrokerOrderId, *, for_update: bool = False) -> Order | None:
        if not for_update:
            return await self._order(_BY_BROKER_ID, broker_order_id)
        order_id = await self._lock_order("broker_order_id", broker_order_id)
        return None if order_id is None else await self._order(_BY_ID, order_id)

    async def get_position(self, symbol: Symbol, *, for_update: bool = False) -> Position | None:
        if for_update:
            await self._execute(_LOCK_POSITION, (POSITION_LOCK_CLASS, symbol))
        row = await self._fetchone(_POSITION + (" FOR UPDATE" if for_update else ""), (symbol,))
        return None if row is None else rows.position_from_row(row)

    # writes

    async def add_order(self, order: Order) -> None:
        inserted = await self._execute(rows.INSERT_ORDER, rows.order_params(order))
        if not inserted:
            raise DuplicateClientOrderId(
                f"client order id {order.client_order_id} is already taken",
                details={"clientOrderId": order.client_order_id},
            )

    async def update_order(self, order: Order) -> None:
        if not await self._execute(rows.UPDATE_ORDER, (*rows.order_params(order), order.id)):
            self._fail(StoreError(f"order {order.id} is not stored, so it cannot be updated"))

    async def add_fill(self, fill: Fill) -> None:
        await self._execute(rows.INSERT_FILL, rows.fill_params(fill))

    async def save_position(self, position: Position) -> None:
        if position.quantity:
            await self._execute(rows.UPSERT_POSITION, rows.position_params(position))
        else:
            await self._execute(rows.DELETE_POSITION, (position.symbol,))

    async def add_events(self, events: Sequence[Event]) -> None:
        if not events:
            return
        self._usable()
        params = [event_params(e, self._payload_of) for e in events]
        try:
            if len(params) == 1:
                await self._conn.execute(INSERT_EVENT, params[0])
            else:
                async with self._conn.cursor() as cursor:
                    await cursor.executemany(INSERT_EVENT, params)
        except psycopg.Error as e:
            self._fail(translate(e), e)

    async def save_trading_state(self, record: TradingStateRecord) -> None:
        await self._execute(_INSERT_STATE, (record.state, record.reason, record.changed_at, record.changed_by))

    async def commit(self) -> None:
        self._usable()
        try:
            await self._conn.commit()
        except psycopg.Error as e:
            self._fail(translate(e), e)

    async def rollback(self) -> None:
        try:
            await self._conn.rollback()
        except psycopg.Error as e:
            raise translate(e) from e
        self._failed = False

    # helpers

    async def _lock_order(self, column: str, value: str) -> str | None:
        row = await self._fetchone(_LOCK_ORDER[column], (value,))
        return None if row is None else str(row[0])

    async def _order(self, query: str, value: str) -> Order | None:
        row = await self._fetchone(query, (value,))
        return None if row is None else rows.order_from_row(row)

    async def _fetchone(self, query: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        self._usable()
        try:
            cursor = await self._conn.execute(query, params)
            return await cursor.fetchone()
        except psycopg.Error as e:
            self._fail(translate(e), e)

    async def _execute(self, query: str, params: tuple[Any, ...]) -> int:
        """Run one statement; the number of rows it touched."""
        self._usable()
        try:
            cursor = await self._conn.execute(query, params)
        except psycopg.Error as e:
            self._fail(translate(e), e)
        return cursor.rowcount

    def _usable(self) -> None:
        if self._failed:
            raise StoreError("an earlier statement of this unit of work failed; leave it and start another")

    def _fail(self, error: TradingError, cause: BaseException | None = None) -> NoReturn:
        """Raise `error`; the transaction is aborted, so the unit refuses everything after it."""
        self._failed = True
        raise error from cause


def is_uuid(value: str) -> bool:
    """Whether `value` could be an order id; anything else cannot match a UUID column."""
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True
