"""Alpaca's REST answers read as the core's models: one object, a listing, and the paged listings
of orders (newest first) and of FILL activities (oldest first).

A listing is read element by element: one that does not parse is logged and left out rather than
failing the listing. The reads themselves go through the broker's budgeted REST client (`Read`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Final, Protocol, TypeVar
from urllib.parse import quote as quote_path

from adapters.alpaca import codec
from trading_core.broker_models import BrokerOrder
from trading_core.errors import BrokerError
from trading_core.ports import OrderFilter
from trading_core.values import BrokerOrderId

__all__ = ["Read", "each", "order_path", "parsed", "read_fill_activities", "read_orders"]

log = logging.getLogger("adapters.alpaca.broker")

T = TypeVar("T")

_PAGE: Final = 500
"""Alpaca's largest page of orders."""
_ACTIVITY_PAGE: Final = 100
"""Alpaca's largest page of account activities (without `date`)."""
_MAX_ACTIVITY_PAGES: Final = 200
"""A recovery reads at most this many pages (20,000 executions) before giving up on activities."""


class Read(Protocol):
    """A GET of the trading API at sync priority: the decoded JSON answer."""

    def __call__(self, path: str, params: Mapping[str, str] | None = None, /) -> Awaitable[Any]:
        """Read `path` with the query `params`."""


def order_path(broker_order_id: BrokerOrderId) -> str:
    """An order id as one path segment (quoted: an id from outside is not trusted to be a UUID)."""
    return quote_path(str(broker_order_id), safe="")


def parsed(read: Callable[[Any], T], data: Any) -> T:
    """One object of an answer read by `read`.

    Raises:
        BrokerError: The answer is not one `read` can read.
    """
    try:
        return read(data)
    except codec.WireError as e:
        raise BrokerError(f"Alpaca answered something we cannot read: {e}") from e


def each(read: Callable[[Any], T], data: Any, what: str) -> list[T]:
    """Every element of a listing that parses; the others are logged and left out.

    Raises:
        BrokerError: The answer is not a list.
    """
    if not isinstance(data, list):
        raise BrokerError(f"Alpaca answered a {type(data).__name__} where a list of {what}s belongs")
    items: list[T] = []
    for element in data:
        try:
            items.append(read(element))
        except codec.WireError as e:
            log.warning("left out a %s that does not parse: %s", what, e)
    return items


async def read_orders(
    read: Read, *, status: OrderFilter, after: datetime | None, until: datetime | None, limit: int
) -> list[BrokerOrder]:
    """Orders newest first, pages of Alpaca's 500 joined up to `limit` (`after`, `until` exclusive).

    Raises:
        BrokerError: A page could not be read.
    """
    found: dict[BrokerOrderId, BrokerOrder] = {}
    while len(found) < limit:
        size = min(_PAGE, limit - len(found))
        params = {"status": status.value, "limit": str(size), "direction": "desc"}
        if after is not None:
            params["after"] = after.isoformat()
        if until is not None:
            params["until"] = until.isoformat()
        page = await read("/v2/orders", params)
        orders = each(codec.broker_order, page, "order")
        for order in orders:
            found.setdefault(order.broker_order_id, order)
        if len(page if isinstance(page, list) else []) < size or not orders:
            break
        until = min(o.submitted_at for o in orders)
    return list(found.values())[:limit]


async def read_fill_activities(read: Read, *, after: datetime) -> list[codec.FillActivity]:
    """Every execution since `after` (exclusive), oldest first, pages of 100 followed by `page_token`.

    Raises:
        BrokerError: A page could not be read, or there were more than 200 pages.
    """
    found: list[codec.FillActivity] = []
    params = {"direction": "asc", "page_size": str(_ACTIVITY_PAGE), "after": after.isoformat()}
    for _ in range(_MAX_ACTIVITY_PAGES):
        page = await read("/v2/account/activities/FILL", params)
        found.extend(each(codec.fill_activity, page, "fill activity"))
        if len(page) < _ACTIVITY_PAGE:
            return found
        last = page[-1].get("id") if isinstance(page[-1], dict) else None
        if not isinstance(last, str):
            raise BrokerError("Alpaca answered a page of activities whose last entry has no id")
        params = {**params, "page_token": last}
    raise BrokerError(f"more than {_MAX_ACTIVITY_PAGES * _ACTIVITY_PAGE} executions since {after.isoformat()}")
