"""One listed symbol: its price, the account's position in it, and its resting orders by price.

Resting orders sit in four heaps keyed so that the order nearest to execution is on top: a price
move pops only the orders it crosses. A cancelled order is left in its heap and skipped when it
surfaces; the heaps are rebuilt once such dead entries outnumber the live ones.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from adapters.paper.working import WorkingOrder
from trading_core.enums import Side
from trading_core.market import Asset
from trading_core.positions import Position
from trading_core.values import ZERO

_Entry = tuple[Decimal, int, WorkingOrder]
_COMPACT_AFTER = 64


class Instrument:
    """Price, position and order book of one symbol."""

    __slots__ = (
        "asset",
        "buy_limits",
        "buy_stops",
        "open_buy",
        "open_sell",
        "position",
        "price",
        "priced_at",
        "sell_limits",
        "sell_stops",
        "stale",
        "value",
        "waiting",
    )

    def __init__(self, asset: Asset, price: Decimal, priced_at: datetime) -> None:
        self.asset = asset
        self.price = price
        self.priced_at = priced_at
        self.position = Position.flat(asset.symbol)
        self.value = ZERO
        """The position's signed market value at `price`."""
        self.open_buy = ZERO
        """Unfilled quantity of open buy orders (resting or not)."""
        self.open_sell = ZERO
        self.buy_limits: list[_Entry] = []  # highest limit on top
        self.sell_limits: list[_Entry] = []  # lowest limit on top
        self.buy_stops: list[_Entry] = []  # lowest stop on top
        self.sell_stops: list[_Entry] = []  # highest stop on top
        self.waiting: list[WorkingOrder] = []
        """Market orders (and triggered stops) that could not fill completely yet."""
        self.stale = 0

    @property
    def idle(self) -> bool:
        """Nothing rests or waits here: a price move has no order to trigger or execute."""
        return not (self.waiting or self.buy_limits or self.sell_limits or self.buy_stops or self.sell_stops)

    def rest(self, order: WorkingOrder) -> None:
        """Put an open order where the next price move will find it."""
        order.in_book = True
        buy = order.side is Side.BUY
        stop, limit = order.stop_price, order.limit_price
        if not order.triggered and stop is not None:  # untriggered: a stop order, with its stop price
            heapq.heappush(self.buy_stops if buy else self.sell_stops, (stop if buy else -stop, order.seq, order))
        elif order.has_limit and limit is not None:
            heapq.heappush(self.buy_limits if buy else self.sell_limits, (-limit if buy else limit, order.seq, order))
        else:
            self.waiting.append(order)

    def remove(self, order: WorkingOrder) -> None:
        """Take a closed order out of the book (lazily: its entry is skipped when it surfaces)."""
        if not order.in_book:
            return
        order.in_book = False
        self.stale += 1
        if self.stale > _COMPACT_AFTER and self.stale * 2 > self._entries():
            self._compact()

    def triggered(self, price: Decimal) -> list[WorkingOrder]:
        """Pop the stops that `price` crosses: buy stops at or below it, sell stops at or above."""
        hits = self._pop_while(self.buy_stops, lambda key: key <= price)
        hits += self._pop_while(self.sell_stops, lambda key: -key >= price)
        return hits

    def crossed(self, price: Decimal) -> list[WorkingOrder]:
        """Pop what can execute at `price`: waiting market orders, then the limits it crosses."""
        hits: list[WorkingOrder] = []
        for order in self.waiting:
            if order.in_book:
                hits.append(order)
            else:
                self.stale -= 1
        self.waiting = []
        hits += self._pop_while(self.buy_limits, lambda key: -key >= price)
        hits += self._pop_while(self.sell_limits, lambda key: key <= price)
        for order in hits:
            order.in_book = False
        return hits

    def _pop_while(self, heap: list[_Entry], crosses: Callable[[Decimal], bool]) -> list[WorkingOrder]:
        hits: list[WorkingOrder] = []
        while heap and crosses(heap[0][0]):
            order = heapq.heappop(heap)[2]
            if order.in_book:
                order.in_book = False
                hits.append(order)
            else:
                self.stale -= 1
        return hits

    def _entries(self) -> int:
        return (
            len(self.buy_limits)
            + len(self.sell_limits)
            + len(self.buy_stops)
            + len(self.sell_stops)
            + len(self.waiting)
        )

    def _compact(self) -> None:
        for heap in (self.buy_limits, self.sell_limits, self.buy_stops, self.sell_stops):
            heap[:] = [entry for entry in heap if entry[2].in_book]
            heapq.heapify(heap)
        self.waiting = [order for order in self.waiting if order.in_book]
        self.stale = 0
