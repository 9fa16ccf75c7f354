"""Paper exchange controls for simulators that script a venue: fills, slow acknowledgements, replace races."""

from __future__ import annotations

from adapters.paper.venue import FillPlan, Venue
from trading_core.broker_models import BrokerOrder
from trading_core.orders import Order
from trading_core.values import BrokerOrderId


class ScriptControls:
    """What the Alpaca simulator's fault rules drive on a `PaperExchange` (its base class)."""

    _venue: Venue

    def plan_fills(self, plan: FillPlan | None) -> None:
        """Let `plan(quantity)` choose the sizes of each order's first execution.

        It returns the sizes of the first fills (the rest of the quantity fills last), or None to
        fill as configured (`fill_parts`). None as the plan removes it. For simulators that script
        partial fills.
        """
        self._venue.plan_fills(plan)

    def fill_now(self, broker_order_id: BrokerOrderId) -> None:
        """Fill what remains of an open order at once, at its limit price if it has one, else the current price.

        For simulators that script a fill racing a cancel. Raises `OrderNotFound` or
        `OrderNotCancelable` (closed, or a cancel or replace pending) like `cancel_order`.
        """
        self._venue.fill_now(broker_order_id)

    def submit_pending(self, order: Order) -> BrokerOrder:
        """Take a new order as `submit_order` does, but hold it `pending_new` until `acknowledge`.

        For simulators that script a venue slow to acknowledge: it holds buying power and can be
        cancelled, but does not execute (nor can it be replaced) while pending.
        """
        return self._venue.submit(order, pending=True)

    def acknowledge(self, broker_order_id: BrokerOrderId) -> None:
        """Route an order held `pending_new`: `new` (`accepted` while closed), then it executes."""
        self._venue.acknowledge(broker_order_id)

    def begin_replace(self, broker_order_id: BrokerOrderId) -> BrokerOrder:
        """Put an open order in `pending_replace` until `end_replace`; for simulators that script a replace race.

        Raises `OrderNotFound` or `OrderNotCancelable` as `replace_order` does.
        """
        return self._venue.begin_replace(broker_order_id)

    def end_replace(self, broker_order_id: BrokerOrderId, *, fill_first: bool) -> None:
        """Refuse the pending replace (`order_replace_rejected`); `fill_first`: the order fills completely before."""
        self._venue.end_replace(broker_order_id, fill_first=fill_first)
