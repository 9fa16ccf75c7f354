"""Closes of a symbol's position held one at a time across every engine on the database.

A holder takes a transaction-scoped advisory lock in a transaction it keeps open for the close:
PostgreSQL releases it when the transaction ends, or when the connection drops (a crash, a
network failure), so a lock never outlives its holder and nothing has to unlock it.

The lock uses the two-key form, (`CLOSE_LOCK_CLASS`, `hashtext(symbol)`): that key space is apart
from the one-key locks (the migrations', the test fixtures'), and the class keeps it apart from
the position locks (`batch.POSITION_LOCK_CLASS`). Two symbols whose hashes collide only take turns.
`hashtext` runs on the server, so every replica derives the same key.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

from psycopg_pool import AsyncConnectionPool

from adapters.postgres.connections import Transaction
from adapters.postgres.errors import translated
from trading_core.values import Symbol

CLOSE_LOCK_CLASS: Final = 0x7472_636C  # "trcl": advisory locks of position closes, keyed by symbol
_HOLD: Final = "SELECT pg_advisory_xact_lock(%s, hashtext(%s))"


class SymbolLocks:
    """`OrderStore.symbol_lock` on PostgreSQL: an advisory lock per symbol, in a pooled transaction."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool
        self._local: dict[Symbol, asyncio.Lock] = {}

    @asynccontextmanager
    async def hold(self, symbol: Symbol) -> AsyncIterator[None]:
        """Wait for `symbol`, then hold it until the block ends."""
        local = self._local.get(symbol)
        if local is None:
            local = self._local[symbol] = asyncio.Lock()
        # Waiters in this process queue here, without a connection: were each to wait in the
        # database, enough of them would take every pooled connection and starve the holder.
        async with local, Transaction(self._pool) as conn:
            with translated():
                await conn.execute(_HOLD, (CLOSE_LOCK_CLASS, symbol))
            yield
