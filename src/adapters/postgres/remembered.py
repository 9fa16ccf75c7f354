"""Rows as this process last wrote them, with the version (`xmin`) each was left at.

A fill on an order this process just sent would otherwise read the order and its position under
row locks, one round trip, before writing them back, another. What it reads is nearly always what
this process wrote a moment ago, so an optimistic unit of work takes it from here instead and
writes with the version attached (`batch.WriteBatch`): should another writer (another replica, an
operator's SQL) have changed the row since, the write fails as a whole and the caller redoes it
with locks. Nothing here is ever trusted without that check.

Only what is worth keeping is kept: open orders (a final one is not written again, so it is
dropped) and each symbol's position, or that it has none. A row written some other way is
forgotten by whoever writes it, so that it is read afresh.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from trading_core.orders import Order
from trading_core.positions import Position

MAX_ORDERS: Final = 100_000
"""Open orders remembered at most; beyond it they are all forgotten (and read again when written)."""

Version = str
"""A row's `xmin`, as text: the id of the transaction that wrote it last."""


class RememberedRows:
    """Open orders and positions as last written here, each with its version."""

    __slots__ = ("_orders", "_positions")

    def __init__(self) -> None:
        self._orders: dict[str, tuple[Order, Version]] = {}
        self._positions: dict[str, tuple[Position | None, Version | None]] = {}

    def order(self, order_id: str) -> tuple[Order, Version] | None:
        """(the open order, its version), or None when it is not known."""
        return self._orders.get(order_id)

    def position(self, symbol: str) -> tuple[Position | None, Version | None] | None:
        """(the position, its version), (None, None) when there is none, or None when not known."""
        return self._positions.get(symbol)

    def wrote(
        self, orders: Iterable[Order], positions: Iterable[tuple[str, Position | None]], version: Version
    ) -> None:
        """Rows one transaction wrote and committed; a position of None was deleted (flat)."""
        known = self._orders
        for order in orders:
            if order.is_terminal:
                known.pop(order.id, None)
            else:
                if len(known) >= MAX_ORDERS:
                    known.clear()
                known[order.id] = (order, version)
        for symbol, position in positions:
            self._positions[symbol] = (None, None) if position is None else (position, version)

    def forget(self, order_ids: Iterable[str] = (), symbols: Iterable[str] = ()) -> None:
        """Rows written in a way whose outcome or version is not known: read them afresh next time."""
        for order_id in order_ids:
            self._orders.pop(order_id, None)
        for symbol in symbols:
            self._positions.pop(symbol, None)
