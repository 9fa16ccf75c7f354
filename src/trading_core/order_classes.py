"""Order classes: a bracket, an OTO or an OCO, its exits' prices, and the rules between them.

Alpaca's semantics, which the paper exchange executes and the Alpaca adapter sends 1:1:

- a **bracket** is an entry (market or limit) with a take-profit limit and a stop-loss stop (or
  stop-limit) on the other side; an **OTO** is an entry with one of the two; an **OCO** is an exit
  pair for a position already held: a limit order (the take-profit) whose one leg is the stop-loss.
- the legs are held until the entry fills, and follow its partial fills (`trading_core.protective`).

The request keeps what was asked (`TakeProfit`, `StopLoss`, Alpaca's `take_profit` and `stop_loss`
objects); `leg_requests` makes the legs' own requests, each an order of its own once stored, its
client order id derived from the parent's (`leg_client_order_id`) so that a broker's copy of a leg
is recognised by either id.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Final, Protocol, TypeVar

import attrs

from trading_core.enums import OrderClass, OrderType, Side, TimeInForce
from trading_core.errors import InvalidOrder
from trading_core.values import CENTS, ONE, ClientOrderId, price


class ClassRequest(Protocol):
    """What these rules read of an order request (`trading_core.requests.OrderRequest`, which uses them)."""

    @property
    def symbol(self) -> str:
        """The symbol."""

    @property
    def side(self) -> Side:
        """The entry's side (an OCO's exits' side)."""

    @property
    def type(self) -> OrderType:
        """The entry's type."""

    @property
    def quantity(self) -> Decimal | None:
        """The entry's quantity."""

    @property
    def notional(self) -> Decimal | None:
        """A notional amount instead of a quantity."""

    @property
    def time_in_force(self) -> TimeInForce:
        """The time in force, which the legs share."""

    @property
    def limit_price(self) -> Decimal | None:
        """The entry's limit."""

    @property
    def stop_price(self) -> Decimal | None:
        """The entry's stop."""

    @property
    def extended_hours(self) -> bool:
        """Extended hours."""

    @property
    def order_class(self) -> OrderClass:
        """The order class."""

    @property
    def take_profit(self) -> TakeProfit | None:
        """The take-profit leg asked for."""

    @property
    def stop_loss(self) -> StopLoss | None:
        """The stop-loss leg asked for."""


_R = TypeVar("_R", bound=ClassRequest)

__all__ = [
    "LegRole",
    "StopLoss",
    "TakeProfit",
    "check_exits_against",
    "check_order_class",
    "exit_side",
    "leg_client_order_id",
    "leg_requests",
    "parse_stop_loss",
    "parse_take_profit",
]


@attrs.frozen
class TakeProfit:
    """The take-profit leg: a limit order on the exit side (Alpaca's `take_profit {limit_price}`)."""

    limit_price: Decimal


@attrs.frozen
class StopLoss:
    """The stop-loss leg: a stop, or a stop-limit when `limit_price` is given (Alpaca's `stop_loss`)."""

    stop_price: Decimal
    limit_price: Decimal | None = None


class LegRole(StrEnum):
    """Which exit a leg is."""

    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"


_ENTRY_TYPES: Final = {
    OrderClass.BRACKET: frozenset({OrderType.MARKET, OrderType.LIMIT}),
    OrderClass.OTO: frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT}),
    OrderClass.OCO: frozenset({OrderType.LIMIT}),
}
_CLASS_TIFS: Final = frozenset({TimeInForce.DAY, TimeInForce.GTC})
_LEGS: Final = ("take_profit", "stop_loss")


def parse_take_profit(value: object) -> TakeProfit | None:
    """A `TakeProfit` from itself or a mapping with `limit_price`; None stays None.

    Raises:
        InvalidOrder: not such an object, or its price is not a price (`take_profit.limit_price`).
    """
    if value is None or isinstance(value, TakeProfit):
        return value
    fields = _mapping(value, "take_profit", {"limit_price"})
    if fields.get("limit_price") is None:
        raise InvalidOrder("take_profit requires a limit_price", field="take_profit.limit_price")
    return TakeProfit(price(fields["limit_price"], field="take_profit.limit_price"))


def parse_stop_loss(value: object) -> StopLoss | None:
    """A `StopLoss` from itself or a mapping with `stop_price` and an optional `limit_price`.

    Raises:
        InvalidOrder: not such an object, or a price is not a price (`stop_loss.stop_price`...).
    """
    if value is None or isinstance(value, StopLoss):
        return value
    fields = _mapping(value, "stop_loss", {"stop_price", "limit_price"})
    if fields.get("stop_price") is None:
        raise InvalidOrder("stop_loss requires a stop_price", field="stop_loss.stop_price")
    limit = fields.get("limit_price")
    return StopLoss(
        price(fields["stop_price"], field="stop_loss.stop_price"),
        None if limit is None else price(limit, field="stop_loss.limit_price"),
    )


def _mapping(value: object, field: str, known: set[str]) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise InvalidOrder(f"{field} must be an object, was {type(value).__name__}", field=field)
    unknown = sorted(str(k) for k in value if k not in known)
    if unknown:
        raise InvalidOrder(f"{field} takes no {', '.join(unknown)}", field=f"{field}.{unknown[0]}")
    return value


def exit_side(request: ClassRequest) -> Side:
    """The side the class's exits take: an OCO's own side (it is the exit), else the entry's opposite."""
    return request.side if request.order_class is OrderClass.OCO else request.side.opposite


def check_order_class(r: ClassRequest) -> None:
    """Check the rules Alpaca applies to an order class and its legs.

    Raises:
        InvalidOrder: the first rule broken, naming its field (`take_profit.limit_price`, ...).
    """
    legs = (r.take_profit is not None, r.stop_loss is not None)
    cls = r.order_class
    if cls is OrderClass.SIMPLE:
        if any(legs):
            field = _LEGS[legs.index(True)]
            raise InvalidOrder(f"{field} is only for bracket, oco and oto orders, not a simple one", field=field)
        return
    _check_entry(r, cls)
    _check_legs_given(cls, legs)
    if cls is OrderClass.OCO and r.limit_price != _take_profit_price(r):
        raise InvalidOrder("an oco order's limit_price is its take_profit.limit_price", field="limit_price")
    _check_leg_prices(r)
    if cls is not OrderClass.OCO:
        base = r.limit_price if r.type is OrderType.LIMIT else r.stop_price
        if base is not None:
            check_exits_against(r, base)


def _check_entry(r: ClassRequest, cls: OrderClass) -> None:
    """The entry's type, amount, session and time in force that a class takes."""
    if r.type not in _ENTRY_TYPES[cls]:
        allowed = " or ".join(sorted(t.value for t in _ENTRY_TYPES[cls]))
        raise InvalidOrder(f"{cls} orders must be {allowed} orders, was {r.type}", field="type")
    if r.notional is not None:
        raise InvalidOrder(f"{cls} orders take a quantity, not a notional", field="notional")
    if r.extended_hours:
        raise InvalidOrder(f"{cls} orders do not trade in extended hours", field="extended_hours")
    if r.time_in_force not in _CLASS_TIFS:
        raise InvalidOrder(f"{cls} orders take time in force day or gtc", field="time_in_force")


def _check_legs_given(cls: OrderClass, legs: tuple[bool, bool]) -> None:
    """A bracket and an OCO take both exits, an OTO exactly one."""
    if cls is OrderClass.OTO:
        if legs == (True, True):
            raise InvalidOrder("oto orders take one exit: take_profit or stop_loss, not both", field="stop_loss")
        if legs == (False, False):
            raise InvalidOrder("oto orders require a take_profit or a stop_loss", field="take_profit")
    else:
        for field, given in zip(_LEGS, legs, strict=True):
            if not given:
                raise InvalidOrder(f"{cls} orders require a {field}", field=field)


def _take_profit_price(r: ClassRequest) -> Decimal | None:
    return None if r.take_profit is None else r.take_profit.limit_price


def _check_leg_prices(r: ClassRequest) -> None:
    """Each leg's ticks, a stop-limit's limit on the right side of its stop, and the exits apart."""
    tp, sl = r.take_profit, r.stop_loss
    sells = exit_side(r) is Side.SELL
    for value, field in (
        (None if tp is None else tp.limit_price, "take_profit.limit_price"),
        (None if sl is None else sl.stop_price, "stop_loss.stop_price"),
        (None if sl is None else sl.limit_price, "stop_loss.limit_price"),
    ):
        if value is not None and value >= ONE and value != value.quantize(CENTS):
            raise InvalidOrder(f"{field} of $1 or more takes at most 2 decimals, was {value}", field=field)
    if (
        sl is not None
        and sl.limit_price is not None
        and (sl.limit_price > sl.stop_price if sells else sl.limit_price < sl.stop_price)
    ):
        where = "at or below" if sells else "at or above"
        raise InvalidOrder(f"stop_loss.limit_price must be {where} its stop_price", field="stop_loss.limit_price")
    if tp is not None and sl is not None:
        apart = tp.limit_price - sl.stop_price if sells else sl.stop_price - tp.limit_price
        if apart < CENTS:
            where = "above" if sells else "below"
            raise InvalidOrder(
                f"take_profit.limit_price must be at least 0.01 {where} stop_loss.stop_price "
                f"({tp.limit_price} against {sl.stop_price})",
                field="take_profit.limit_price",
            )


def check_exits_against(r: ClassRequest, base: Decimal) -> None:
    """Check that the exits sit on the right sides of the entry's price `base` (its limit, or the mark).

    For a buy entry the take-profit is at least 0.01 above it and the stop-loss at least 0.01
    below it; for a sell entry the other way round (Alpaca's `base_price` rule).

    Raises:
        InvalidOrder: an exit on the wrong side, naming `take_profit.limit_price` or `stop_loss.stop_price`.
    """
    if r.order_class in (OrderClass.SIMPLE, OrderClass.OCO):
        return
    buys = r.side is Side.BUY
    if r.take_profit is not None:
        gain = r.take_profit.limit_price - base if buys else base - r.take_profit.limit_price
        if gain < CENTS:
            where = "above" if buys else "below"
            raise InvalidOrder(
                f"take_profit.limit_price must be at least 0.01 {where} the entry's price {base}, "
                f"was {r.take_profit.limit_price}",
                field="take_profit.limit_price",
            )
    if r.stop_loss is not None:
        loss = base - r.stop_loss.stop_price if buys else r.stop_loss.stop_price - base
        if loss < CENTS:
            where = "below" if buys else "above"
            raise InvalidOrder(
                f"stop_loss.stop_price must be at least 0.01 {where} the entry's price {base}, "
                f"was {r.stop_loss.stop_price}",
                field="stop_loss.stop_price",
            )


_LEG_IDS: Final = uuid.UUID("0b6f3c1e-8f7d-4d42-9a1e-7c2d5b9e4a60")
"""The namespace of the client order ids `leg_client_order_id` derives."""


def leg_client_order_id(parent: ClientOrderId, role: LegRole) -> ClientOrderId:
    """The client order id of a leg, derived from its parent's: the same leg always gets the same one."""
    return ClientOrderId(str(uuid.uuid5(_LEG_IDS, f"{parent}/{role.value}")))


def leg_requests(r: _R) -> dict[LegRole, _R]:
    """The legs' own requests: simple orders on the exit side, for the entry's quantity.

    An OCO's take-profit is the order itself, so its one leg is the stop-loss.
    """
    side = exit_side(r)
    legs: dict[LegRole, _R] = {}
    if r.take_profit is not None and r.order_class is not OrderClass.OCO:
        legs[LegRole.TAKE_PROFIT] = _simple(r, side, OrderType.LIMIT, limit_price=r.take_profit.limit_price)
    if r.stop_loss is not None:
        sl = r.stop_loss
        kind = OrderType.STOP if sl.limit_price is None else OrderType.STOP_LIMIT
        legs[LegRole.STOP_LOSS] = _simple(r, side, kind, stop_price=sl.stop_price, limit_price=sl.limit_price)
    return legs


def _simple(
    r: _R, side: Side, kind: OrderType, *, limit_price: Decimal | None = None, stop_price: Decimal | None = None
) -> _R:
    """A simple order on `side` for the request's quantity and time in force (its fields already checked)."""
    return attrs.evolve(  # type: ignore[misc]  # _R is OrderRequest, an attrs class (not importable here: a cycle)
        r,
        side=side,
        type=kind,
        limit_price=limit_price,
        stop_price=stop_price,
        trail_price=None,
        trail_percent=None,
        extended_hours=False,
        client_order_id=None,
        decision_id=None,
        order_class=OrderClass.SIMPLE,
        take_profit=None,
        stop_loss=None,
    )
