"""Group commit: one-statement writes that arrive while one is in flight go out together.

With many submits at once, each would send its own statements and pay its own commit: a round
trip, a statement start-up and a WAL flush per write, on both sides. Here the first writer to
find nobody writing sends everything waiting as one statement (`batch.WriteBatch.merge`), in
autocommit, on one pooled connection; writers that arrive meanwhile wait for it, and the first
of them then sends all of theirs. A lone writer pays nothing for this: it sends at once.

Writes only merge when they touch different rows; one that shares a row with an earlier one waits
for the next statement. A merged statement that fails is sent again one write at a time, so that
a write another would have refused (a taken client order id, a version that no longer matches)
fails alone, and the others are stored as if they had been sent on their own.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import psycopg
from psycopg_pool import AsyncConnectionPool

from adapters.postgres.batch import WriteBatch
from adapters.postgres.connections import run
from adapters.postgres.errors import translate
from adapters.postgres.remembered import Version
from trading_core.errors import StoreError, TradingError

MAX_WRITES: Final = 32
"""Writes merged into one statement at most: bounds its size and the number of statement shapes."""


class _Waiting:
    __slots__ = ("batch", "future", "keys")

    def __init__(self, batch: WriteBatch, future: asyncio.Future[Version | None]) -> None:
        # The future's result is the version the write left its rows at, or None: "send now".
        self.batch = batch
        self.keys = batch.keys()
        self.future = future


class GroupCommit:
    """Sends one-statement writes, merging those that wait for the one in flight."""

    __slots__ = ("_busy", "_pool", "_waiting")

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool
        self._waiting: list[_Waiting] = []
        self._busy = False

    async def write(self, batch: WriteBatch) -> Version:
        """Store `batch` (committed when this returns) and return the version of the rows it wrote.

        Raises:
            ConcurrentUpdate: a version it carries no longer matches; nothing of it is stored.
            StoreError: the database refused it or could not be reached.
        """
        loop = asyncio.get_running_loop()
        entry = _Waiting(batch, loop.create_future())
        if self._busy:
            self._waiting.append(entry)
            try:
                version = await entry.future
            except asyncio.CancelledError:
                if entry.future.done() and not entry.future.cancelled():
                    self._hand_over()  # woken to send, but cancelled before it could: the next one sends
                raise
            if version is not None:
                return version
            # Woken to send what waits, itself first among it.
            self._waiting.remove(entry)
            entry.future = loop.create_future()
        self._busy = True
        try:
            return await self._send_with_waiting(entry)
        finally:
            self._hand_over()

    async def _send_with_waiting(self, first: _Waiting) -> Version:
        group = self._take(first)
        try:
            await self._send(group)
        except BaseException as e:
            for entry in group[1:]:  # cancelled half way, say: nobody may wait for ever
                _settle(entry.future, _unknown(e))
            raise
        version = first.future.result()
        if version is None:  # None is the hand-over's "send now"; `_send` settles with a version or an error
            raise StoreError("the group commit lost the outcome of a write")
        return version

    def _take(self, first: _Waiting) -> list[_Waiting]:
        """`first` and the writes waiting that merge with it; the others wait on."""
        group, keys, later = [first], set(first.keys), []
        for entry in self._waiting:
            if entry.future.done():
                continue  # its writer was cancelled while it waited: nobody wants it stored now
            if len(group) < MAX_WRITES and keys.isdisjoint(entry.keys):
                group.append(entry)
                keys |= entry.keys
            else:
                later.append(entry)
        self._waiting = later
        return group

    async def _send(self, group: list[_Waiting]) -> None:
        """Store the group's writes, settling each one's future with its version or its error."""
        if len(group) == 1:
            outcome: Version | BaseException = await self._outcome(group[0].batch)
            _settle(group[0].future, outcome)
            return
        merged = WriteBatch()
        for entry in group:
            merged.merge(entry.batch)
        together = await self._outcome(merged)
        if isinstance(together, str) or not _refused(together):
            for entry in group:  # stored, or the database could not be reached: alike for all
                _settle(entry.future, together)
            return
        for entry in group:  # one of them spoilt it: each on its own, so only that one fails
            _settle(entry.future, await self._outcome(entry.batch))

    async def _outcome(self, batch: WriteBatch) -> Version | TradingError:
        """The version `batch` left its rows at, or the store error (caused by psycopg's) it met."""
        try:
            conn = await self._pool.getconn()
        except psycopg.Error as e:
            return _translated(e)
        try:
            cursor = await run(conn, *batch.take())
            row = await cursor.fetchone()
        except psycopg.Error as e:
            return _translated(e)
        finally:
            await self._pool.putconn(conn)
        if row is None:
            return StoreError("the database answered nothing to a write")
        return str(row[0])

    def _hand_over(self) -> None:
        """Wake the first write still waiting to send what waits, or stand down."""
        waiting = self._waiting
        while waiting and waiting[0].future.done():
            waiting.pop(0)  # cancelled while it waited
        if waiting:
            waiting[0].future.set_result(None)
        else:
            self._busy = False


def _translated(error: psycopg.Error) -> TradingError:
    translated = translate(error)
    translated.__cause__ = error
    return translated


def _refused(error: TradingError) -> bool:
    """Whether the database answered the statement with a refusal (a constraint, a version), which
    one write of a merged statement may have caused alone; not when it could not be reached, the
    connection broke (the outcome is then unknown: sending each again could store one twice) or
    it is shutting down."""
    cause = error.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    return sqlstate is not None and not sqlstate.startswith(("08", "57"))


def _settle(future: asyncio.Future[Version | None], outcome: Version | BaseException) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _unknown(cause: BaseException) -> StoreError:
    return StoreError(f"the outcome of this write is not known: the statement that held it was interrupted ({cause!r})")


__all__ = ["MAX_WRITES", "GroupCommit"]
