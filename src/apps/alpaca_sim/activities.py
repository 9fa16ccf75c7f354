"""`GET /v2/account/activities[/{type}]`: one FILL activity per execution, paged as Alpaca pages them.

An activity's `id` is Alpaca's `"<time>::<uuid>"`: the execution's time in US Eastern to the
millisecond (`20260302101500123`), then the `execution_id` the trade_updates stream sent for
that fill, so a consumer can match the two. Entries are kept in the order they happened; the
simulator has no non-trade activities, so every other known type answers an empty list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Protocol, cast

import attrs

from apps.alpaca_sim import errors, wire
from apps.alpaca_sim.asgi import Request, Response, json_response
from apps.alpaca_sim.parse import Query
from trading_core.broker_models import TradeUpdate
from trading_core.enums import Side
from trading_core.market import EASTERN
from trading_core.orders import TradeEvent
from trading_core.values import ZERO

FILL = "FILL"
PAGE_SIZE = 100
"""The default and the largest page, unless `date` is given (then everything that day)."""
ACTIVITY_TYPES = frozenset(
    {
        "FILL",
        "TRANS",
        "MISC",
        "ACATC",
        "ACATS",
        "CFEE",
        "CSD",
        "CSW",
        "DIV",
        "DIVCGL",
        "DIVCGS",
        "DIVFEE",
        "DIVFT",
        "DIVNRA",
        "DIVROC",
        "DIVTW",
        "DIVTXEX",
        "FEE",
        "INT",
        "INTNRA",
        "INTTW",
        "JNL",
        "JNLC",
        "JNLS",
        "MA",
        "NC",
        "OPASN",
        "OPEXP",
        "OPXRC",
        "PTC",
        "PTR",
        "REORG",
        "SC",
        "SSO",
        "SSP",
    }
)
"""Alpaca's activity types; any other is refused (422 `invalid activity type`)."""
_CATEGORIES = {"trade_activity": frozenset({FILL}), "non_trade_activity": ACTIVITY_TYPES - {FILL}}


@attrs.frozen(kw_only=True)
class FillActivity:
    """One execution, as `/v2/account/activities/FILL` lists it."""

    id: str
    transaction_time: datetime
    partial: bool
    price: Decimal
    qty: Decimal
    side: str
    """`buy`, `sell`, or `sell_short` when the sale opens or adds to a short."""
    symbol: str
    leaves_qty: Decimal
    order_id: str
    cum_qty: Decimal
    order_status: str

    def to_json(self) -> wire.JSON:
        return {
            "id": self.id,
            "activity_type": FILL,
            "transaction_time": wire.ts(self.transaction_time),
            "type": "partial_fill" if self.partial else "fill",
            "price": wire.dec(self.price),
            "qty": wire.dec(self.qty),
            "side": self.side,
            "symbol": self.symbol,
            "leaves_qty": wire.dec(self.leaves_qty),
            "order_id": self.order_id,
            "cum_qty": wire.dec(self.cum_qty),
            "order_status": self.order_status,
        }


def activity_id(at: datetime, execution_id: str) -> str:
    """`"<yyyymmddHHMMSSmmm in US Eastern>::<execution id>"`, as Alpaca writes activity ids."""
    local = at.astimezone(EASTERN)
    return f"{local:%Y%m%d%H%M%S}{local.microsecond // 1000:03d}::{execution_id}"


def fill_activity(update: TradeUpdate) -> FillActivity:
    """The activity of one fill trade update (its execution id, quantity and price)."""
    order = update.order
    price, quantity = wire.fill_terms(update)
    if update.execution_id is None:
        raise ValueError(f"a {update.event} of order {order.broker_order_id} without an execution id")
    short = order.side is Side.SELL and (update.position_quantity or ZERO) < ZERO
    return FillActivity(
        id=activity_id(update.timestamp, update.execution_id),
        transaction_time=update.timestamp,
        partial=update.event == TradeEvent.PARTIAL_FILL,
        price=price,
        qty=quantity,
        side="sell_short" if short else order.side.value,
        symbol=str(order.symbol),
        leaves_qty=order.quantity - order.filled_quantity,
        order_id=str(order.broker_order_id),
        cum_qty=order.filled_quantity,
        order_status=order.status.value,
    )


class ActivityLog:
    """Every execution of the account, oldest first, with its position by id (for `page_token`)."""

    def __init__(self) -> None:
        self._entries: list[FillActivity] = []
        self._index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def record(self, updates: Iterable[TradeUpdate]) -> None:
        for update in updates:
            if update.is_fill and update.execution_id is not None:
                self._add(fill_activity(update))

    def clear(self) -> None:
        self._entries.clear()
        self._index.clear()

    def _add(self, entry: FillActivity) -> None:
        if entry.id in self._index:
            return  # the same execution reported twice (a duplicated update)
        self._index[entry.id] = len(self._entries)
        self._entries.append(entry)

    def page(
        self,
        *,
        descending: bool,
        after: datetime | None = None,
        until: datetime | None = None,
        day: date | None = None,
        page_token: str | None = None,
        size: int | None = PAGE_SIZE,
    ) -> list[FillActivity]:
        """The entries in that direction, after the `page_token` entry, within the bounds, at most `size`."""
        order: Sequence[int] = range(len(self._entries) - 1, -1, -1) if descending else range(len(self._entries))
        if page_token is not None:
            at = self._index.get(page_token)
            if at is None:
                raise errors.invalid(f"invalid page_token: {page_token!r}")
            order = range(at - 1, -1, -1) if descending else range(at + 1, len(self._entries))
        found: list[FillActivity] = []
        for i in order:
            entry = self._entries[i]
            moment = entry.transaction_time
            if (after is not None and moment <= after) or (until is not None and moment >= until):
                continue
            if day is not None and moment.astimezone(EASTERN).date() != day:
                continue
            found.append(entry)
            if size is not None and len(found) >= size:
                break
        return found


def _moment(query: Query, name: str) -> datetime | None:
    """A bound: RFC 3339, or a bare date read as midnight US Eastern that day."""
    value = query.get(name)
    if value is not None and len(value.strip()) == len("2026-03-02"):
        day = cast(date, query.day(name))  # not None: the value is ten characters long
        return datetime.combine(day, time(), EASTERN).astimezone(UTC)
    return query.timestamp(name)


def _types(request: Request, activity_type: str | None) -> frozenset[str]:
    """The activity types asked for: the path's, or `activity_types` / `category`, or all."""
    query = request.query
    category = query.get("category")
    if activity_type is not None:
        if category:
            raise errors.invalid("category cannot be given with an activity type in the path")
        asked = [activity_type]
    else:
        asked = query.symbols("activity_types") or []
    unknown = [t for t in asked if t not in ACTIVITY_TYPES]
    if unknown:
        raise errors.invalid(f"invalid activity type: {unknown[0]}")
    if category:
        if category not in _CATEGORIES:
            raise errors.invalid(f"invalid category: {category!r}")
        return _CATEGORIES[category]
    return frozenset(asked) if asked else ACTIVITY_TYPES


class Keeps(Protocol):
    """What the activities endpoint reads of the simulation (its `Simulation`)."""

    @property
    def activities(self) -> ActivityLog: ...


async def list_activities(sim: Keeps, request: Request, activity_type: str | None = None) -> Response:
    """`GET /v2/account/activities` and `/v2/account/activities/{activity_type}`."""
    types = _types(request, activity_type)
    query = request.query
    direction = query.get("direction") or "desc"
    if direction not in ("asc", "desc"):
        raise errors.invalid(f"invalid direction: {direction!r}")
    day = query.day("date")
    # With `date`, Alpaca answers the whole day unless a page size is asked for, and has no maximum.
    size: int | None = query.integer("page_size", default=PAGE_SIZE, low=1, high=PAGE_SIZE)
    if day is not None:
        size = query.integer("page_size", default=0, low=1, high=1 << 62) or None
    if FILL not in types:
        return json_response([])
    entries = sim.activities.page(
        descending=direction == "desc",
        after=_moment(query, "after"),
        until=_moment(query, "until"),
        day=day,
        page_token=query.get("page_token") or None,
        size=size,
    )
    return json_response([entry.to_json() for entry in entries])
