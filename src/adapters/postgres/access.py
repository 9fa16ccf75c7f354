"""How a unit of work holds the rows it read for update, and so how it writes them: two strategies.

`LockedRows`: rows read under a lock (`SELECT ... FOR UPDATE`, and a position's advisory lock)
that the unit's transaction holds until it ends. Nobody else can change them meanwhile, so a
write of one cannot miss its row: it is kept and goes out with the unit's next statement.

`RememberedAccess`: rows taken as this process last wrote them (`remembered.RememberedRows`),
without a lock or a round trip. Each write of one carries the version its row must still be at,
and a row read but not written is checked at its version when the unit commits: if another
writer changed one, the commit fails as a whole (`ConcurrentUpdate`).

Both answer the same questions (`RowAccess`): does it hold this order or position, how is a
write of it kept, and what must be checked at the commit. A row neither holds is written at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from adapters.postgres import rows
from adapters.postgres.batch import POSITION_LOCK_CLASS, Key, Write, WriteKind
from adapters.postgres.remembered import RememberedRows, Version
from trading_core.orders import Order
from trading_core.positions import Position

KeptOrders = Mapping[str, Order]
"""What the unit's kept writes leave its orders as, by id."""
KeptPositions = Mapping[str, Position | None]
"""Likewise its positions, by symbol (None: deleted, flat)."""


class RowAccess(Protocol):
    """A way of holding rows read for update, which decides how their writes are kept."""

    def holds_order(self, order_id: str) -> bool:
        """Whether the order was read for update this way."""

    def holds_position(self, symbol: str) -> bool:
        """Whether the symbol's position was read for update this way."""

    def holds_any(self) -> bool:
        """Whether any row is held this way (events then go with the kept writes)."""

    def order_write(self, order: Order) -> Write:
        """The kept write of a held order's whole row."""

    def position_write(self, position: Position) -> Write:
        """The kept write of a held position's row (deleted when flat)."""

    def checks(self, orders: KeptOrders, positions: KeptPositions) -> Iterator[tuple[Key, Write]]:
        """What must still hold at the commit for rows held this way and not written."""

    def clear(self) -> None:
        """Hold nothing (the unit ended)."""


class LockedRows:
    """Rows the unit's transaction holds locked: their writes cannot miss, and need no check."""

    __slots__ = ("_orders", "_read_with_orders", "_symbols")

    def __init__(self) -> None:
        self._orders: set[str] = set()
        self._symbols: set[str] = set()
        self._read_with_orders: dict[str, tuple[Any, ...] | None] = {}
        """Positions locked and read with an order: symbol -> row (None: no position), used once."""

    def order_locked(self, order: Order, position_row: tuple[Any, ...] | None, *, keep_position: bool) -> None:
        """`order` is locked, and so is its symbol's position, read as `position_row` with it.

        Args:
            order: the order read under its lock.
            position_row: the position's row read under its lock in the same round trip (None: none).
            keep_position: whether `take_position` may answer with it (not when the position is
                held otherwise).
        """
        self._orders.add(order.id)
        if keep_position:
            self._read_with_orders[order.symbol] = position_row

    def position_locked(self, symbol: str) -> None:
        """The symbol's position is locked from now until the unit ends."""
        self._symbols.add(symbol)

    def take_position(self, symbol: str) -> tuple[bool, Position | None]:
        """(True, the position) when it was read with its order and not used yet, else (False, None)."""
        if symbol not in self._read_with_orders:
            return False, None
        row = self._read_with_orders.pop(symbol)
        self._symbols.add(symbol)  # locked when it was read, with its order
        return True, None if row is None else rows.position_from_row(row)

    def drop_position(self, symbol: str) -> None:
        """Forget the position read with its order: it is written or read afresh instead."""
        self._read_with_orders.pop(symbol, None)

    def holds_order(self, order_id: str) -> bool:
        """Whether the order is locked by this unit."""
        return order_id in self._orders

    def holds_position(self, symbol: str) -> bool:
        """Whether the position was read locked by this unit."""
        return symbol in self._symbols

    def holds_any(self) -> bool:
        """Whether this unit locked any order or position."""
        return bool(self._orders or self._symbols)

    def order_write(self, order: Order) -> Write:
        """The order's whole row."""
        return WriteKind.ORDER, (*rows.order_params(order), order.id)

    def position_write(self, position: Position) -> Write:
        """The position's row, or its deletion when it is flat."""
        if position.quantity:
            return WriteKind.POSITION, rows.position_params(position)
        return WriteKind.FLAT, (position.symbol,)

    def checks(self, orders: KeptOrders, positions: KeptPositions) -> Iterator[tuple[Key, Write]]:
        """Nothing: nobody else could change a locked row."""
        return iter(())

    def clear(self) -> None:
        """Hold nothing (the transaction ended, and its locks with it)."""
        self._orders.clear()
        self._symbols.clear()
        self._read_with_orders.clear()


class RememberedAccess:
    """Rows taken as this process last wrote them: each write and check carries the row's version.

    Args:
        memory: the rows this process wrote last, with their versions.
        optimistic: whether reads may take rows from `memory` at all; without it nothing is held
            this way, and `memory` only learns what the unit commits.
    """

    __slots__ = ("_memory", "_optimistic", "_orders", "_positions")

    def __init__(self, memory: RememberedRows, *, optimistic: bool) -> None:
        self._memory = memory
        self._optimistic = optimistic
        self._orders: dict[str, Version] = {}
        """Orders taken as remembered, each with the version its row must still be at."""
        self._positions: dict[str, Version | None] = {}
        """Likewise positions (None: there must still be none)."""

    def order(self, order_id: str) -> Order | None:
        """The order as remembered, now held this way; None when it is not remembered."""
        known = self._memory.order(order_id) if self._optimistic else None
        if known is None:
            return None
        order, self._orders[order_id] = known
        return order

    def position(self, symbol: str) -> tuple[bool, Position | None]:
        """(True, the position or None for none) as remembered, now held this way; else (False, None)."""
        known = self._memory.position(symbol) if self._optimistic else None
        if known is None:
            return False, None
        position, self._positions[symbol] = known
        return True, position

    def holds_order(self, order_id: str) -> bool:
        """Whether the order was taken as remembered."""
        return order_id in self._orders

    def holds_position(self, symbol: str) -> bool:
        """Whether the position (or that there is none) was taken as remembered."""
        return symbol in self._positions

    def holds_any(self) -> bool:
        """Whether any row was taken as remembered."""
        return bool(self._orders or self._positions)

    def order_write(self, order: Order) -> Write:
        """The order's whole row, if it is still at the version taken."""
        return WriteKind.ORDER_AT_VERSION, (*rows.order_params(order), order.id, self._orders[order.id])

    def position_write(self, position: Position) -> Write:
        """The position's row (or its deletion when flat), if it is still as taken."""
        symbol = position.symbol
        version = self._positions[symbol]
        if version is None and position.quantity:
            return WriteKind.NEW_POSITION, (*rows.position_params(position), POSITION_LOCK_CLASS, symbol)
        if version is None:
            return WriteKind.STILL_FLAT, (symbol,)  # flat it was, flat it stays
        if position.quantity:
            return WriteKind.POSITION_AT_VERSION, (*rows.versioned_position_params(position), version)
        return WriteKind.FLAT_AT_VERSION, (symbol, version)

    def checks(self, orders: KeptOrders, positions: KeptPositions) -> Iterator[tuple[Key, Write]]:
        """Rows taken as remembered and not written must still be as remembered at the commit."""
        for order_id, version in self._orders.items():
            if order_id not in orders:
                yield ("order", order_id), (WriteKind.ORDER_UNCHANGED, (order_id, version))
        for symbol, expected in self._positions.items():
            if symbol not in positions:
                check = (
                    (WriteKind.STILL_FLAT, (symbol,))
                    if expected is None
                    else (WriteKind.POSITION_UNCHANGED, (symbol, expected))
                )
                yield ("position", symbol), check

    def committed(self, orders: KeptOrders, positions: KeptPositions, version: Version) -> None:
        """The kept writes are stored, at `version`: remember the rows as they left them."""
        self._memory.wrote(orders.values(), positions.items(), version)

    def abandoned(self, orders: KeptOrders, positions: KeptPositions) -> None:
        """The kept writes failed, or nobody knows whether they were stored: read every row they
        wrote, and every row held this way, afresh next time."""
        self._memory.forget([*self._orders, *orders], [*self._positions, *positions])

    def forget_order(self, order_id: str) -> None:
        """An order written some other way: read it afresh next time."""
        self._memory.forget(order_ids=(order_id,))

    def forget_position(self, symbol: str) -> None:
        """A position written some other way: read it afresh next time."""
        self._memory.forget(symbols=(symbol,))

    def clear(self) -> None:
        """Hold nothing (the unit ended); what is remembered stays."""
        self._orders.clear()
        self._positions.clear()
