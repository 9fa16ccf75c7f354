"""A unit of work's transaction: one pooled connection in pipeline mode, and the writes kept for it.

A unit's statements go through psycopg's pipeline mode, and the unit is the pipeline's implicit
transaction: PostgreSQL runs everything sent before a Sync as one transaction and commits it at
the Sync (rolls it back if a statement failed), so no BEGIN or COMMIT is sent; `commit()` is the
Sync, and leaving without it sends ROLLBACK first. A round trip is paid only where an answer is
needed: a read (with the statements queued before it), a write whose outcome the caller must hear
at once (`execute`), and the commit. Writes kept back (`kept`) go out as one statement before the
next statement, most often with the commit. A transaction that was never begun (its unit only
kept writes) commits them as one statement in autocommit, with others waiting to commit
(`group_commit.GroupCommit`). The connection is taken from the pool at the first statement.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, suppress
from typing import Any, Final, NoReturn

import psycopg
from psycopg import pq
from psycopg_pool import AsyncConnectionPool

from adapters.postgres.batch import WriteBatch
from adapters.postgres.connections import run
from adapters.postgres.errors import translate
from adapters.postgres.group_commit import GroupCommit
from adapters.postgres.remembered import Version
from trading_core.errors import StoreError, TradingError

_IN_TRANSACTION: Final = (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR)

Pipeline = AbstractAsyncContextManager[psycopg.AsyncPipeline]


class PipelineTransaction:
    """The connection, pipeline and kept writes of one unit of work; refuses all once one failed.

    Args:
        pool: the store's pool, whose connections are in autocommit mode.
        group: the store's group commit, for kept writes of a transaction never begun.
    """

    __slots__ = ("_conn", "_failed", "_group", "_mode", "_pipeline", "_pool", "_versions", "_wrote", "kept")

    def __init__(self, pool: AsyncConnectionPool[Any], group: GroupCommit | None) -> None:
        self._pool = pool
        self._group = group
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._mode: Pipeline | None = None
        self._pipeline: psycopg.AsyncPipeline | None = None
        self._failed = False
        self._wrote = False
        self._versions: psycopg.AsyncCursor[Any] | None = None
        """The cursor of the last kept writes sent in this transaction: it answers their version."""
        self.kept = WriteBatch()
        """Writes kept back until the next statement (or the commit)."""

    def usable(self) -> None:
        """Refuse to go on after a statement failed.

        Raises:
            StoreError: an earlier statement failed (the transaction is aborted).
        """
        if self._failed:
            raise StoreError("an earlier statement of this unit of work failed; leave it and start another")

    def fail(self, error: TradingError, cause: BaseException | None = None) -> NoReturn:
        """Raise `error`; the transaction is aborted, so everything after it is refused.

        Raises:
            TradingError: `error`, always.
        """
        self._failed = True
        raise error from cause

    async def begun(self) -> psycopg.AsyncConnection[Any]:
        """The connection in pipeline mode (the transaction), with the kept writes queued on it.

        Raises:
            StoreError: refused after a failure, or the database could not be reached.
        """
        self.usable()
        conn = await self._connection()
        try:
            if self._mode is None:
                mode = conn.pipeline()
                self._pipeline = await mode.__aenter__()
                self._mode = mode
            if self.kept:
                self._wrote = True
                self._versions = await run(conn, *self.kept.take())
        except psycopg.Error as e:
            self.fail(translate(e), e)
        return conn

    async def execute(self, query: str, params: tuple[Any, ...]) -> int:
        """Run one write that returns a row per row it touched, and wait for it; how many it touched.

        Raises:
            StoreError: the database refused it (`ConcurrentUpdate` for a deadlock).
        """
        conn = await self.begun()
        self._wrote = True
        try:
            cursor = await run(conn, query, params)
            return len(await cursor.fetchall())
        except psycopg.Error as e:
            self.fail(translate(e), e)

    async def commit(self) -> Version | None:
        """Commit what was sent and kept; the version the kept writes left their rows at, if any.

        Raises:
            ConcurrentUpdate: a kept write's check failed, or a deadlock; nothing is stored.
            StoreError: the database refused, or could not be reached.
        """
        self.usable()
        if self._mode is None:  # nothing was begun: what is kept, if anything, is the whole transaction
            return await self._commit_alone() if self.kept else None
        await self.begun()
        try:
            await self._leave_pipeline()
            row = await self._versions.fetchone() if self._versions is not None else None
        except psycopg.Error as e:
            self.fail(translate(e), e)
        self._wrote = False
        self.clear()
        return None if row is None else str(row[0])

    async def rollback(self) -> None:
        """Store nothing of what was written; the transaction may be used again afterwards.

        Raises:
            StoreError: the database could not be reached.
        """
        if self._conn is not None:
            try:
                await self._end(self._conn)
            except psycopg.Error as e:
                raise translate(e) from e
        self.clear()
        self._failed = False

    async def close(self, exc: BaseException | None) -> None:
        """Roll back what was not committed and give the connection back to the pool.

        Raises:
            StoreError: the rollback failed, and `exc` (what ended the block, if anything) is None.
        """
        conn, self._conn = self._conn, None
        self.clear()
        if conn is None:
            return
        try:
            await self._end(conn)
        except psycopg.Error as e:
            if exc is None:  # otherwise the error that ended the block is the one to report
                raise translate(e) from e
        finally:
            await self._pool.putconn(conn)

    def clear(self) -> None:
        """Drop the kept writes."""
        self.kept.clear()
        self._versions = None

    async def _commit_alone(self) -> Version:
        """The kept writes as one statement in autocommit, merged with others' when they wait too."""
        batch, self.kept = self.kept, WriteBatch()
        try:
            if self._group is not None:
                return await self._group.write(batch)
            return await self._write_alone(batch)
        except TradingError as e:
            self.fail(e, e.__cause__)

    async def _write_alone(self, batch: WriteBatch) -> Version:
        conn = await self._connection()
        try:
            row = await (await run(conn, *batch.take())).fetchone()
        except psycopg.Error as e:
            raise translate(e) from e
        if row is None:
            raise StoreError("the database answered nothing to a write")
        return str(row[0])

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        """The pooled connection, taken at the first statement."""
        if self._conn is None:
            try:
                self._conn = await self._pool.getconn()
            except psycopg.Error as e:
                self.fail(translate(e), e)
        return self._conn

    async def _leave_pipeline(self) -> None:
        """Sync (one round trip for what is queued) and leave pipeline mode; raises the first refusal."""
        mode, self._mode, self._pipeline = self._mode, None, None
        if mode is not None:
            await mode.__aexit__(None, None, None)

    async def _end(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Roll back what was not committed; leave the connection idle, in autocommit mode."""
        self.clear()
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
