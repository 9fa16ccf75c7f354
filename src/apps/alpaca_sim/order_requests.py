"""The bodies of `POST /v2/orders` and `PATCH /v2/orders/{id}`, checked as Alpaca checks them.

What the paper exchange does not simulate (notional amounts, mleg option orders) is refused with a
422 40010001 that says so, after the request's own shape is checked. Bracket, OCO and OTO orders and
trailing stops are taken: their exits' shapes are checked here, the rules between a class and its
exits by the paper exchange (the core's, `trading_core.order_classes`), refused 422 40010001 too.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any

import attrs

from apps.alpaca_sim import errors, parse
from trading_core.enums import OrderClass, OrderType, Side, TimeInForce
from trading_core.errors import InvalidOrder
from trading_core.order_classes import StopLoss, TakeProfit
from trading_core.requests import MAX_CLIENT_ORDER_ID_LENGTH
from trading_core.values import price


class PositionIntent(StrEnum):
    BUY_TO_OPEN = "buy_to_open"
    BUY_TO_CLOSE = "buy_to_close"
    SELL_TO_OPEN = "sell_to_open"
    SELL_TO_CLOSE = "sell_to_close"


_CLASSES = frozenset({"", "simple", "bracket", "oco", "oto", "mleg"})
_LIMIT_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
_STOP_TYPES = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})
_AUCTIONS = frozenset({TimeInForce.OPG, TimeInForce.CLS})


@attrs.frozen(kw_only=True)
class Submission:
    """A new simple order, as asked for; `symbol` is the text given (a symbol form or an asset id)."""

    symbol: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce
    quantity: Decimal
    limit_price: Decimal | None
    stop_price: Decimal | None
    extended_hours: bool
    client_order_id: str | None
    position_intent: PositionIntent | None
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    order_class: OrderClass = OrderClass.SIMPLE
    take_profit: TakeProfit | None = None
    stop_loss: StopLoss | None = None


@attrs.frozen(kw_only=True)
class Replacement:
    """What a replace changes; None keeps the old order's value."""

    quantity: Decimal | None
    time_in_force: TimeInForce | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    client_order_id: str | None
    trail: Decimal | None = None


def submission(body: Mapping[str, Any]) -> Submission:
    """Check a `POST /v2/orders` body (alpaca-protocol.md 2.1); raise `AlpacaError` on the first fault."""
    order_class = parse.text(body, "order_class") or ""
    if order_class not in _CLASSES:
        raise errors.invalid(f"invalid order_class: {order_class!r}")
    symbol = parse.required_text(body, "symbol")
    side = parse.required_choice(Side, body, "side")
    order_type = parse.required_choice(OrderType, body, "type")
    tif = parse.required_choice(TimeInForce, body, "time_in_force")
    if not symbol:
        raise errors.invalid("symbol is required")
    qty, notional = _qty_or_notional(body)
    # An OCO is priced by its take-profit's limit (Alpaca's own example gives no limit_price).
    oco = order_class == "oco" and order_type is OrderType.LIMIT and body.get("limit_price") is None
    limit_price, stop_price = _prices(body, OrderType.MARKET if oco else order_type)
    extended_hours = parse.boolean(body.get("extended_hours"), "extended_hours")
    if extended_hours and (order_type is not OrderType.LIMIT or tif is not TimeInForce.DAY):
        raise errors.invalid("extended hours order must be DAY limit orders")
    if tif in _AUCTIONS and order_type not in (OrderType.MARKET, OrderType.LIMIT):
        raise errors.invalid(f"{tif} orders must be market or limit orders")
    client_order_id = _client_order_id(body)
    intent = parse.choice(PositionIntent, body, "position_intent")
    shares = _shares(qty, notional)
    cls, take_profit, stop_loss = _class_and_exits(body, order_class)
    trail_price, trail_percent = _trails(body)
    if oco and take_profit is not None:
        limit_price = take_profit.limit_price
    return Submission(
        symbol=symbol,
        side=side,
        type=order_type,
        time_in_force=tif,
        quantity=_quantity(shares),
        limit_price=limit_price,
        stop_price=stop_price,
        extended_hours=extended_hours,
        client_order_id=client_order_id,
        position_intent=intent,
        trail_price=trail_price,
        trail_percent=trail_percent,
        order_class=cls,
        take_profit=take_profit,
        stop_loss=stop_loss,
    )


def _qty_or_notional(body: Mapping[str, Any]) -> tuple[Decimal | None, Decimal | None]:
    """`qty` and `notional`, exactly one of them given."""
    qty = parse.decimal(body, "qty")
    notional = parse.decimal(body, "notional")
    if qty is not None and notional is not None:
        raise errors.invalid("qty and notional must not both be given")
    if qty is None and notional is None:
        raise errors.invalid("qty or notional is required")
    return qty, notional


def _shares(qty: Decimal | None, notional: Decimal | None) -> Decimal:
    """The quantity, positive; a notional amount is refused (the paper exchange takes shares only)."""
    if notional is not None:
        parse.positive(notional, "notional")
        raise errors.invalid("notional orders are not supported by the simulator")
    if qty is None:  # one of the two is given (`_qty_or_notional`)
        raise errors.invalid("qty or notional is required")
    parse.positive(qty, "qty")
    return qty


def _class_and_exits(
    body: Mapping[str, Any], order_class: str
) -> tuple[OrderClass, TakeProfit | None, StopLoss | None]:
    """The class and its exits' shapes; the rules between them are the exchange's to apply."""
    if order_class == "mleg":
        raise errors.invalid("mleg orders are not supported by the simulator")
    if body.get("legs") is not None:
        raise errors.invalid("legs is only for mleg orders")
    if order_class in ("", "simple"):
        for leg in ("take_profit", "stop_loss"):
            if body.get(leg) is not None:
                raise errors.invalid(f"{leg} is only for bracket, oco, oto and mleg orders")
        return OrderClass.SIMPLE, None, None
    return OrderClass(order_class), _take_profit(body.get("take_profit")), _stop_loss(body.get("stop_loss"))


def _trails(body: Mapping[str, Any]) -> tuple[Decimal | None, Decimal | None]:
    """A trailing stop's trail (`_prices` checked that there is one, and only for that type)."""
    trail_price = parse.decimal(body, "trail_price")
    trail_percent = parse.decimal(body, "trail_percent")
    for name, value in (("trail_price", trail_price), ("trail_percent", trail_percent)):
        if value is not None:
            parse.positive(value, name)
    parse.check_tick(trail_price, "trail_price")
    return (
        None if trail_price is None else _price(trail_price, "trail_price"),
        None if trail_percent is None else _price(trail_percent, "trail_percent"),
    )


def _exit(value: object, name: str, known: tuple[str, ...], required: str) -> dict[str, Decimal | None] | None:
    """An exit's object (`take_profit`, `stop_loss`) with its prices checked as an order's are."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise errors.invalid(f"{name} must be an object")
    prices: dict[str, Decimal | None] = {}
    for member in known:
        amount = parse.decimal(value, member)
        if amount is not None:
            parse.positive(amount, f"{name}.{member}")
            parse.check_tick(amount, f"{name}.{member}")
            amount = _price(amount, f"{name}.{member}")
        prices[member] = amount
    if prices[required] is None:
        raise errors.invalid(f"{name}.{required} is required")
    return prices


def _take_profit(value: object) -> TakeProfit | None:
    prices = _exit(value, "take_profit", ("limit_price",), "limit_price")
    return None if prices is None else TakeProfit(prices["limit_price"])  # type: ignore[arg-type]  # required


def _stop_loss(value: object) -> StopLoss | None:
    prices = _exit(value, "stop_loss", ("stop_price", "limit_price"), "stop_price")
    return None if prices is None else StopLoss(prices["stop_price"], prices["limit_price"])  # type: ignore[arg-type]


def replacement(body: Mapping[str, Any]) -> Replacement:
    """Check a `PATCH /v2/orders/{id}` body (2.7)."""
    qty = parse.decimal(body, "qty")
    limit_price = parse.decimal(body, "limit_price")
    stop_price = parse.decimal(body, "stop_price")
    for name, value in (("qty", qty), ("limit_price", limit_price), ("stop_price", stop_price)):
        if value is not None:
            parse.positive(value, name)
    trail = parse.decimal(body, "trail")
    if trail is not None:
        parse.positive(trail, "trail")
    parse.check_tick(limit_price, "limit_price")
    parse.check_tick(stop_price, "stop_price")
    return Replacement(
        quantity=None if qty is None else _quantity(qty),
        time_in_force=parse.choice(TimeInForce, body, "time_in_force"),
        limit_price=None if limit_price is None else _price(limit_price, "limit_price"),
        stop_price=None if stop_price is None else _price(stop_price, "stop_price"),
        client_order_id=_client_order_id(body),
        trail=None if trail is None else _price(trail, "trail"),
    )


def _prices(body: Mapping[str, Any], order_type: OrderType) -> tuple[Decimal | None, Decimal | None]:
    limit_price = parse.decimal(body, "limit_price")
    stop_price = parse.decimal(body, "stop_price")
    trailing = order_type is OrderType.TRAILING_STOP
    trails = [name for name in ("trail_price", "trail_percent") if parse.decimal(body, name) is not None]
    if trailing and len(trails) != 1:
        raise errors.invalid("trailing_stop orders require exactly one of trail_price and trail_percent")
    if not trailing and trails:
        raise errors.invalid(f"{trails[0]} is only for trailing_stop orders")
    if order_type is OrderType.MARKET and (limit_price is not None or stop_price is not None):
        raise errors.invalid("market orders require no stop or limit price")
    for name, value, kinds in (("limit", limit_price, _LIMIT_TYPES), ("stop", stop_price, _STOP_TYPES)):
        if order_type in kinds and value is None:
            raise errors.invalid(f"{order_type} orders require a {name} price")
        if order_type not in kinds and value is not None and order_type is not OrderType.MARKET:
            raise errors.invalid(f"{order_type} orders require no {name} price")
        if value is not None:
            parse.positive(value, f"{name}_price")
    parse.check_tick(limit_price, "limit_price")
    parse.check_tick(stop_price, "stop_price")
    return (
        None if limit_price is None else _price(limit_price, "limit_price"),
        None if stop_price is None else _price(stop_price, "stop_price"),
    )


def _client_order_id(body: Mapping[str, Any]) -> str | None:
    value = parse.text(body, "client_order_id")
    if value is None:
        return None
    if not value:
        raise errors.invalid("client_order_id must not be empty")
    if len(value) > MAX_CLIENT_ORDER_ID_LENGTH:
        raise errors.invalid(f"client_order_id must be at most {MAX_CLIENT_ORDER_ID_LENGTH} characters")
    return value


def _quantity(value: Decimal) -> Decimal:
    return parse.quantity(value, "qty")


def _price(value: Decimal, name: str) -> Decimal:
    try:
        return price(value, field=name)
    except InvalidOrder as e:
        raise errors.invalid(e.message) from e
