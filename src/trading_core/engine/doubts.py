"""Orders in doubt: sent, unanswered, and not yet shown by the broker; the evidence that settles them.

A submission that went unanswered (a timeout, a dropped connection, any 5xx, a 2xx we cannot read)
may have reached the broker's order system, now or later: a gateway may deliver it after it
answered 504. Such an order stays pending, and the risk checks count it, until evidence settles it:

- the stream reports it (the ledger applies the broker's acceptance and fills as usual);
- the broker shows it: the adapter looks its client order id up at once, with backoff, and then
  every order poll reads the broker's own order list around its submission time;
- after `in_doubt_window`, that list does not show it: only then is it refused as never
  received (`BROKER_ERROR`).

An order refused that way which the broker reports later is adopted all the same (see
`lifecycle.reopened`): the broker's word is the last one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Final

from trading_core import codes
from trading_core.broker_models import BrokerOrder
from trading_core.engine.dispatch import Dispatch
from trading_core.engine.parts import EngineParts
from trading_core.engine.updates import BrokerUpdates
from trading_core.enums import OrderStatus
from trading_core.orders import Order, doubt_since, in_doubt
from trading_core.ports import OrderFilter
from trading_core.values import ClientOrderId

log = logging.getLogger("trading_core.doubt")

CLOCK_SKEW: Final = timedelta(minutes=2)
"""How far the broker's submission time may be from ours (clocks differ): a listing reaches this
much beyond the orders it must cover."""
GROUP_SPAN: Final = timedelta(minutes=5)
"""Orders in doubt whose submissions lie within this of each other are asked about in one listing."""
LISTING_LIMIT: Final = 5_000
"""Orders read from the broker's list at most for one group; a list that reaches it proves nothing."""


class Doubts:
    """Settles the orders in doubt from the broker's own order list.

    Args:
        parts: the engine's shared parts.
        dispatch: refuses what the broker never received.
        updates: takes an order the broker shows to the broker's copy.
    """

    def __init__(self, parts: EngineParts, dispatch: Dispatch, updates: BrokerUpdates) -> None:
        self._parts = parts
        self._dispatch = dispatch
        self._updates = updates

    def doubtful(self) -> list[Order]:
        """The open orders in doubt that no sender of this process is settling right now."""
        in_flight = self._parts.in_flight
        return [o for o in self._parts.book.open_orders.values() if in_doubt(o) and o.id not in in_flight]

    async def settle(self) -> int:
        """Ask the broker about the orders in doubt; returns how many were settled either way.

        One listing of the broker's orders around their submission times answers for a group of
        them (one request, where a lookup each would spend the request budget): an order it shows
        takes the broker's state; one it does not show stays in doubt within the window, and past
        it is refused as never received, when the listing is complete.

        Raises:
            BrokerError: the broker's order list could not be read.
        """
        settled = 0
        for group in _groups(sorted(self.doubtful(), key=doubt_since)):
            settled += await self._settle_group(group)
        return settled

    async def _settle_group(self, group: Sequence[Order]) -> int:
        window = self._parts.config.in_doubt_window
        since = doubt_since(group[0]) - CLOCK_SKEW
        until = doubt_since(group[-1]) + window + CLOCK_SKEW
        broker = self._parts.broker
        listed = await broker.list_orders(status=OrderFilter.ALL, after=since, until=until, limit=LISTING_LIMIT)
        complete = len(listed) < LISTING_LIMIT
        by_client_id: dict[ClientOrderId, BrokerOrder] = {o.client_order_id: o for o in listed}
        now = self._parts.clock.now()
        settled = 0
        for order in group:
            remote = by_client_id.get(order.client_order_id)
            if remote is not None:
                log.warning(
                    "order %s, in doubt, is at the broker as %s (%s)", order.id, remote.broker_order_id, remote.status
                )
                await self._updates.take_broker_copy(order, remote)
                settled += 1
            elif now - doubt_since(order) >= window and complete:
                reason = (
                    f"not received by the broker: it went unanswered and the broker's orders from {since.isoformat()}"
                    f" to {until.isoformat()} do not include it; {codes.RESEND_ADVICE}"
                )
                refused = await self._dispatch.refuse_unsent(order, reason)
                settled += refused.status is OrderStatus.REJECTED
        if not complete:
            log.warning(
                "the broker lists %d orders or more around %s: %d stay in doubt", len(listed), since, len(group)
            )
        return settled


def _groups(orders: Sequence[Order]) -> list[list[Order]]:
    """Orders (sorted by `doubt_since`) in runs that one listing covers."""
    groups: list[list[Order]] = []
    for order in orders:
        if groups and doubt_since(order) - doubt_since(groups[-1][0]) <= GROUP_SPAN:
            groups[-1].append(order)
        else:
            groups.append([order])
    return groups
