"""Pooled connections: how they are opened, checked before they are lent, and lent for a transaction."""

from __future__ import annotations

import select
import time
import weakref
from types import TracebackType
from typing import Any, Final

import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool

from adapters.postgres.errors import translate

_QUIET_SECONDS: Final = 5.0
_IN_TRANSACTION: Final = (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR)


def connection_options(conninfo: str) -> dict[str, Any]:
    """Autocommit (transactions are explicit) and UTC session time, keeping any options given."""
    options = conninfo_to_dict(conninfo).get("options")
    utc = "-c TimeZone=UTC"
    return {"autocommit": True, "options": f"{options} {utc}" if options else utc}


class NativeQuery(str):
    """A statement written with PostgreSQL's own `$1` placeholders, run as it is (a raw cursor).

    psycopg turns `%s` into `$n` by parsing the text, and caches the result only for statements
    of at most 50 parameters: the long statements of `batch.WriteBatch` would be parsed again at
    every run, a tenth of the service's CPU. Written natively, they are not parsed at all.
    """

    __slots__ = ()

    @classmethod
    def of(cls, query: str) -> NativeQuery:
        """`query`, whose placeholders are all `%s` (and which holds no other `%`), with `$1`, `$2`, ..."""
        pieces = query.split("%s")
        return cls("".join(f"{piece}${n}" for n, piece in enumerate(pieces[:-1], start=1)) + pieces[-1])


class StoreConnection(psycopg.AsyncConnection[Any]):
    """A pooled connection that keeps a cursor for each statement text the units of work send.

    Run again with the same statement, a cursor keeps its adaptation of the parameters' types
    (psycopg looks up a dumper per parameter type for each new cursor); reusing them took a
    fifth off the client's CPU per submit on the store's own path.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.statement_cursors: dict[str, psycopg.AsyncCursor[Any]] = {}

    async def run(self, query: str, params: tuple[Any, ...]) -> psycopg.AsyncCursor[Any]:
        """Execute `query` on this connection's cursor for it; read its answer before running it again."""
        cursor = self.statement_cursors.get(query)
        if cursor is None:
            cursor = self.statement_cursors[query] = _cursor(self, query)
        await cursor.execute(query, params)
        return cursor


async def run(conn: psycopg.AsyncConnection[Any], query: str, params: tuple[Any, ...]) -> psycopg.AsyncCursor[Any]:
    """Execute `query` on the connection's own cursor for it (`StoreConnection`), else on a new one."""
    if isinstance(conn, StoreConnection):
        return await conn.run(query, params)
    return await _cursor(conn, query).execute(query, params)


def _cursor(conn: psycopg.AsyncConnection[Any], query: str) -> psycopg.AsyncCursor[Any]:
    return psycopg.AsyncRawCursor(conn) if isinstance(query, NativeQuery) else conn.cursor()


class LivenessCheck:
    """The pool's check of a connection before it lends it, free when the connection is plainly alive.

    A connection the server closed (a restart, `pg_terminate_backend`, an idle timeout) has data or
    EOF waiting on its socket, which one non-blocking `select` sees; only then, or when the
    connection has not been lent for a few seconds, does the check cost a round trip. A connection
    that fails it is discarded and the pool lends another, so the caller never sees it.
    """

    def __init__(self) -> None:
        self._lent: weakref.WeakKeyDictionary[psycopg.AsyncConnection[Any], float] = weakref.WeakKeyDictionary()

    async def __call__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        now = time.monotonic()
        last = self._lent.get(conn)
        self._lent[conn] = now
        if last is not None and now - last < _QUIET_SECONDS and not _has_input(conn):
            return
        await AsyncConnectionPool.check_connection(conn)


class Transaction:
    """A pooled connection lent for one transaction, rolled back unless committed, then given back."""

    __slots__ = ("_conn", "_pool")

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def __aenter__(self) -> psycopg.AsyncConnection[Any]:
        try:
            conn: psycopg.AsyncConnection[Any] = await self._pool.getconn()
        except psycopg.Error as e:
            raise translate(e) from e
        try:
            await conn.set_autocommit(False)
        except psycopg.Error as e:
            await self._pool.putconn(conn)
            raise translate(e) from e
        self._conn = conn
        return conn

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await _end(conn)
        except psycopg.Error as e:
            if exc is None:  # otherwise the error that ended the block is the one to report
                raise translate(e) from e
        finally:
            await self._pool.putconn(conn)


async def _end(conn: psycopg.AsyncConnection[Any]) -> None:
    """Roll back what was not committed and leave the connection in autocommit mode."""
    if conn.closed or conn.broken:
        return  # the pool discards it
    if conn.info.transaction_status in _IN_TRANSACTION:
        await conn.rollback()
    await conn.set_autocommit(True)


def _has_input(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Whether an idle connection's socket has something to read: a notice, or the server's goodbye."""
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        return True
    return bool(readable)
