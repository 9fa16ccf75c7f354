"""The PostgreSQL unit of work: one transaction on one pooled connection, in pipeline mode.

Concurrent updates are serialised with row locks, not version columns. `for_update=True` reads
with `SELECT ... FOR UPDATE`, so a second writer of the same order waits until the first commits
and then reads what it wrote: no fill is lost and nobody retries. Updates of one order are short
and already arrive in the broker's order, so waiting costs little, whereas optimistic versions
would push a retry loop into every caller. A position is locked by symbol with a transaction
advisory lock as well, so two first fills in a symbol (no row to lock yet) also take turns.
Deadlocks and serialisation failures come out as `ConcurrentUpdate`.

An order read `for_update` has its symbol's position locked and read in the same round trip (the
advisory lock, then the row, as `get_position(for_update=True)` does, in the same order after the
order's lock), because the change that follows is nearly always a fill, which needs them: the
ledger's `get_position(symbol, for_update=True)` then costs no round trip. A unit that locks an
order but leaves its position alone holds that position's locks until it ends all the same.

Round trips: a unit's statements go through psycopg's pipeline mode, and the unit is the
pipeline's implicit transaction: PostgreSQL runs everything sent before a Sync as one transaction
and commits it at the Sync (rolls it back if a statement failed), so no BEGIN or COMMIT is sent;
`commit()` is the Sync, and leaving without it sends ROLLBACK first. A round trip is paid only
where an answer is needed: a read (with the statements queued before it), a write whose outcome
the caller must hear at once, and the commit. Writes to what this unit holds locked (an order
read `for_update`, that order's fills, the position of a symbol read `for_update`, and the events
of such a change) cannot miss their row, so they are not even sent one by one: they are kept
(`WriteBatch`) and go out as one statement before the next statement of the unit, most often with
the commit. Should the database refuse them (a fill stored twice, a broker order id already
taken), the refusal comes out of the next call that waits, `commit()` at the latest, and as for
any refusal the unit then refuses everything after it and nothing of it is stored. Every other
write waits for its answer (it returns a row to wait for), so its refusal comes out of the call.

An optimistic unit (`unit_of_work(optimistic=True)`) reads an order or position `for_update` from
what this process last wrote (`remembered.RememberedRows`) when it can, without a lock or a round
trip, and its writes of those rows carry the version they must still be at (`batch`). A unit that
read only that way has begun no transaction: its commit is one statement, sent with others
waiting to commit (`group_commit.GroupCommit`). Should a version no longer match, the commit
raises `ConcurrentUpdate`, nothing of the unit is stored, and the caller does it again without
optimism. The connection is taken from the pool at the first statement, not at the start.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, suppress
from types import TracebackType
from typing import Any, Final, NoReturn

import psycopg
from psycopg import pq
from psycopg_pool import AsyncConnectionPool

from adapters.outbox import PayloadOf
from adapters.postgres import rows
from adapters.postgres.batch import POSITION_LOCK_CLASS, Key, WriteBatch, WriteKind
from adapters.postgres.connections import run as _run
from adapters.postgres.errors import translate
from adapters.postgres.group_commit import GroupCommit
from adapters.postgres.outbox import INSERT_EVENTS, encode_events
from adapters.postgres.remembered import RememberedRows, Version
from trading_core.errors import DuplicateClientOrderId, StoreError, TradingError
from trading_core.events import Event
from trading_core.fills import Fill
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
_UPSERT_POSITION: Final = rows.UPSERT_POSITION + " RETURNING 1"
_DELETE_POSITION: Final = rows.DELETE_POSITION + " RETURNING 1"
_INSERT_EVENTS: Final = INSERT_EVENTS + " RETURNING 1"
"""Writes that wait for their answer return a row: a read is how a pipeline is asked without a Sync."""
_IN_TRANSACTION: Final = (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR)

Pipeline = AbstractAsyncContextManager[psycopg.AsyncPipeline]


class PostgresUnitOfWork:
    """Reads and writes of one transaction on a pooled connection, lent for the `async with` block.

    Pooled connections are in autocommit mode; the unit's transaction is the pipeline's implicit
    one, from its first statement to `commit()`, `rollback()` or the end of the block (a rollback).
    """

    __slots__ = (
        "_batch",
        "_conn",
        "_expected_orders",
        "_expected_positions",
        "_failed",
        "_group",
        "_locked_orders",
        "_locked_symbols",
        "_mode",
        "_optimistic",
        "_payload_of",
        "_pipeline",
        "_pool",
        "_positions",
        "_remembered",
        "_versions",
        "_written_orders",
        "_written_positions",
        "_wrote",
    )

    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        payload_of: PayloadOf,
        *,
        remembered: RememberedRows | None = None,
        group: GroupCommit | None = None,
        optimistic: bool = False,
    ) -> None:
        self._pool = pool
        self._payload_of = payload_of
        self._remembered = remembered if remembered is not None else RememberedRows()
        self._group = group
        self._optimistic = optimistic
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._mode: Pipeline | None = None
        self._pipeline: psycopg.AsyncPipeline | None = None
        self._batch = WriteBatch()
        self._failed = False
        self._wrote = False
        self._positions: dict[str, tuple[Any, ...] | None] = {}
        """Positions read with a locked order: symbol -> row (None: no position), used once."""
        self._locked_orders: set[str] = set()
        self._locked_symbols: set[str] = set()
        self._expected_orders: dict[str, Version] = {}
        """Orders taken as remembered, each with the version its row must still be at."""
        self._expected_positions: dict[str, Version | None] = {}
        """Likewise positions (None: there must still be none)."""
        self._written_orders: dict[str, Order] = {}
        self._written_positions: dict[str, Position | None] = {}
        """What the kept writes leave the rows as, to remember once they commit (None: deleted)."""
        self._versions: psycopg.AsyncCursor[Any] | None = None
        """The cursor of the last kept writes sent in this transaction: it answers their version."""

    async def __aenter__(self) -> PostgresUnitOfWork:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            self._reset()
            return
        try:
            await self._end(conn)
        except psycopg.Error as e:
            if exc is None:  # otherwise the error that ended the block is the one to report
                raise translate(e) from e
        finally:
            await self._pool.putconn(conn)

    # reads

    async def get_order(self, order_id: OrderId, *, for_update: bool = False) -> Order | None:
        if canonical_uuid(order_id) is None:
            return None
        if for_update and self._optimistic and order_id not in self._locked_orders:
            known = self._remembered.order(order_id)
            if known is not None:
                self._usable()
                order, self._expected_orders[order_id] = known
                return self._written_orders.get(order_id, order)  # as this unit left it
        return await self._order("id", order_id, for_update)

    async def get_order_by_client_id(self, client_order_id: ClientOrderId, *, for_update: bool = False) -> Order | None:
        return await self._order("client_order_id", client_order_id, for_update)

    async def get_order_by_broker_id(self, broker_order_id: BrokerOrderId, *, for_update: bool = False) -> Order | None:
        return await self._order("broker_order_id", broker_order_id, for_update)

    async def get_position(self, symbol: Symbol, *, for_update: bool = False) -> Position | None:
        if for_update and symbol in self._positions and not self._batch:
            self._usable()
            self._locked_symbols.add(symbol)  # locked when it was read, with its order
            row = self._positions.pop(symbol)
            return None if row is None else rows.position_from_row(row)
        if for_update and self._optimistic and symbol not in self._locked_symbols:
            known = self._remembered.position(symbol)
            if known is not None:
                self._usable()
                position, self._expected_positions[symbol] = known
                return self._written_positions.get(symbol, position)  # as this unit left it
        self._positions.pop(symbol, None)
        conn = await self._begun()
        try:
            if for_update:
                await _run(conn, _LOCK_POSITION, (POSITION_LOCK_CLASS, symbol))
                self._locked_symbols.add(symbol)
            cursor = await _run(conn, _POSITION[for_update], (symbol,))
            row = await cursor.fetchone()
        except psycopg.Error as e:
            self._fail(translate(e), e)
        return None if row is None else rows.position_from_row(row)

    # writes

    async def add_order(self, order: Order) -> None:
        self._remembered.forget(order_ids=(order.id,))
        inserted = await self._execute(_INSERT_ORDER, rows.order_params(order))
        if not inserted:
            raise DuplicateClientOrderId(
                f"client order id {order.client_order_id} is already taken",
                details={"clientOrderId": order.client_order_id},
            )

    async def update_order(self, order: Order) -> None:
        params = (*rows.order_params(order), order.id)
        key = ("order", order.id)
        if order.id in self._expected_orders:
            self._keep(key, WriteKind.ORDER_AT_VERSION, (*params, self._expected_orders[order.id]))
        elif order.id in self._locked_orders:
            self._keep(key, WriteKind.ORDER, params)
        else:
            self._remembered.forget(order_ids=(order.id,))
            if not await self._execute(_UPDATE_ORDER, params):
                self._fail(StoreError(f"order {order.id} is not stored, so it cannot be updated"))
            return
        self._written_orders[order.id] = order

    async def add_fill(self, fill: Fill) -> None:
        params = rows.fill_params(fill)
        if fill.order_id in self._locked_orders or fill.order_id in self._expected_orders:
            self._usable()
            self._batch.add_fill(params)
        else:
            await self._execute(_INSERT_FILL, params)

    async def save_position(self, position: Position) -> None:
        symbol = position.symbol
        self._positions.pop(symbol, None)
        key = ("position", symbol)
        if symbol in self._expected_positions:
            version = self._expected_positions[symbol]
            if version is None and position.quantity:
                self._keep(key, WriteKind.NEW_POSITION, (*rows.position_params(position), POSITION_LOCK_CLASS, symbol))
            elif version is None:
                self._keep(key, WriteKind.STILL_FLAT, (symbol,))  # flat it was, flat it stays
            elif position.quantity:
                self._keep(key, WriteKind.POSITION_AT_VERSION, (*rows.versioned_position_params(position), version))
            else:
                self._keep(key, WriteKind.FLAT_AT_VERSION, (symbol, version))
        elif symbol in self._locked_symbols:
            if position.quantity:
                self._keep(key, WriteKind.POSITION, rows.position_params(position))
            else:
                self._keep(key, WriteKind.FLAT, (symbol,))
        else:
            self._remembered.forget(symbols=(symbol,))
            if position.quantity:
                await self._execute(_UPSERT_POSITION, rows.position_params(position))
            else:
                await self._execute(_DELETE_POSITION, (symbol,))
            return
        self._written_positions[symbol] = position if position.quantity else None

    async def add_events(self, events: Sequence[Event]) -> None:
        if not events:
            return
        self._usable()
        encoded = encode_events(events, self._payload_of)
        if self._locked_orders or self._locked_symbols or self._expected_orders or self._expected_positions:
            self._batch.add_events(encoded)
        else:
            await self._execute(_INSERT_EVENTS, (encoded,))

    async def save_trading_state(self, record: TradingStateRecord) -> None:
        await self._execute(_INSERT_STATE, (record.state, record.reason, record.changed_at, record.changed_by))

    async def commit(self) -> None:
        """Commit: what is kept back goes with the Sync that commits it, in one round trip.

        A unit that has begun no transaction (it read only what was remembered) commits its
        kept writes as one statement with others' (`GroupCommit`).
        """
        self._usable()
        self._check_unwritten()
        if self._mode is None:  # nothing was begun: what is kept, if anything, is the whole unit
            if self._batch:
                await self._commit_alone()
            self._reset()
            return
        await self._begun()
        try:
            await self._leave_pipeline()
            row = await self._versions.fetchone() if self._versions is not None else None
        except psycopg.Error as e:
            self._forget_touched()
            self._fail(translate(e), e)
        if row is not None:
            self._remember(str(row[0]))
        else:
            self._forget_touched()
        self._wrote = False
        self._reset()

    async def rollback(self) -> None:
        if self._conn is None:
            self._reset()
            self._failed = False
            return
        try:
            await self._end(self._conn)
        except psycopg.Error as e:
            raise translate(e) from e
        self._failed = False

    # helpers

    def _keep(self, key: Key, kind: WriteKind, params: tuple[Any, ...]) -> None:
        self._usable()
        self._batch.write(key, kind, params)

    def _check_unwritten(self) -> None:
        """Rows taken as remembered but not written must still be as remembered when this commits."""
        for order_id, version in self._expected_orders.items():
            if order_id not in self._written_orders:
                self._batch.write(("order", order_id), WriteKind.ORDER_UNCHANGED, (order_id, version))
        for symbol, expected in self._expected_positions.items():
            if symbol not in self._written_positions:
                if expected is None:
                    self._batch.write(("position", symbol), WriteKind.STILL_FLAT, (symbol,))
                else:
                    self._batch.write(("position", symbol), WriteKind.POSITION_UNCHANGED, (symbol, expected))

    async def _commit_alone(self) -> None:
        """The kept writes as one statement in autocommit, merged with others' when they wait too."""
        batch, self._batch = self._batch, WriteBatch()
        try:
            if self._group is not None:
                version = await self._group.write(batch)
            else:
                version = await self._write_alone(batch)
        except TradingError as e:
            self._forget_touched()
            self._fail(e, e.__cause__)
        except BaseException:
            self._forget_touched()  # cancelled: stored or not, nobody knows
            raise
        self._remember(version)

    async def _write_alone(self, batch: WriteBatch) -> Version:
        conn = await self._connection()
        try:
            row = await (await _run(conn, *batch.take())).fetchone()
        except psycopg.Error as e:
            raise translate(e) from e
        if row is None:
            raise StoreError("the database answered nothing to a write")
        return str(row[0])

    def _remember(self, version: Version) -> None:
        self._remembered.wrote(self._written_orders.values(), self._written_positions.items(), version)

    def _forget_touched(self) -> None:
        self._remembered.forget(
            [*self._expected_orders, *self._written_orders], [*self._expected_positions, *self._written_positions]
        )

    def _reset(self) -> None:
        self._batch.clear()
        self._positions.clear()
        self._locked_orders.clear()
        self._locked_symbols.clear()
        self._expected_orders.clear()
        self._expected_positions.clear()
        self._written_orders.clear()
        self._written_positions.clear()
        self._versions = None

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        """The unit's pooled connection, taken at its first statement."""
        if self._conn is None:
            try:
                self._conn = await self._pool.getconn()
            except psycopg.Error as e:
                self._fail(translate(e), e)
        return self._conn

    async def _begun(self) -> psycopg.AsyncConnection[Any]:
        """The connection in pipeline mode (this unit's transaction), with the kept writes queued."""
        self._usable()
        conn = await self._connection()
        try:
            if self._mode is None:
                mode = conn.pipeline()
                self._pipeline = await mode.__aenter__()
                self._mode = mode
            if self._batch:
                self._wrote = True
                self._versions = await _run(conn, *self._batch.take())
        except psycopg.Error as e:
            self._fail(translate(e), e)
        return conn

    async def _leave_pipeline(self) -> None:
        """Sync (one round trip for what is queued) and leave pipeline mode; raises the first refusal."""
        mode, self._mode, self._pipeline = self._mode, None, None
        if mode is not None:
            await mode.__aexit__(None, None, None)

    async def _end(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Roll back what was not committed; leave the connection idle, in autocommit mode."""
        self._reset()  # rolled back: the rows are as they were, so what is remembered holds
        wrote, self._wrote = self._wrote, False
        if conn.closed or conn.broken:
            self._mode = self._pipeline = None
            return  # the pool discards it
        try:
            if self._mode is not None:
                # The Sync ends the implicit transaction: one that only read may as well commit;
                # one that wrote is rolled back by the ROLLBACK sent before it (after a statement
                # failed, the Sync rolls back on its own). A refusal that comes out here is
                # rolled back with the rest.
                if wrote:
                    with suppress(psycopg.Error):
                        await conn.execute(b"ROLLBACK", prepare=False)
                with suppress(psycopg.Error):
                    await self._leave_pipeline()
            if conn.info.transaction_status in _IN_TRANSACTION:
                await conn.rollback()
        except BaseException:
            await conn.close()  # a connection left half way is of no use: the pool discards it
            raise

    async def _order(self, column: str, value: str, for_update: bool) -> Order | None:
        """The order whose `column` is `value`; when `for_update`, locked, with its position (one round trip)."""
        conn = await self._begun()
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
            self._fail(translate(e), e)
        if row is None or locked is None:
            return None
        order = rows.order_from_row(row)
        self._locked_orders.add(order.id)
        if order.symbol not in self._expected_positions:
            self._positions[order.symbol] = position
        return order

    async def _execute(self, query: str, params: tuple[Any, ...]) -> int:
        """Run one write that returns a row per row it touched, and wait for it; how many it touched."""
        conn = await self._begun()
        self._wrote = True
        try:
            cursor = await _run(conn, query, params)
            return len(await cursor.fetchall())
        except psycopg.Error as e:
            self._fail(translate(e), e)

    def _usable(self) -> None:
        if self._failed:
            raise StoreError("an earlier statement of this unit of work failed; leave it and start another")

    def _fail(self, error: TradingError, cause: BaseException | None = None) -> NoReturn:
        """Raise `error`; the transaction is aborted, so the unit refuses everything after it."""
        self._failed = True
        raise error from cause
