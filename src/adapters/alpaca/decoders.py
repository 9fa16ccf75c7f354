"""Alpaca's objects read as the core's broker models (orders, trade updates, positions, account,
asset, clock, quotes, trades, FILL activities), tolerant of what Alpaca may add, drop or rename.

Members that may be missing or null (`updated_at`, `qty` of a notional order, the account's
`daytrade_count` and `pattern_day_trader`, which the core does not read) fall back to a stated
value. Quantities are kept at the core's four places (`wire.shares`): an order's fills add up to
its rounded filled quantity exactly (docs/alpaca-adapter.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from decimal import Decimal
from typing import Any, Final

import attrs

from adapters.alpaca.wire import (
    WireError,
    exact_decimal,
    fill_quantity,
    optional_decimal,
    present,
    shares,
    structure,
)
from trading_core.broker_models import BrokerOrder, BrokerPosition, TradeUpdate
from trading_core.market import EASTERN, Account, Asset, MarketClock, Quote, Session
from trading_core.orders import TradeEvent
from trading_core.values import ZERO, BrokerOrderId, ExecutionId, Symbol

__all__ = [
    "FillActivity",
    "LastTrade",
    "account",
    "asset",
    "broker_order",
    "clock",
    "fill_activity",
    "last_trade",
    "position",
    "quote",
    "trade_update",
]

# ---------------------------------------------------------------- private shapes


@attrs.frozen(kw_only=True)
class _UpdateFields:
    event: TradeEvent | str
    timestamp: datetime | None = None
    execution_id: ExecutionId | None = None
    price: Decimal | None = None
    qty: Decimal | None = None
    position_qty: Decimal | None = None
    reason: str | None = None


@attrs.frozen(kw_only=True)
class _ClockFields:
    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime


@attrs.frozen(kw_only=True)
class _QuoteFields:
    t: datetime
    bp: Decimal = ZERO
    ap: Decimal = ZERO


# ---------------------------------------------------------------- Alpaca -> core


def broker_order(data: Any) -> BrokerOrder:
    """An Alpaca Order object.

    Raises:
        WireError: `data` is not an order object of Alpaca's shape.
    """
    if not isinstance(data, Mapping):
        raise WireError(f"an order must be a JSON object, was {type(data).__name__}")
    fields = present(data)
    fields.setdefault("type", data.get("order_type"))
    if "qty" not in fields:  # a notional order: what has filled is the quantity we can know
        fields["qty"] = fields.get("filled_qty", "0")
    created = fields.get("created_at")
    fields.setdefault("submitted_at", created)
    fields.setdefault("updated_at", fields.get("submitted_at"))
    order = structure(fields, BrokerOrder, "order")
    quantity, filled = shares(order.quantity), shares(order.filled_quantity)
    if quantity is not order.quantity or filled is not order.filled_quantity:
        order = attrs.evolve(order, quantity=quantity, filled_quantity=filled)
    return order


def trade_update(data: Any) -> TradeUpdate:
    """The `data` of a `trade_updates` stream message.

    Raises:
        WireError: `data` is not a trade update of Alpaca's shape.
    """
    if not isinstance(data, Mapping):
        raise WireError(f"a trade update must be a JSON object, was {type(data).__name__}")
    fields = present(data)
    given = fields.pop("order", None)
    order = broker_order(given)
    if "timestamp" not in fields and "at" in fields:
        fields["timestamp"] = fields["at"]
    raw = structure(fields, _UpdateFields, "trade update")
    cumulative = given.get("filled_qty")  # `given` is an object: broker_order read it
    return TradeUpdate(
        event=raw.event,
        order=order,
        timestamp=raw.timestamp or order.updated_at,
        execution_id=raw.execution_id,
        price=raw.price,
        quantity=None if raw.qty is None else fill_quantity(optional_decimal(cumulative), raw.qty),
        position_quantity=None if raw.position_qty is None else shares(raw.position_qty),
        reason=raw.reason,
    )


def position(data: Any) -> BrokerPosition:
    """An Alpaca Position object.

    Raises:
        WireError: `data` is not a position of Alpaca's shape.
    """
    if not isinstance(data, Mapping):
        raise WireError(f"a position must be a JSON object, was {type(data).__name__}")
    fields = present(data)
    if "cost_basis" not in fields and "qty" in fields and "avg_entry_price" in fields:
        fields["cost_basis"] = exact_decimal(fields["qty"]) * exact_decimal(fields["avg_entry_price"])
    held = structure(fields, BrokerPosition, "position")
    quantity = shares(held.quantity)
    return held if quantity is held.quantity else attrs.evolve(held, quantity=quantity)


def account(data: Any) -> Account:
    """An Alpaca Account object; members Alpaca dropped or may drop are not read.

    Raises:
        WireError: `data` is not an account of Alpaca's shape.
    """
    if not isinstance(data, Mapping):
        raise WireError(f"an account must be a JSON object, was {type(data).__name__}")
    fields = present(data)
    fields.setdefault("last_equity", fields.get("equity"))
    return structure(fields, Account, "account")


def asset(data: Any) -> Asset:
    """An Alpaca Asset object."""
    return structure(present(data) if isinstance(data, Mapping) else data, Asset, "asset")


def clock(data: Any) -> MarketClock:
    """Alpaca's clock, with the extended-hours session worked out from the time of day."""
    raw = structure(data, _ClockFields, "clock")
    return MarketClock(
        timestamp=raw.timestamp,
        is_open=raw.is_open,
        next_open=raw.next_open,
        next_close=raw.next_close,
        session=_session(raw),
    )


def quote(symbol: Symbol, data: Any) -> Quote | None:
    """A latest-quote answer (`{"symbol", "quote": {...}}`); None when it has no price."""
    body = data.get("quote") if isinstance(data, Mapping) else None
    raw = structure(body, _QuoteFields, "quote")
    bid, ask = raw.bp, raw.ap
    if bid > ZERO and ask > ZERO:
        mid = (bid + ask) / 2
    elif bid > ZERO or ask > ZERO:
        mid = max(bid, ask)
    else:
        return None
    return Quote(symbol=symbol, price=mid, timestamp=raw.t, bid=bid, ask=ask)


@attrs.frozen(kw_only=True)
class LastTrade:
    """A symbol's latest trade, as the market-data stream sends it (`{"T": "t", "p", "s", "t", ...}`)."""

    symbol: Symbol
    price: Decimal
    size: Decimal
    timestamp: datetime


@attrs.frozen(kw_only=True)
class _TradeFields:
    t: datetime
    p: Decimal
    s: Decimal = ZERO


def last_trade(symbol: Symbol, data: Any) -> LastTrade:
    """A trade message of the market-data stream (or a REST `trade` object)."""
    raw = structure(data, _TradeFields, "trade")
    return LastTrade(symbol=symbol, price=raw.p, size=raw.s, timestamp=raw.t)


_PRE_MARKET: Final = (time(4, 0), time(9, 30))
_AFTER_HOURS: Final = (time(16, 0), time(20, 0))


def _session(raw: _ClockFields) -> Session:
    """Regular when open; else pre-market or after-hours by Eastern time of day, else closed.

    Alpaca's clock does not say whether today had a session: pre-market needs today's open to
    be next; after-hours is assumed on weekdays (a holiday afternoon reads as after-hours, and
    Alpaca itself refuses what it cannot route then).
    """
    if raw.is_open:
        return Session.REGULAR
    now = raw.timestamp.astimezone(EASTERN)
    t = now.time()
    if _PRE_MARKET[0] <= t < _PRE_MARKET[1] and raw.next_open.astimezone(EASTERN).date() == now.date():
        return Session.PRE_MARKET
    if _AFTER_HOURS[0] <= t < _AFTER_HOURS[1] and now.weekday() < 5:
        return Session.AFTER_HOURS
    return Session.CLOSED


# ---------------------------------------------------------------- account activities


@attrs.frozen(kw_only=True)
class FillActivity:
    """One execution, as `/v2/account/activities/FILL` lists it.

    `id` is Alpaca's `"<time>::<uuid>"` (the paging token); `execution_id` is its uuid part, the
    id the trade_updates stream gives the same execution.
    """

    id: str
    execution_id: ExecutionId
    order_id: BrokerOrderId
    transaction_time: datetime
    price: Decimal
    qty: Decimal
    cum_qty: Decimal
    symbol: Symbol


def fill_activity(data: Any) -> FillActivity:
    """One entry of `/v2/account/activities/FILL` (a non-FILL entry is a `WireError`).

    Raises:
        WireError: `data` is not a fill activity of Alpaca's shape.
    """
    if not isinstance(data, Mapping):
        raise WireError(f"an activity must be a JSON object, was {type(data).__name__}")
    fields = dict(data)
    given = fields.get("id")
    if isinstance(given, str):
        _, separator, uuid_part = given.partition("::")
        fields["execution_id"] = uuid_part if separator else given
    activity = structure(fields, FillActivity, "activity")
    if data.get("activity_type") != "FILL":
        raise WireError(f"not a FILL activity: {data.get('activity_type')!r}")
    return activity
