"""The class each leg of a bracket, OCO or OTO shows: its parent's, as Alpaca shows it.

A leg is a simple order on the paper exchange (its own `order_class` is `simple`); Alpaca's Order
object of a leg names the group's class (`bracket`, `oco`, `oto`), read alone
(`GET /v2/orders/{id}`), listed or streamed, as it does in its parent's `legs` (payloads recorded
from Alpaca's `/v2/orders` show a bracket's take-profit and held stop-loss with `"order_class":
"bracket"`). The simulator remembers it per leg, for the leg's replacements too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from trading_core.broker_models import BrokerOrder
from trading_core.enums import OrderClass
from trading_core.values import BrokerOrderId

__all__ = ["LegClasses"]

_MAX_REMEMBERED: Final = 200_000


class LegClasses:
    """Leg id -> the class of its group; the oldest forgotten beyond `limit`."""

    def __init__(self, limit: int = _MAX_REMEMBERED) -> None:
        self._classes: dict[BrokerOrderId, OrderClass] = {}
        self._limit = limit

    def get(self, broker_order_id: BrokerOrderId) -> OrderClass | None:
        """The class a leg shows; None for an order that is no leg."""
        return self._classes.get(broker_order_id)

    def note(self, order: BrokerOrder) -> None:
        """Remember the legs of a class order (its answer or a snapshot), or a leg's replacement
        (an order that `replaces` a leg, or that a leg is `replaced_by`, is that leg in its group)."""
        classes = self._classes
        if order.legs:
            for leg in order.legs:
                self._remember(leg.broker_order_id, order.order_class)
        elif order.replaces is not None and (group := classes.get(order.replaces)) is not None:
            self._remember(order.broker_order_id, group)
        if order.replaced_by is not None and (group := classes.get(order.broker_order_id)) is not None:
            self._remember(order.replaced_by, group)

    def restore(self, orders: Iterable[BrokerOrder]) -> None:
        """Remember what the journal's orders (in submission order) say of legs and their replacements."""
        for order in orders:
            self.note(order)

    def clear(self) -> None:
        self._classes.clear()

    def _remember(self, broker_order_id: BrokerOrderId, group: OrderClass) -> None:
        self._classes[broker_order_id] = group
        if len(self._classes) > self._limit:
            del self._classes[next(iter(self._classes))]
