"""Order requests: what a caller asks for, validated as a broker would before anything is sent."""

from __future__ import annotations

import uuid
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter
from typing import Any, Final, TypeVar

import attrs

from trading_core.enums import OrderClass, OrderType, Side, TimeInForce
from trading_core.errors import InvalidOrder
from trading_core.order_classes import StopLoss, TakeProfit, check_order_class, parse_stop_loss, parse_take_profit
from trading_core.trailing import check_trail_percent
from trading_core.values import ONE, ClientOrderId, Symbol, canonical_uuid, price, quantity

MAX_CLIENT_ORDER_ID_LENGTH = 48
"""Alpaca's limit on client_order_id; our ids are UUIDs (36)."""

_E = TypeVar("_E", Side, OrderType, TimeInForce, OrderClass)

_LIMIT_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
_STOP_TYPES = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})
_AUCTION_TIFS = frozenset({TimeInForce.OPG, TimeInForce.CLS})


@attrs.frozen(kw_only=True)
class OrderRequest:
    """A validated order request; build one with `OrderRequest.create`, which checks every rule.

    Exactly one of `quantity` and `notional` is set: a notional (dollar) order is a market order
    for the day whose quantity the engine resolves from the current price before sending.
    """

    symbol: Symbol
    side: Side
    type: OrderType
    quantity: Decimal | None
    notional: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.DAY
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    extended_hours: bool = False
    client_order_id: ClientOrderId | None = None
    strategy_id: str | None = None
    decision_id: str | None = None
    order_class: OrderClass = OrderClass.SIMPLE
    """With its exits (`take_profit`, `stop_loss`): see `trading_core.order_classes`."""
    take_profit: TakeProfit | None = None
    stop_loss: StopLoss | None = None

    @classmethod
    def create(
        cls,
        *,
        symbol: str,
        side: Side | str,
        type: OrderType | str,
        quantity: object = None,
        notional: object = None,
        time_in_force: TimeInForce | str = TimeInForce.DAY,
        limit_price: object = None,
        stop_price: object = None,
        trail_price: object = None,
        trail_percent: object = None,
        extended_hours: bool = False,
        client_order_id: str | None = None,
        strategy_id: str | None = None,
        decision_id: str | None = None,
        order_class: OrderClass | str = OrderClass.SIMPLE,
        take_profit: object = None,
        stop_loss: object = None,
    ) -> OrderRequest:
        """Parse and validate every field, then the rules between them.

        `take_profit` and `stop_loss` are `TakeProfit` and `StopLoss` values, or mappings of their
        fields; an OCO's `limit_price` may be left out (it is its take-profit's).

        Raises:
            InvalidOrder: a field or a rule is broken; the field at fault is named.
        """
        request = cls(
            symbol=Symbol(symbol),
            side=_enum(Side, side, "side"),
            type=_enum(OrderType, type, "type"),
            quantity=None if quantity is None else _quantity(quantity),
            notional=None if notional is None else price(notional, field="notional"),
            time_in_force=_enum(TimeInForce, time_in_force, "time_in_force"),
            # What is absent is tested here rather than in a call per field: most requests give
            # no prices and no ids, and a call costs more than the test.
            limit_price=None if limit_price is None else price(limit_price, field="limit_price"),
            stop_price=None if stop_price is None else price(stop_price, field="stop_price"),
            trail_price=None if trail_price is None else price(trail_price, field="trail_price"),
            trail_percent=None if trail_percent is None else price(trail_percent, field="trail_percent"),
            extended_hours=extended_hours if extended_hours is False else _bool(extended_hours, "extended_hours"),
            client_order_id=None if client_order_id is None else _client_order_id(client_order_id),
            strategy_id=None if strategy_id is None else _uuid_text(strategy_id, "strategy_id"),
            decision_id=None if decision_id is None else _uuid_text(decision_id, "decision_id"),
        )
        request = _with_exits(request, order_class, take_profit, stop_loss)
        validate(request)
        return request

    @classmethod
    def from_order(cls, order: object, **changes: Any) -> OrderRequest:
        """The request that asks for `order` as it stands, with `changes`, checked as `create` checks.

        `order` is an `Order` (typed loosely here, as orders are built from requests: a module
        cycle otherwise), or anything with the request's fields under their names. Every field of
        the request but `notional` is the order's own, its client order id too (a replacement,
        which needs one of its own, passes `client_order_id=None`).

        Raises:
            InvalidOrder: a change, or a field of `order`, breaks a rule; the field is named.
        """
        fields = {name: getattr(order, name) for name in _ORDER_FIELDS}
        fields.update(changes)
        return cls.create(**fields)

    @property
    def signed_quantity(self) -> Decimal:
        """The position change this order makes when it fills completely.

        Raises:
            InvalidOrder: The request is notional and not yet resolved to a quantity.
        """
        if self.quantity is None:
            raise InvalidOrder("a notional order has no quantity until the engine resolves it", field="notional")
        return self.quantity if self.side is Side.BUY else -self.quantity

    def repeats(self, first: OrderRequest) -> bool:
        """Whether this request, sent again under `first`'s client order id, asks for the same order.

        The symbol, side, type, time in force and prices must be the same, and so must the
        quantity unless this request is notional (sized when it is placed: any size matches).
        """
        return _REPEATED(self) == _REPEATED(first) and (self.quantity is None or self.quantity == first.quantity)


_ORDER_FIELDS: Final = tuple(a.name for a in attrs.fields(OrderRequest) if a.name != "notional")
"""The request's fields that an `Order` keeps under the same names (a notional is kept as its quantity)."""

_REPEATED: Final = attrgetter(
    "symbol", "side", "type", "time_in_force", "limit_price", "stop_price", "order_class", "take_profit", "stop_loss"
)
"""What a repeated submission must ask for as the first did, besides the quantity (`repeats`)."""


def validate(request: OrderRequest) -> None:
    """Check the rules a broker applies to an order's shape.

    Raises:
        InvalidOrder: the first rule broken, naming its field.
    """
    _check_amount(request)
    _check_prices(request)
    _check_time_in_force(request)
    check_order_class(request)


def _with_exits(request: OrderRequest, order_class: object, take_profit: object, stop_loss: object) -> OrderRequest:
    """The request with its order class and exits parsed; an OCO's limit price defaults to its take-profit's.

    A simple order without exits, the usual request, is returned as it is.
    """
    if order_class is OrderClass.SIMPLE and take_profit is None and stop_loss is None:
        return request
    cls = _enum(OrderClass, "simple" if order_class == "" else order_class, "order_class")
    tp, sl = parse_take_profit(take_profit), parse_stop_loss(stop_loss)
    limit = request.limit_price
    if cls is OrderClass.OCO and request.type is OrderType.LIMIT and limit is None and tp is not None:
        limit = tp.limit_price
    return attrs.evolve(request, order_class=cls, take_profit=tp, stop_loss=sl, limit_price=limit)


def _check_amount(r: OrderRequest) -> None:
    if (r.quantity is None) == (r.notional is None):
        raise InvalidOrder("exactly one of quantity and notional is required", field="quantity")
    if r.notional is not None and (r.type is not OrderType.MARKET or r.time_in_force is not TimeInForce.DAY):
        raise InvalidOrder("notional amounts are only for market orders with time in force day", field="notional")


def _check_prices(r: OrderRequest) -> None:
    prices = (r.limit_price, r.stop_price, r.trail_price, r.trail_percent)
    if r.type is OrderType.MARKET and prices == (None, None, None, None):
        return  # a market order without prices, the usual request: nothing below applies
    needs_limit = r.type in _LIMIT_TYPES
    needs_stop = r.type in _STOP_TYPES
    if needs_limit and r.limit_price is None:
        raise InvalidOrder(f"{r.type} orders require a limit_price", field="limit_price")
    if not needs_limit and r.limit_price is not None:
        raise InvalidOrder(f"{r.type} orders take no limit_price", field="limit_price")
    if needs_stop and r.stop_price is None:
        raise InvalidOrder(f"{r.type} orders require a stop_price", field="stop_price")
    if not needs_stop and r.stop_price is not None:
        raise InvalidOrder(f"{r.type} orders take no stop_price", field="stop_price")
    trailing = r.type is OrderType.TRAILING_STOP
    trails = (r.trail_price is not None) + (r.trail_percent is not None)
    if trailing and trails != 1:
        raise InvalidOrder(
            "trailing_stop orders require exactly one of trail_price and trail_percent",
            field="trail_price",
        )
    if not trailing and trails:
        given = "trail_price" if r.trail_price is not None else "trail_percent"
        raise InvalidOrder(f"{r.type} orders take no trail ({given})", field=given)
    if r.trail_percent is not None:
        check_trail_percent(r.trail_percent)
    for field in ("limit_price", "stop_price", "trail_price"):
        _check_tick(getattr(r, field), field)


def _check_tick(value: Decimal | None, field: str) -> None:
    """Prices of $1 and over move in cents, below $1 in hundredths of a cent (sub-penny rule)."""
    if value is not None and value >= ONE and value != value.quantize(Decimal("0.01")):
        raise InvalidOrder(f"{field} of $1 or more takes at most 2 decimals, was {value}", field=field)


def _check_time_in_force(r: OrderRequest) -> None:
    tif = r.time_in_force
    if r.extended_hours and (r.type is not OrderType.LIMIT or tif is not TimeInForce.DAY):
        raise InvalidOrder("extended_hours is only for limit orders with time in force day", field="extended_hours")
    if tif in _AUCTION_TIFS and r.type not in (OrderType.MARKET, OrderType.LIMIT):
        raise InvalidOrder(f"time in force {tif} is only for market and limit orders", field="time_in_force")
    if r.type is OrderType.TRAILING_STOP and tif not in (TimeInForce.DAY, TimeInForce.GTC):
        raise InvalidOrder("trailing_stop orders take time in force day or gtc", field="time_in_force")


_MEMBERS: dict[type[StrEnum], dict[str, StrEnum]] = {
    kind: {m.value: m for m in kind} for kind in (Side, OrderType, TimeInForce, OrderClass)
}
"""Each vocabulary's members by value: a dict lookup, where calling the enum runs Python code."""


def _enum(kind: type[_E], value: object, field: str) -> _E:
    if type(value) is kind:
        return value
    member = _MEMBERS[kind].get(value) if isinstance(value, str) else None
    if member is None:
        allowed = ", ".join(m.value for m in kind)
        raise InvalidOrder(f"{field} must be one of {allowed}, was {value!r}", field=field)
    return member  # type: ignore[return-value]  # _MEMBERS[kind] holds members of kind


def _quantity(value: object) -> Decimal:
    return quantity(value, field="quantity")


def _bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidOrder(f"{field} must be a boolean, was {value!r}", field=field)
    return value


def _uuid_text(value: object, field: str) -> str:
    """Strategy and decision ids are UUIDs (the schema's columns are UUID)."""
    canonical = canonical_uuid(value)
    if canonical is None:
        raise InvalidOrder(f"{field} must be a UUID, was {value!r}", field=field)
    return canonical


def _client_order_id(value: object) -> ClientOrderId | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidOrder("client_order_id must be a non-empty string", field="client_order_id")
    if len(value) > MAX_CLIENT_ORDER_ID_LENGTH:
        raise InvalidOrder(
            f"client_order_id is at most {MAX_CLIENT_ORDER_ID_LENGTH} characters, was {len(value)}",
            field="client_order_id",
        )
    if "\x00" in value:  # no store's text can hold it (PostgreSQL refuses it), nor a broker's id
        raise InvalidOrder("client_order_id must not hold a NUL character", field="client_order_id")
    return ClientOrderId(value)


def split_quantities(request: OrderRequest, held: Decimal) -> tuple[Decimal, Decimal] | None:
    """The closing and the opening quantities of an order that would take the position `held`
    through zero; None for one that would not, or that is not split (an order class, a notional).

    Alpaca refuses an order that takes a long position short (or a short one long) in one go;
    the closing part goes first and the rest is sent once it has filled.
    """
    qty = request.quantity
    if qty is None or not held or qty <= abs(held):
        return None  # a notional, nothing held, or too little to reach zero: most orders, told without their enums
    if request.order_class is not OrderClass.SIMPLE:
        return None  # its exits are for the whole entry: the broker refuses it whole if it must
    if (held > 0) == (request.side is Side.BUY):
        return None  # it adds to the position
    closing = abs(held)
    return closing, qty - closing


def split_at_flat(request: OrderRequest, held: Decimal) -> tuple[OrderRequest, OrderRequest | None]:
    """Split an order that would cross zero into the closing part and the opening rest, as
    requests of `split_quantities`' quantities (the engine builds both halves' orders from the
    one request instead: `trading_core.engine.submission.build_orders`).
    """
    split = split_quantities(request, held)
    if split is None:
        return request, None
    closing, opening = split
    return attrs.evolve(request, quantity=closing), attrs.evolve(
        request, quantity=opening, client_order_id=opening_client_order_id(request)
    )


def opening_client_order_id(request: OrderRequest) -> ClientOrderId | None:
    """The client order id of the opening half of `request` split at flat: derived from the
    caller's, which the closing half keeps, so that a retry finds both; None (a new one) without."""
    given = request.client_order_id
    return None if given is None else follow_up_client_order_id(given)


_FOLLOW_UPS = uuid.UUID("6f1c2a52-5b1e-4a39-9a57-2f6b0a7e4c11")
"""The namespace of the client order ids `follow_up_client_order_id` derives."""


def follow_up_client_order_id(client_order_id: ClientOrderId) -> ClientOrderId:
    """The client order id of the opening half of an order split at flat, from the caller's id."""
    return ClientOrderId(str(uuid.uuid5(_FOLLOW_UPS, client_order_id)))
