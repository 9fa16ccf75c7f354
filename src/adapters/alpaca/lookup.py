"""An order creation that went unanswered, looked up by its client order id until found or in doubt."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from adapters.alpaca.backoff import Backoff
from adapters.alpaca.errors import Unanswered
from trading_core.broker_models import BrokerOrder
from trading_core.errors import BrokerError, OrderInDoubt
from trading_core.values import ClientOrderId

__all__ = ["find_unanswered"]

log = logging.getLogger("adapters.alpaca.broker")


async def find_unanswered(
    client_order_id: ClientOrderId,
    cause: Unanswered,
    *,
    find: Callable[[], Awaitable[BrokerOrder | None]],
    window: float,
    backoff: Backoff,
) -> BrokerOrder:
    """The order an unanswered request may have created, asked for with `find` for `window` seconds.

    Any unanswered request may have reached Alpaca's order system, a 5xx too: a gateway or a
    load balancer answers 502/504 for a request that goes on behind it. So a miss is asked
    again, with backoff, for `window` seconds; after that the order is in doubt, and the engine
    keeps it pending until the stream, a later lookup or the order list settles it.

    Raises:
        OrderInDoubt: Alpaca did not show the order (or could not be asked) within `window` seconds.
    """
    log.warning("%s went unanswered (%s): looking it up by client order id", client_order_id, cause.message)
    give_up = time.monotonic() + window
    why = f"it went unanswered ({cause.message}) and Alpaca does not show it yet"
    while True:
        try:
            found = await find()
        except BrokerError as e:
            found, why = None, f"it went unanswered ({cause.message}) and cannot be looked up ({e.message})"
        if found is not None:
            log.warning("%s was received by Alpaca as %s", client_order_id, found.broker_order_id)
            return found
        delay = backoff.next()
        if time.monotonic() + delay > give_up:
            raise OrderInDoubt(
                f"order {client_order_id} is in doubt: {why}", details={"clientOrderId": client_order_id}
            ) from cause
        await asyncio.sleep(delay)
