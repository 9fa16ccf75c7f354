"""Sessions and shutdown: what the market's open and close, and a system shutdown, do to orders."""

from __future__ import annotations

import logging

from trading_core.engine.amendment import Amendment
from trading_core.engine.dispatch import Dispatch
from trading_core.engine.parts import EngineParts
from trading_core.enums import OrderStatus
from trading_core.errors import TradingError
from trading_core.orders import Order
from trading_core.views import CancelAllResult, CancelFailure

log = logging.getLogger("trading_core.engine")


class Sessions:
    """Sends the orders queued for the open; cancels every open order on shutdown.

    Args:
        parts: the engine's shared parts.
        dispatch: sends the queued orders.
        amendment: cancels orders.
    """

    def __init__(self, parts: EngineParts, dispatch: Dispatch, amendment: Amendment) -> None:
        self._parts = parts
        self._dispatch = dispatch
        self._amendment = amendment

    async def opened(self) -> int:
        """The market opened: orders queued while it was closed go out, oldest first. Returns how many."""
        parts = self._parts
        parts.facts.session_changed(is_open=True)
        queued = sorted(
            (o for o in parts.book.open_orders.values() if _is_queued(o) and o.id not in parts.in_flight),
            key=lambda o: o.created_at,
        )
        for order in queued:
            await self._dispatch.send(order)
        return len(queued)

    def closed(self) -> None:
        """The market closed: market orders are refused (or queued) until it opens."""
        self._parts.facts.session_changed(is_open=False)

    async def cancel_all(self) -> CancelAllResult:
        """Cancel every open order (on `system.shutdown`, or the operator's kill switch)."""
        cancelled: list[Order] = []
        failed: list[CancelFailure] = []
        for order in list(self._parts.book.open_orders.values()):
            if order.id not in self._parts.book.open_orders:
                continue  # a leg its parent's cancel already ended
            try:
                cancelled.append(await self._amendment.cancel(order.id))
            except TradingError as e:  # one failure must not keep the others from being cancelled
                log.warning("could not cancel %s: %s", order.id, e)
                failed.append(CancelFailure(order_id=order.id, code=e.code, message=str(e)))
        return CancelAllResult(cancelled=tuple(cancelled), failed=tuple(failed))


def _is_queued(order: Order) -> bool:
    """Held here while the market was closed, waiting for the open."""
    return (
        order.broker_order_id is None
        and order.parent_id is None
        and order.leg_of is None  # sent with its parent
        and order.status is OrderStatus.ACCEPTED
    )
