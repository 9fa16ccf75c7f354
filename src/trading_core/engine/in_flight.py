"""The in-flight registry: orders this process is placing at the broker right now."""

from __future__ import annotations

from trading_core.values import OrderId


class InFlight:
    """Orders on their way to the broker, from before each is stored until its answer is.

    Until then the broker may not know an order yet: reconciliation must not take that for a loss,
    and nothing else may send it (a split's opening half is released by its sender and by the
    stream alike; it goes once).
    """

    __slots__ = ("_ids",)

    def __init__(self) -> None:
        self._ids: set[OrderId] = set()

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._ids

    def placing(self, order_id: OrderId) -> Placing:
        """Mark `order_id` in flight for the `with` block (nested blocks keep the outer mark)."""
        return Placing(self._ids, order_id)


class Placing:
    """`InFlight.placing`: a plain context manager, as one runs for every order."""

    __slots__ = ("_added", "_ids", "_order_id")

    def __init__(self, ids: set[OrderId], order_id: OrderId) -> None:
        self._ids, self._order_id, self._added = ids, order_id, False

    def __enter__(self) -> None:
        if self._order_id not in self._ids:  # else an outer step is placing it already
            self._ids.add(self._order_id)
            self._added = True

    def __exit__(self, *exc_info: object) -> None:
        if self._added:
            self._ids.discard(self._order_id)
