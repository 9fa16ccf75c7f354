"""Alpaca's JSON and the core's broker models, both ways, through one private cattrs converter.

JSON is decoded with numbers exact (a JSON number with a fraction becomes a `Decimal`, never a
float), and the converter refuses a float wherever a `Decimal` is expected. What Alpaca may add,
drop or rename is tolerated: unknown members are ignored, members that may be missing or null
(`updated_at`, `qty` of a notional order, the account's `daytrade_count` and
`pattern_day_trader`, which the core does not read) fall back to a stated value, and an order
status we do not know reads as `new` (open) with a warning rather than failing the message.

Alpaca takes and reports share quantities to nine decimal places; the core keeps four (and refuses
finer input of its own). A broker quantity finer than four places is read rounded toward zero:
never more shares than the broker holds. A fill's own quantity is the step between its rounded
cumulative quantities, so an order's fills add up to its rounded filled quantity exactly
(docs/alpaca-adapter.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, time
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any, Final, TypeVar

import attrs
import cattrs
import msgspec
from cattrs.gen import make_dict_structure_fn, override

from trading_core.broker_models import BrokerOrder, BrokerPosition, TradeUpdate
from trading_core.enums import OrderClass, OrderStatus, TimeInForce
from trading_core.market import EASTERN, Account, Asset, MarketClock, Quote, Session
from trading_core.orders import Order, TradeEvent
from trading_core.values import FOUR_PLACES, ZERO, BrokerOrderId, ClientOrderId, ExecutionId, Symbol

__all__ = [
    "FillActivity",
    "WireError",
    "account",
    "asset",
    "broker_order",
    "clock",
    "decode",
    "encode",
    "fill_activity",
    "order_body",
    "position",
    "quote",
    "replace_body",
    "trade_update",
]

log = logging.getLogger("adapters.alpaca.codec")

T = TypeVar("T")


class WireError(ValueError):
    """A message from Alpaca that is not JSON or does not have the shape we read."""


_DECODER: Final = msgspec.json.Decoder(float_hook=Decimal)
_ENCODER: Final = msgspec.json.Encoder()


def decode(data: bytes | str) -> Any:
    """Parse JSON with exact numbers: `1.5` is `Decimal("1.5")`; integers stay `int`."""
    try:
        return _DECODER.decode(data)
    except msgspec.DecodeError as e:
        raise WireError(f"not JSON: {e}") from e


def encode(value: Any) -> bytes:
    """Encode a JSON-ready value (decimals already written as strings by the body builders)."""
    return _ENCODER.encode(value)


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


# ---------------------------------------------------------------- scalar hooks


def _decimal(value: object, _: type) -> Decimal:
    if isinstance(value, bool | float):  # a float here means someone parsed JSON lossily
        raise TypeError(f"a decimal must be a string or an exact number, was {type(value).__name__}")
    if not isinstance(value, str | int | Decimal):
        raise TypeError(f"a decimal must be a string or a number, was {type(value).__name__}")
    try:
        result = Decimal(value)
    except InvalidOperation as e:
        raise ValueError(f"not a decimal number: {value!r}") from e
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def _timestamp(value: object, _: type) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"a timestamp must be an RFC 3339 string, was {type(value).__name__}")
    text = value
    head, dot, rest = value.partition(".")
    if dot:  # Alpaca sends nanoseconds; datetime keeps microseconds
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"a timestamp must carry an offset, was {value!r}")
    return moment


_warned_statuses: set[str] = set()


_ORDER_CLASSES: Final = {c.value: c for c in OrderClass}
"""Alpaca's `order_class` words; `""` (and a class we do not trade, `mleg`) read as simple."""


def _legs(value: object, _: type) -> tuple[BrokerOrder, ...]:
    """A parent's `legs` (null unless asked for `nested`, and on a leg itself)."""
    if not isinstance(value, list):
        return ()
    return tuple(_conv.structure(leg, BrokerOrder) for leg in value)


def _status(value: object, _: type) -> OrderStatus:
    try:
        return OrderStatus(str(value))
    except ValueError:
        if value not in _warned_statuses:
            _warned_statuses.add(str(value))
            log.warning("unknown Alpaca order status %r: read as 'new' (open)", value)
        return OrderStatus.NEW


def _event(value: object, _: Any) -> TradeEvent | str:
    text = str(value)
    try:
        return TradeEvent(text)
    except ValueError:
        return text  # kept raw: the ledger ignores events it does not know


def _str_as(cls: Callable[[str], T]) -> Callable[[object, type], T]:
    def structure(value: object, _: type) -> T:
        if not isinstance(value, str):
            raise TypeError(f"expected a string, was {type(value).__name__}")
        return cls(value)

    return structure


def _plain_decimal(value: Decimal) -> str:
    return format(value, "f")  # never scientific notation: "1E+2" is not a quantity Alpaca reads


_conv = cattrs.Converter(forbid_extra_keys=False)
_conv.register_structure_hook(Decimal, _decimal)
_conv.register_structure_hook(datetime, _timestamp)
_conv.register_structure_hook(OrderStatus, _status)
_conv.register_structure_hook(OrderClass, lambda value, _: _ORDER_CLASSES.get(value, OrderClass.SIMPLE))
_conv.register_structure_hook_func(lambda t: t == (TradeEvent | str), _event)
for _cls in (BrokerOrderId, ClientOrderId, ExecutionId, Symbol):
    _conv.register_structure_hook(_cls, _str_as(_cls))
_conv.register_unstructure_hook(Decimal, _plain_decimal)

_conv.register_structure_hook(
    BrokerOrder,
    make_dict_structure_fn(
        BrokerOrder,
        _conv,
        broker_order_id=override(rename="id"),
        quantity=override(rename="qty"),
        filled_quantity=override(rename="filled_qty"),
        filled_average_price=override(rename="filled_avg_price"),
        legs=override(struct_hook=_legs),
    ),
)
_conv.register_structure_hook(
    BrokerPosition,
    make_dict_structure_fn(
        BrokerPosition,
        _conv,
        quantity=override(rename="qty"),
        average_entry_price=override(rename="avg_entry_price"),
    ),
)
_conv.register_structure_hook(Account, make_dict_structure_fn(Account, _conv, account_id=override(rename="id")))
_conv.register_structure_hook(Asset, make_dict_structure_fn(Asset, _conv, asset_id=override(rename="id")))


def _structure(data: Any, cls: type[T], what: str) -> T:
    if not isinstance(data, Mapping):
        raise WireError(f"{what} must be a JSON object, was {type(data).__name__}")
    try:
        return _conv.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as e:
        detail = "; ".join(cattrs.transform_error(e)) if isinstance(e, cattrs.BaseValidationError) else str(e)
        raise WireError(f"unreadable {what}: {detail}") from e


def _shares(value: Decimal) -> Decimal:
    """A broker's share quantity at our four places, rounded toward zero; as given when it fits."""
    fixed = value.quantize(FOUR_PLACES, rounding=ROUND_DOWN)
    return value if fixed == value else fixed


def _fill_quantity(cumulative: Decimal | None, qty: Decimal) -> Decimal:
    """A fill's quantity at four places: the step between its order's rounded filled quantities."""
    if _shares(qty) is qty and (cumulative is None or _shares(cumulative) is cumulative):
        return qty
    if cumulative is None:
        return _shares(qty)
    return _shares(cumulative) - _shares(cumulative - qty)


def _present(data: Mapping[str, Any]) -> dict[str, Any]:
    """Members that carry a value: a null reads as absent, so the model's default applies."""
    return {key: value for key, value in data.items() if value is not None}


# ---------------------------------------------------------------- Alpaca -> core


def broker_order(data: Any) -> BrokerOrder:
    """An Alpaca Order object."""
    if not isinstance(data, Mapping):
        raise WireError(f"an order must be a JSON object, was {type(data).__name__}")
    fields = _present(data)
    fields.setdefault("type", data.get("order_type"))
    if "qty" not in fields:  # a notional order: what has filled is the quantity we can know
        fields["qty"] = fields.get("filled_qty", "0")
    created = fields.get("created_at")
    fields.setdefault("submitted_at", created)
    fields.setdefault("updated_at", fields.get("submitted_at"))
    order = _structure(fields, BrokerOrder, "order")
    quantity, filled = _shares(order.quantity), _shares(order.filled_quantity)
    if quantity is not order.quantity or filled is not order.filled_quantity:
        order = attrs.evolve(order, quantity=quantity, filled_quantity=filled)
    return order


def trade_update(data: Any) -> TradeUpdate:
    """The `data` of a `trade_updates` stream message."""
    if not isinstance(data, Mapping):
        raise WireError(f"a trade update must be a JSON object, was {type(data).__name__}")
    fields = _present(data)
    given = fields.pop("order", None)
    order = broker_order(given)
    if "timestamp" not in fields and "at" in fields:
        fields["timestamp"] = fields["at"]
    raw = _structure(fields, _UpdateFields, "trade update")
    cumulative = given.get("filled_qty")  # `given` is an object: broker_order read it
    return TradeUpdate(
        event=raw.event,
        order=order,
        timestamp=raw.timestamp or order.updated_at,
        execution_id=raw.execution_id,
        price=raw.price,
        quantity=None if raw.qty is None else _fill_quantity(_optional_decimal(cumulative), raw.qty),
        position_quantity=None if raw.position_qty is None else _shares(raw.position_qty),
        reason=raw.reason,
    )


def _optional_decimal(value: object) -> Decimal | None:
    return None if value is None else _decimal(value, Decimal)


def position(data: Any) -> BrokerPosition:
    """An Alpaca Position object."""
    if not isinstance(data, Mapping):
        raise WireError(f"a position must be a JSON object, was {type(data).__name__}")
    fields = _present(data)
    if "cost_basis" not in fields and "qty" in fields and "avg_entry_price" in fields:
        fields["cost_basis"] = _decimal(fields["qty"], Decimal) * _decimal(fields["avg_entry_price"], Decimal)
    held = _structure(fields, BrokerPosition, "position")
    quantity = _shares(held.quantity)
    return held if quantity is held.quantity else attrs.evolve(held, quantity=quantity)


def account(data: Any) -> Account:
    """An Alpaca Account object; members Alpaca dropped or may drop are not read."""
    if not isinstance(data, Mapping):
        raise WireError(f"an account must be a JSON object, was {type(data).__name__}")
    fields = _present(data)
    fields.setdefault("last_equity", fields.get("equity"))
    return _structure(fields, Account, "account")


def asset(data: Any) -> Asset:
    """An Alpaca Asset object."""
    return _structure(_present(data) if isinstance(data, Mapping) else data, Asset, "asset")


def clock(data: Any) -> MarketClock:
    """Alpaca's clock, with the extended-hours session worked out from the time of day."""
    raw = _structure(data, _ClockFields, "clock")
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
    raw = _structure(body, _QuoteFields, "quote")
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
    raw = _structure(data, _TradeFields, "trade")
    return LastTrade(symbol=symbol, price=raw.p, size=raw.s, timestamp=raw.t)


# ---------------------------------------------------------------- core -> Alpaca


def order_body(order: Order) -> dict[str, Any]:
    """The `POST /v2/orders` body for an order: decimals as strings, absent prices left out."""
    body: dict[str, Any] = {
        "symbol": str(order.symbol),
        "qty": order.quantity,
        "side": order.side.value,
        "type": order.type.value,
        "time_in_force": order.time_in_force.value,
        "client_order_id": str(order.client_order_id),
        "limit_price": order.limit_price,
        "stop_price": order.stop_price,
        "trail_price": order.trail_price,
        "trail_percent": order.trail_percent,
    }
    if order.extended_hours:
        body["extended_hours"] = True
    return _without_none(body)


def replace_body(
    *,
    client_order_id: ClientOrderId,
    quantity: Decimal | None,
    limit_price: Decimal | None,
    stop_price: Decimal | None,
    time_in_force: TimeInForce | None,
    trail: Decimal | None = None,
) -> dict[str, Any]:
    """The `PATCH /v2/orders/{id}` body: only what changes, plus the new order's client id."""
    body = {
        "client_order_id": str(client_order_id),
        "qty": quantity,
        "limit_price": limit_price,
        "stop_price": stop_price,
        "time_in_force": time_in_force.value if time_in_force is not None else None,
        "trail": trail,
    }
    return _without_none(body)


def _without_none(body: Mapping[str, Any]) -> dict[str, Any]:
    unstructured: dict[str, Any] = _conv.unstructure({k: v for k, v in body.items() if v is not None})
    return unstructured


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


@attrs.frozen(kw_only=True)
class _ActivityFields:
    id: str
    activity_type: str
    order_id: BrokerOrderId
    transaction_time: datetime
    price: Decimal
    qty: Decimal
    cum_qty: Decimal
    symbol: Symbol


def fill_activity(data: Any) -> FillActivity:
    """One entry of `/v2/account/activities/FILL` (a non-FILL entry is a `WireError`)."""
    raw = _structure(data, _ActivityFields, "activity")
    if raw.activity_type != "FILL":
        raise WireError(f"not a FILL activity: {raw.activity_type!r}")
    _, separator, uuid_part = raw.id.partition("::")
    return FillActivity(
        id=raw.id,
        execution_id=ExecutionId(uuid_part if separator else raw.id),
        order_id=raw.order_id,
        transaction_time=raw.transaction_time,
        price=raw.price,
        qty=raw.qty,
        cum_qty=raw.cum_qty,
        symbol=raw.symbol,
    )
