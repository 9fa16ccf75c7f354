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
from datetime import datetime
from types import TracebackType
from typing import Any

import psycopg
from psycopg import pq
from psycopg_pool import AsyncConnectionPool

from adapters.limits import check_limit
from adapters.outbox import PayloadOf
from adapters.postgres import history, rows
from adapters.postgres.batch import WriteBatch, WriteKind
from adapters.postgres.connections import LivenessCheck, StoreConnection, Transaction, connection_options
from adapters.postgres.errors import translated
from adapters.postgres.group_commit import GroupCommit
from adapters.postgres.migrate import apply_migrations
from adapters.postgres.outbox import PRUNE, claim, encode_events
from adapters.postgres.reads import StoreReads
from adapters.postgres.remembered import RememberedRows
from adapters.postgres.symbol_locks import SymbolLocks
from adapters.postgres.unit_of_work import PostgresUnitOfWork
from trading_core.events import Event
from trading_core.history import PortfolioSnapshot
from trading_core.orders import Order
from trading_core.ports import OutboxBatch, UnitOfWork
from trading_core.values import Symbol

__all__ = ["PostgresOrderStore"]


class PostgresOrderStore(StoreReads):
    """Orders, fills, positions, trading state and the outbox in the `trading` schema.

    Its queries are inherited (`reads.StoreReads`); here are the writes, transactions and outbox.

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

    # writes and transactions

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

    async def add_snapshot(self, snapshot: PortfolioSnapshot) -> None:
        """One insert, sent with other writes waiting (`GroupCommit`): a snapshot follows every fill."""
        batch = WriteBatch()
        batch.write(("snapshot", str(next(self._snapshots))), WriteKind.SNAPSHOT, history.snapshot_params(snapshot))
        await self._group.write(batch)

    async def prune_outbox(self, sent_before: datetime, limit: int = 10_000) -> int:
        """Delete at most `limit` messages sent before `sent_before`; how many were deleted.

        Raises:
            ValueError: `limit` is below 1.
            StoreError: the database refused or could not be reached.
        """
        check_limit(limit)
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
        check_limit(limit)
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

    # health

    async def ping(self) -> bool:
        """Whether the database answers within `ping_timeout` seconds."""
        try:
            async with self._pool.connection(timeout=self._ping_timeout) as conn:
                await conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def __repr__(self) -> str:
        return f"PostgresOrderStore({self._pool.name!r})"


async def _commit_marks(conn: psycopg.AsyncConnection[Any]) -> None:
    if conn.info.transaction_status == pq.TransactionStatus.INTRANS:
        await conn.commit()
