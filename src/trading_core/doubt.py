"""Orders in doubt: sent, unanswered, and not yet shown by the broker; the evidence that settles them.

A submission that went unanswered (a timeout, a dropped connection, any 5xx, a 2xx we cannot read)
may have reached the broker's order system, now or later: a gateway may deliver it after it
answered 504. Such an order stays pending, and the risk checks count it, until evidence settles it:

- the stream reports it (the ledger applies the broker's acceptance and fills as usual);
- the broker finds it by client order id (the adapter asks at once, then this poll every round);
- after `in_doubt_window`, the broker's own order list around its submission time does not show
  it: only then is it refused as never received (`BROKER_ERROR`).

An order refused that way which the broker reports later is adopted all the same (see
`orders.reopened`): the broker's word is the last one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from trading_core import codes
from trading_core.broker_models import BrokerOrder
from trading_core.enums import OrderStatus
from trading_core.errors import BrokerError
from trading_core.orders import Order, doubt_since, in_doubt
from trading_core.ports import OrderFilter
from trading_core.values import ClientOrderId

if TYPE_CHECKING:
    from trading_core.engine import TradingEngine

log = logging.getLogger("trading_core.doubt")

CLOCK_SKEW: Final = timedelta(minutes=2)
"""How far the broker's submission time may precede ours (clocks differ): the listing starts this
much earlier than the oldest order it must cover."""
LISTING_LIMIT: Final = 5_000
"""Orders read from the broker's list at most in one round; a list that reaches it proves nothing."""


def doubtful(engine: TradingEngine) -> list[Order]:
    """The open orders in doubt that no sender of this process is settling right now."""
    return [o for o in engine.book.open_orders.values() if in_doubt(o) and o.id not in engine.sending]


async def settle_doubts(engine: TradingEngine, orders: Sequence[Order]) -> int:
    """Ask the broker about each order in doubt; returns how many were settled either way.

    Found by client order id, an order takes the broker's state. Not found within the window, it
    stays in doubt. Past the window, the broker's order list decides: absent from a complete
    listing since before it was sent, it is refused as never received.
    """
    settled = 0
    now = engine.now()
    overdue: list[Order] = []
    for order in orders:
        try:
            remote = await engine.broker.get_order_by_client_id(order.client_order_id)
        except BrokerError as e:  # the order list may still tell, past the window
            log.warning("could not look order %s up by its client order id: %s", order.id, e)
            remote = None
        if remote is not None:
            settled += await _adopt(engine, order, remote)
        elif now - doubt_since(order) >= engine.config.in_doubt_window:
            overdue.append(order)
    if overdue:
        settled += await _settle_overdue(engine, overdue)
    return settled


async def _settle_overdue(engine: TradingEngine, overdue: Sequence[Order]) -> int:
    since = min(doubt_since(o) for o in overdue) - CLOCK_SKEW
    listed = await engine.broker.list_orders(status=OrderFilter.ALL, after=since, limit=LISTING_LIMIT)
    if len(listed) >= LISTING_LIMIT:
        log.warning("the broker lists %d orders or more since %s: %d stay in doubt", len(listed), since, len(overdue))
        return 0
    by_client_id: dict[ClientOrderId, BrokerOrder] = {o.client_order_id: o for o in listed}
    settled = 0
    for order in overdue:
        remote = by_client_id.get(order.client_order_id)
        if remote is not None:
            settled += await _adopt(engine, order, remote)
            continue
        reason = (
            f"not received by the broker: it went unanswered and the broker's orders since {since.isoformat()} "
            f"do not include it; {codes.RESEND_ADVICE}"
        )
        refused = await engine.refuse_unsent(order, reason)
        settled += refused.status is OrderStatus.REJECTED
    return settled


async def _adopt(engine: TradingEngine, order: Order, remote: BrokerOrder) -> int:
    log.warning("order %s, in doubt, is at the broker as %s (%s)", order.id, remote.broker_order_id, remote.status)
    await engine.take_broker_copy(order, remote)
    return 1
