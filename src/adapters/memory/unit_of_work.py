"""The in-memory unit of work: writes are buffered and applied in one step on commit.

It behaves as the PostgreSQL one does, so the contract suite holds for both: reads see the
unit's own writes; `for_update` holds a per-row lock until commit or exit; a failed write leaves
the unit unusable (as an aborted transaction is), except a duplicate client order id, which the
database store detects without aborting.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import NoReturn

from adapters.memory.tables import Tables, broker_order_id_taken, client_order_id_taken
from trading_core.errors import ConcurrentUpdate, DuplicateClientOrderId, StoreError, TradingError
from trading_core.events import Event
from trading_core.fills import Fill
from trading_core.history import ClosedPosition
from trading_core.orders import Order
from trading_core.ports import TradingStateRecord
from trading_core.positions import Position
from trading_core.values import BrokerOrderId, ClientOrderId, OrderId, Symbol


class KeyLocks:
    """One lock per key, held in a dict entry: no lock object at all unless someone has to wait.

    An uncontended acquire only marks the key; a waiter queues a future, and release hands the
    lock to the first waiter still waiting. Entries go when their key is free, so memory stays
    bounded by the keys held at once.
    """

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: dict[str, deque[asyncio.Future[None]] | None] = {}

    def __len__(self) -> int:
        """How many keys are held now: a free key keeps no entry, so this is what the locks hold in memory."""
        return len(self._held)

    def try_acquire(self, key: str) -> bool:
        """Take a free key at once (no coroutine to create and await); False if it is held."""
        held = self._held
        if key in held:
            return False
        held[key] = None
        return True

    async def acquire(self, key: str) -> None:
        """Wait until `key` is free, then hold it."""
        held = self._held
        if key not in held:
            held[key] = None
            return
        waiters = held[key]
        if waiters is None:
            waiters = held[key] = deque()
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release(key)  # handed over just as we were cancelled: pass it on
            else:
                waiters.remove(waiter)
            raise

    def release(self, key: str) -> None:
        """Free `key`, handing it to the first waiter that is still waiting."""
        waiters = self._held[key]
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the lock passes to this waiter, still held
                return
        del self._held[key]


class MemoryUnitOfWork(AbstractAsyncContextManager["MemoryUnitOfWork"]):
    """One transaction over an in-memory store's tables; its row locks are held in `order_locks`
    (by order id) and `position_locks` (by symbol), a table of keys per table as a database has."""

    __slots__ = (
        "_closed",
        "_events",
        "_failed",
        "_fills",
        "_held",
        "_order_locks",
        "_orders",
        "_position_locks",
        "_positions",
        "_state",
        "_tables",
    )

    def __init__(self, tables: Tables, order_locks: KeyLocks, position_locks: KeyLocks) -> None:
        self._tables = tables
        self._order_locks = order_locks
        self._position_locks = position_locks
        self._orders: dict[str, tuple[Order, bool]] = {}
        """Written orders by id, each with whether this unit inserts it."""
        self._fills: list[Fill] = []
        self._positions: dict[str, Position] = {}
        self._events: list[Event] = []
        self._state: TradingStateRecord | None = None
        self._closed: list[ClosedPosition] = []
        self._held: list[tuple[KeyLocks, str]] = []
        self._failed = False

    async def __aenter__(self) -> MemoryUnitOfWork:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._discard()

    # reads

    async def get_order(self, order_id: OrderId, *, for_update: bool = False) -> Order | None:
        if for_update and not self._hold(self._order_locks, order_id):
            await self._wait_for(self._order_locks, order_id)
        return self._order(order_id)

    async def get_order_by_client_id(self, client_order_id: ClientOrderId, *, for_update: bool = False) -> Order | None:
        order = self._order_by_client(client_order_id)
        if order is None or not for_update:
            return order
        if not self._hold(self._order_locks, order.id):
            await self._wait_for(self._order_locks, order.id)
        return self._order_by_client(client_order_id)  # it may have changed while we waited

    async def get_order_by_broker_id(self, broker_order_id: BrokerOrderId, *, for_update: bool = False) -> Order | None:
        order = self._order_by_broker(broker_order_id)
        if order is None or not for_update:
            return order
        if not self._hold(self._order_locks, order.id):
            await self._wait_for(self._order_locks, order.id)
        return self._order_by_broker(broker_order_id)

    async def get_position(self, symbol: Symbol, *, for_update: bool = False) -> Position | None:
        if for_update and not self._hold(self._position_locks, symbol):
            await self._wait_for(self._position_locks, symbol)
        pending = self._positions.get(symbol)
        if pending is not None:
            return pending if pending.quantity else None
        return self._tables.positions.get(symbol)

    # writes

    async def add_order(self, order: Order) -> None:
        if self._failed:
            raise _aborted()
        if self._order_by_client(order.client_order_id) is not None:  # checked first, as the database does
            raise client_order_id_taken(order.client_order_id)
        if order.id in self._orders or order.id in self._tables.orders:
            self._fail(StoreError(f"order {order.id} is already stored"))
        if order.broker_order_id is not None and self._order_by_broker(order.broker_order_id) is not None:
            self._fail(broker_order_id_taken(order.broker_order_id))
        self._orders[order.id] = (order, True)

    async def update_order(self, order: Order) -> None:
        if self._failed:
            raise _aborted()
        pending = self._orders.get(order.id)
        before = pending[0] if pending is not None else self._tables.orders.get(order.id)
        if before is None:
            self._fail(StoreError(f"order {order.id} is not stored, so it cannot be updated"))
        if before.client_order_id != order.client_order_id:
            holder = self._order_by_client(order.client_order_id)
            if holder is not None and holder.id != order.id:
                self._fail(DuplicateClientOrderId(f"client order id {order.client_order_id} is already taken"))
        if before.broker_order_id != order.broker_order_id and order.broker_order_id is not None:
            holder = self._order_by_broker(order.broker_order_id)
            if holder is not None and holder.id != order.id:
                self._fail(broker_order_id_taken(order.broker_order_id))
        self._orders[order.id] = (order, pending is not None and pending[1])

    async def add_fill(self, fill: Fill) -> None:
        if self._failed:
            raise _aborted()
        if self._order(fill.order_id) is None:
            self._fail(StoreError(f"fill {fill.execution_id} names order {fill.order_id}, which is not stored"))
        if self._has_fill(fill):
            self._fail(_duplicate_fill(fill))
        self._fills.append(fill)

    async def save_position(self, position: Position) -> None:
        if self._failed:
            raise _aborted()
        self._positions[position.symbol] = position

    async def add_events(self, events: Sequence[Event]) -> None:
        if self._failed:
            raise _aborted()
        self._events.extend(events)

    async def save_trading_state(self, record: TradingStateRecord) -> None:
        if self._failed:
            raise _aborted()
        self._state = record

    async def add_closed_position(self, closed: ClosedPosition) -> None:
        if self._failed:
            raise _aborted()
        self._closed.append(closed)

    async def commit(self) -> None:
        """Check what others committed meanwhile, then apply every write at once (no await between).

        Raises:
            StoreError: the unit of work failed earlier, or what it read changed meanwhile (`ConcurrentUpdate`).
        """
        if self._failed:
            raise _aborted()
        self._check_against_committed()
        tables = self._tables
        if self._orders:
            for order, _ in self._orders.values():
                tables.put_order(order)
        for fill in self._fills:
            tables.put_fill(fill)
        if self._positions:
            for held in self._positions.values():
                tables.put_position(held)
        if self._events:
            tables.put_events(self._events)
        if self._state is not None:
            tables.trading_state = self._state
        for closed in self._closed:
            tables.history.add_closed(closed)
        self._discard()

    async def rollback(self) -> None:
        """Forget every write; the unit may be used again, as a new transaction."""
        self._discard()
        self._failed = False

    # helpers

    def _check_against_committed(self) -> None:
        tables = self._tables
        for order, is_new in self._orders.values():
            if is_new and order.id in tables.orders:
                self._fail(StoreError(f"order {order.id} is already stored"))
            holder = tables.by_client.get(order.client_order_id)
            if holder is not None and holder != order.id:
                self._fail(DuplicateClientOrderId(f"client order id {order.client_order_id} is already taken"))
            if order.broker_order_id is not None:
                holder = tables.by_broker.get(order.broker_order_id)
                if holder is not None and holder != order.id:
                    self._fail(broker_order_id_taken(order.broker_order_id))
        for fill in self._fills:
            if (fill.order_id, fill.execution_id) in tables.fill_keys:
                self._fail(_duplicate_fill(fill))
        if self._events:
            try:
                tables.check_new_events(self._events)
            except StoreError as e:
                self._fail(e)

    def _order(self, order_id: str) -> Order | None:
        pending = self._orders.get(order_id)
        return pending[0] if pending is not None else self._tables.orders.get(order_id)

    def _order_by_client(self, client_order_id: str) -> Order | None:
        if self._orders:
            for order, _ in self._orders.values():
                if order.client_order_id == client_order_id:
                    return order
        found = self._tables.order_by_client(client_order_id)
        if found is None:
            return None
        current = self._order(found.id)  # this unit may have moved it to another client id
        return current if current is not None and current.client_order_id == client_order_id else None

    def _order_by_broker(self, broker_order_id: str) -> Order | None:
        if self._orders:
            for order, _ in self._orders.values():
                if order.broker_order_id == broker_order_id:
                    return order
        order_id = self._tables.by_broker.get(broker_order_id)
        current = None if order_id is None else self._order(order_id)
        return current if current is not None and current.broker_order_id == broker_order_id else None

    def _has_fill(self, fill: Fill) -> bool:
        if (fill.order_id, fill.execution_id) in self._tables.fill_keys:
            return True
        pending = self._fills
        return bool(pending) and any(
            f.order_id == fill.order_id and f.execution_id == fill.execution_id for f in pending
        )

    def _hold(self, locks: KeyLocks, key: str) -> bool:
        """Hold the row lock `key` of `locks` if it is free or this unit has it; False if another unit holds it.

        Apart from `_wait_for`: an uncontended lock (nearly every one) then costs no coroutine.
        """
        if locks.try_acquire(key):
            self._held.append((locks, key))
            return True
        return (locks, key) in self._held

    async def _wait_for(self, locks: KeyLocks, key: str) -> None:
        """Wait until another unit releases the row lock `key` of `locks`, then hold it."""
        await locks.acquire(key)
        self._held.append((locks, key))

    def _fail(self, error: TradingError) -> NoReturn:
        self._failed = True
        raise error

    def _discard(self) -> None:
        """Forget buffered writes and release row locks, as a database's commit or rollback does."""
        if self._orders:
            self._orders = {}
        if self._fills:
            self._fills = []
        if self._positions:
            self._positions = {}
        if self._events:
            self._events = []
        if self._closed:
            self._closed = []
        self._state = None
        if self._held:
            for locks, key in self._held:
                locks.release(key)
            self._held = []


def _aborted() -> StoreError:
    # Checked inline by every write (a call per write showed up on the submit path), raised here.
    return StoreError("an earlier write of this unit of work failed; leave it and start another")


def _duplicate_fill(fill: Fill) -> ConcurrentUpdate:
    return ConcurrentUpdate(
        f"fill {fill.execution_id} of order {fill.order_id} is already stored; reload the order and retry",
        details={"orderId": fill.order_id, "executionId": fill.execution_id},
    )
