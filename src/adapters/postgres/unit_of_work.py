"""The PostgreSQL unit of work: one transaction on one pooled connection, in pipeline mode.

Optimistic first, redone under locks once. The busiest change, a broker update of an order (a
fill, most often), runs first in an optimistic unit (`unit_of_work(optimistic=True)`): the order
and its position are taken as this process last wrote them (`access.RememberedAccess`), with no
lock and no round trip, and the writes of them carry the version (`xmin`) each row must still be
at. A unit that read only that way has begun no transaction: its commit is one statement, sent
with others waiting to commit (`group_commit.GroupCommit`). Should another writer (another
replica, an operator's SQL) have changed such a row, the commit raises `ConcurrentUpdate` and
nothing of the unit is stored; the caller (`trading_core.ledger`) then does it once more in a
unit that is not optimistic. Rows not remembered are read as such a unit reads them.

Under locks (`access.LockedRows`): `get_order(..., for_update=True)` reads with `SELECT ... FOR
UPDATE`, so a second writer of the same order waits until the first commits and then reads what
it wrote. The order's symbol's position is locked and read in the same round trip (a transaction
advisory lock, then the row, as `get_position(for_update=True)` takes them), because the change
that follows is nearly always a fill, which needs it; the advisory lock also makes two first
fills in a symbol (no row to lock yet) take turns. A unit that locks an order but leaves its
position alone holds that position's locks until it ends all the same. Deadlocks and
serialisation failures come out as `ConcurrentUpdate`.

Either way, a write of a row the unit holds cannot miss it unnoticed, so it is not sent on its
own: it is kept (`batch.WriteBatch`) and goes out as one statement with the next statement of the
unit, most often with the commit. Should the database refuse it (a fill stored twice, a broker
order id already taken, a version that no longer matches), the refusal comes out of the next
call that waits, `commit()` at the latest, and as for any refusal the unit then refuses
everything after it and nothing of it is stored. A write of a row the unit does not hold is sent
at once and waits for its answer (it returns a row to wait for), so its refusal comes out of the
call.

Round trips: the unit is one transaction in psycopg's pipeline mode (`transaction`), which pays
one only where an answer is needed: a read, a write of a row the unit does not hold, the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any, Final

import psycopg
from psycopg_pool import AsyncConnectionPool

from adapters.outbox import PayloadOf
from adapters.postgres import history, rows
from adapters.postgres.access import LockedRows, RememberedAccess, RowAccess
from adapters.postgres.batch import POSITION_LOCK_CLASS, Key, WriteKind
from adapters.postgres.connections import run as _run
from adapters.postgres.errors import translate
from adapters.postgres.group_commit import GroupCommit
from adapters.postgres.outbox import INSERT_EVENTS, encode_events
from adapters.postgres.remembered import RememberedRows
from adapters.postgres.transaction import PipelineTransaction
from trading_core.errors import DuplicateClientOrderId, StoreError
from trading_core.events import Event
from trading_core.fills import Fill
from trading_core.history import ClosedPosition
from trading_core.orders import Order
from trading_core.ports import TradingStateRecord
from trading_core.positions import Position
from trading_core.values import BrokerOrderId, ClientOrderId, OrderId, Symbol, canonical_uuid

_LOCK_ORDER: Final = {
    column: f"SELECT id::text FROM trading.orders WHERE {column} = %s FOR UPDATE"  # noqa: S608  # constants
    for column in ("id", "client_order_id", "broker_order_id")
}
_ORDER_BY: Final = {column: rows.SELECT_ORDERS + f" WHERE o.{column} = %s" for column in _LOCK_ORDER}
_LOCK_POSITION: Final = "SELECT pg_advisory_xact_lock(%s, hashtext(%s))"
_POSITION: Final = {
    False: rows.SELECT_POSITIONS + " WHERE symbol = %s",
    True: rows.SELECT_POSITIONS + " WHERE symbol = %s FOR UPDATE",
}
_SYMBOL_OF: Final = {column: f"(SELECT o.symbol FROM trading.orders o WHERE o.{column} = %s)" for column in _LOCK_ORDER}  # noqa: S608
_LOCK_POSITION_OF: Final = {
    column: _LOCK_POSITION.replace("hashtext(%s)", f"hashtext({symbol})") for column, symbol in _SYMBOL_OF.items()
}
_POSITION_OF: Final = {
    column: _POSITION[True].replace("symbol = %s", f"symbol = {symbol}") for column, symbol in _SYMBOL_OF.items()
}
"""The position of an order's symbol, locked as `get_position(for_update=True)` locks it (see the module)."""
_INSERT_STATE: Final = (
    "INSERT INTO trading.trading_state (state, reason, changed_at, changed_by) VALUES (%s, %s, %s, %s) RETURNING 1"
)
_INSERT_ORDER: Final = rows.INSERT_ORDER + " RETURNING 1"
_UPDATE_ORDER: Final = rows.UPDATE_ORDER + " RETURNING 1"
_INSERT_FILL: Final = rows.INSERT_FILL + " RETURNING 1"
_INSERT_CLOSED: Final = history.INSERT_CLOSED + " RETURNING 1"
_UPSERT_POSITION: Final = rows.UPSERT_POSITION + " RETURNING 1"
_DELETE_POSITION: Final = rows.DELETE_POSITION + " RETURNING 1"
_INSERT_EVENTS: Final = INSERT_EVENTS + " RETURNING 1"
"""Writes that wait for their answer return a row: a read is how a pipeline is asked without a Sync."""


class PostgresUnitOfWork:
    """Reads and writes of one transaction on a pooled connection, lent for the `async with` block.

    Pooled connections are in autocommit mode; the unit's transaction is the pipeline's implicit
    one, from its first statement to `commit()`, `rollback()` or the end of the block (a rollback).

    Args:
        pool: the store's pool, whose connections are in autocommit mode.
        payload_of: turns a domain event into its JSON-ready payload for the outbox.
        remembered: the rows the store's units wrote last (a unit of its own when not given).
        group: the store's group commit, for a unit that began no transaction.
        optimistic: take rows read for update as remembered where they are (see the module).
    """

    __slots__ = ("_kept_orders", "_kept_positions", "_locked", "_payload_of", "_remembered", "_tx", "_ways")

    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        payload_of: PayloadOf,
        *,
        remembered: RememberedRows | None = None,
        group: GroupCommit | None = None,
        optimistic: bool = False,
    ) -> None:
        self._tx = PipelineTransaction(pool, group)
        self._payload_of = payload_of
        memory = remembered if remembered is not None else RememberedRows()
        self._remembered = RememberedAccess(memory, optimistic=optimistic)
        self._locked = LockedRows()
        self._ways: tuple[RowAccess, ...] = (self._remembered, self._locked)
        """The ways rows are held, asked in turn: a row taken as remembered is written so even if locked since."""
        self._kept_orders: dict[str, Order] = {}
        self._kept_positions: dict[str, Position | None] = {}
        """What the kept writes leave the rows as, to remember once they commit (None: deleted)."""

    async def __aenter__(self) -> PostgresUnitOfWork:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._reset()  # rolled back: the rows are as they were, so what is remembered holds
        await self._tx.close(exc)

    # reads

    async def get_order(self, order_id: OrderId, *, for_update: bool = False) -> Order | None:
        """The order, or None; `for_update`: held until the unit ends, as remembered or locked.

        Raises:
            StoreError: the database refused or could not be reached (`ConcurrentUpdate` for a
                deadlock); the unit refuses everything after it.
        """
        if canonical_uuid(order_id) is None:
            return None  # no order's id: it cannot match a UUID column
        if for_update and not self._locked.holds_order(order_id):
            order = self._remembered.order(order_id)
            if order is not None:
                self._tx.usable()
                return self._kept_orders.get(order_id, order)  # as this unit left it
        return await self._order("id", order_id, for_update)

    async def get_order_by_client_id(self, client_order_id: ClientOrderId, *, for_update: bool = False) -> Order | None:
        """The order with this client order id, or None; `for_update`: locked until the unit ends.

        Raises:
            StoreError: as `get_order`.
        """
        return await self._order("client_order_id", client_order_id, for_update)

    async def get_order_by_broker_id(self, broker_order_id: BrokerOrderId, *, for_update: bool = False) -> Order | None:
        """The order with this broker order id, or None; `for_update`: locked until the unit ends.

        Raises:
            StoreError: as `get_order`.
        """
        return await self._order("broker_order_id", broker_order_id, for_update)

    async def get_position(self, symbol: Symbol, *, for_update: bool = False) -> Position | None:
        """The open position in `symbol`, or None; `for_update`: held until the unit ends.

        Read for update, it is the one read locked with an order of its symbol, or the one
        remembered, when there is one: neither costs a round trip.

        Raises:
            StoreError: as `get_order`.
        """
        if for_update:
            held, position = self._held_position(symbol)
            if held:
                return position
        self._locked.drop_position(symbol)
        conn = await self._tx.begun()
        try:
            if for_update:
                await _run(conn, _LOCK_POSITION, (POSITION_LOCK_CLASS, symbol))
                self._locked.position_locked(symbol)
            cursor = await _run(conn, _POSITION[for_update], (symbol,))
            row = await cursor.fetchone()
        except psycopg.Error as e:
            self._tx.fail(translate(e), e)
        return None if row is None else rows.position_from_row(row)

    # writes

    async def add_order(self, order: Order) -> None:
        """Insert a new order.

        Raises:
            DuplicateClientOrderId: its client order id is taken.
            StoreError: a value its column cannot hold, or the database refused.
        """
        self._remembered.forget_order(order.id)
        inserted = await self._tx.execute(_INSERT_ORDER, rows.order_params(order))
        if not inserted:
            raise DuplicateClientOrderId(
                f"client order id {order.client_order_id} is already taken",
                details={"clientOrderId": order.client_order_id},
            )

    async def update_order(self, order: Order) -> None:
        """Write the order's whole row: kept when the unit holds it, else at once.

        Raises:
            StoreError: a value its column cannot hold, or the order is not stored (at once);
                the database's refusal of a kept write comes out of a later call.
        """
        way = self._holding_order(order.id)
        if way is None:
            self._remembered.forget_order(order.id)
            if not await self._tx.execute(_UPDATE_ORDER, (*rows.order_params(order), order.id)):
                self._tx.fail(StoreError(f"order {order.id} is not stored, so it cannot be updated"))
            return
        self._keep(("order", order.id), *way.order_write(order))
        self._kept_orders[order.id] = order

    async def add_fill(self, fill: Fill) -> None:
        """Insert a fill: kept when the unit holds its order, else at once.

        Raises:
            StoreError: a value its column cannot hold, or the database refused (a fill stored
                twice is `ConcurrentUpdate`).
        """
        params = rows.fill_params(fill)
        if self._holding_order(fill.order_id) is None:
            await self._tx.execute(_INSERT_FILL, params)
            return
        self._tx.usable()
        self._tx.kept.add_fill(params)

    async def add_closed_position(self, closed: ClosedPosition) -> None:
        """Keep a closed position in the history: kept with the writes when the unit holds its order, else at once.

        Raises:
            StoreError: the database refused.
        """
        params = history.closed_params(closed)
        if self._holding_order(closed.order_id) is None:
            await self._tx.execute(_INSERT_CLOSED, params)
            return
        self._tx.usable()
        self._tx.kept.write(("closed", f"{closed.order_id}/{closed.execution_id}"), WriteKind.CLOSED_POSITION, params)

    async def save_position(self, position: Position) -> None:
        """Write the position (deleted when flat): kept when the unit holds it, else at once.

        Raises:
            StoreError: a value its column cannot hold, or the database refused.
        """
        symbol = position.symbol
        self._locked.drop_position(symbol)
        way = self._holding_position(symbol)
        if way is None:
            self._remembered.forget_position(symbol)
            if position.quantity:
                await self._tx.execute(_UPSERT_POSITION, rows.position_params(position))
            else:
                await self._tx.execute(_DELETE_POSITION, (symbol,))
            return
        self._keep(("position", symbol), *way.position_write(position))
        self._kept_positions[symbol] = position if position.quantity else None

    async def add_events(self, events: Sequence[Event]) -> None:
        """Queue events in the outbox, in order: kept with the writes when the unit holds a row.

        Raises:
            StoreError: the database refused.
        """
        if not events:
            return
        self._tx.usable()
        encoded = encode_events(events, self._payload_of)
        if any(way.holds_any() for way in self._ways):
            self._tx.kept.add_events(encoded)
        else:
            await self._tx.execute(_INSERT_EVENTS, (encoded,))

    async def save_trading_state(self, record: TradingStateRecord) -> None:
        """Record a change of the trading state.

        Raises:
            StoreError: the database refused.
        """
        await self._tx.execute(_INSERT_STATE, (record.state, record.reason, record.changed_at, record.changed_by))

    async def commit(self) -> None:
        """Commit: what is kept back goes with the Sync that commits it, in one round trip.

        A unit that has begun no transaction (it read only what was remembered) commits its
        kept writes as one statement with others' (`GroupCommit`). The rows they leave are
        remembered at the version they are at now.

        Raises:
            ConcurrentUpdate: a row taken as remembered was changed by another writer meanwhile,
                or a deadlock or serialisation failure; nothing of the unit is stored.
            StoreError: the database refused, or could not be reached.
        """
        self._tx.usable()
        for way in self._ways:
            for key, (kind, params) in way.checks(self._kept_orders, self._kept_positions):
                self._tx.kept.write(key, kind, params)
        try:
            version = await self._tx.commit()
        except BaseException:  # refused, or cancelled: stored or not, nobody knows
            self._remembered.abandoned(self._kept_orders, self._kept_positions)
            raise
        if version is None:
            self._remembered.abandoned(self._kept_orders, self._kept_positions)
        else:
            self._remembered.committed(self._kept_orders, self._kept_positions, version)
        self._reset()

    async def rollback(self) -> None:
        """Store nothing of what the unit wrote; it may be used again afterwards.

        Raises:
            StoreError: the database could not be reached.
        """
        self._reset()
        await self._tx.rollback()

    # helpers

    def _holding_order(self, order_id: str) -> RowAccess | None:
        """The way this unit holds the order, or None when it does not hold it."""
        return next((way for way in self._ways if way.holds_order(order_id)), None)

    def _holding_position(self, symbol: str) -> RowAccess | None:
        """The way this unit holds the symbol's position, or None when it does not hold it."""
        return next((way for way in self._ways if way.holds_position(symbol)), None)

    def _held_position(self, symbol: str) -> tuple[bool, Position | None]:
        """(True, the position) when the unit has it without a round trip, else (False, None).

        The one locked and read with an order (unless writes were kept since, which may have
        changed it), or the one remembered, as this unit left it.
        """
        if not self._tx.kept:
            held, position = self._locked.take_position(symbol)
            if held:
                self._tx.usable()
                return True, position
        if not self._locked.holds_position(symbol):
            held, position = self._remembered.position(symbol)
            if held:
                self._tx.usable()
                return True, self._kept_positions.get(symbol, position)  # as this unit left it
        return False, None

    def _keep(self, key: Key, kind: WriteKind, params: tuple[Any, ...]) -> None:
        self._tx.usable()
        self._tx.kept.write(key, kind, params)

    def _reset(self) -> None:
        self._tx.clear()
        for way in self._ways:
            way.clear()
        self._kept_orders.clear()
        self._kept_positions.clear()

    async def _order(self, column: str, value: str, for_update: bool) -> Order | None:
        """The order whose `column` is `value`; when `for_update`, locked, with its position (one round trip)."""
        conn = await self._tx.begun()
        try:
            if not for_update:
                row = await (await _run(conn, _ORDER_BY[column], (value,))).fetchone()
                return None if row is None else rows.order_from_row(row)
            # Locked first, read after: the read's fresh snapshot includes what a writer we waited
            # for committed, fills too. The position likewise, after its own lock.
            lock = await _run(conn, _LOCK_ORDER[column], (value,))
            read = await _run(conn, _ORDER_BY[column], (value,))
            await _run(conn, _LOCK_POSITION_OF[column], (POSITION_LOCK_CLASS, value))
            held = await _run(conn, _POSITION_OF[column], (value,))
            row = await read.fetchone()
            position = await held.fetchone()
            locked = await lock.fetchone()
        except psycopg.Error as e:
            self._tx.fail(translate(e), e)
        if row is None or locked is None:
            return None
        order = rows.order_from_row(row)
        self._locked.order_locked(order, position, keep_position=not self._remembered.holds_position(order.symbol))
        return order
