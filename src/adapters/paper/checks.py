"""What the exchange refuses, and the code it refuses it with.

Each check raises `BrokerRejected` with a code from `trading_core.codes` (or the core's
`DUPLICATE_CLIENT_ORDER_ID`), the same codes the pre-trade risk rules use for the same refusal,
so an order refused by the broker reads like one refused by our own checks. A refusal changes
nothing: no order, no event, no hold. With the answer Alpaca gives for each (for a simulator):

    code                       refused                                         Alpaca
    INVALID_ORDER              a price the type lacks or does not take, qty    422 40010001
                               <= 0, a trail on another type (or not exactly
                               one on a trailing_stop), replacing a
                               fractional order or a bracket's or OTO's
                               entry, a fraction in an order for longer than
                               the day, extended_hours on anything but a day
                               limit order
    INSUFFICIENT_QUANTITY      an order that could take a position through     403 40310000
                               zero (`reject_flips`): "insufficient qty
                               available"; `details` has Alpaca's available /
                               existing_qty / held_for_orders / symbol
    INVALID_ORDER              an order that would open one side while the     403 40310000
                               other has open orders (`details` as above)
    SYMBOL_NOT_TRADABLE        unknown symbol, asset not tradable, fraction    422 40010001
                               of a non-fractionable asset
    SYMBOL_NOT_TRADABLE        a short sale the asset or the account does not  403 40310000
                               allow, or of a fraction (`details` as above)
    INSUFFICIENT_FUNDS         buying power short of the exposure it adds      403 40310000
                               (`details`: buying_power, cost_basis)
    MARKET_CLOSED              an `opg` order while the session is open        422 42210000
    DUPLICATE_CLIENT_ORDER_ID  a client order id any earlier order used        422 40010001

The 403 kinds are the refusals whose `details` carry `available` or `buying_power`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NoReturn

from adapters.paper.instrument import Instrument
from trading_core import codes
from trading_core.enums import OrderType, Side, TimeInForce
from trading_core.errors import BrokerRejected, DuplicateClientOrderId
from trading_core.values import ZERO

_LIMIT_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
_STOP_TYPES = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})
_PRICED_TYPES = _LIMIT_TYPES | _STOP_TYPES
"""The types that need a limit or a stop price: a market order and a trailing stop take neither."""


def refuse(code: str, message: str, **details: Any) -> NoReturn:
    """Refuse a request as the exchange does, with one of our codes and what it concerned.

    Raises:
        BrokerRejected: Always.
    """
    raise BrokerRejected(code, message, details=details)


def duplicate_client_order_id(client_order_id: str) -> NoReturn:
    """Refuse an order under a client order id the account has used (`DUPLICATE_CLIENT_ORDER_ID`)."""
    refuse(
        DuplicateClientOrderId.code,
        "client_order_id must be unique",
        field="client_order_id",
        client_order_id=client_order_id,
    )


def check_extended_hours(order_type: OrderType, time_in_force: TimeInForce) -> None:
    """Refuse an order asking for `extended_hours` unless it is a day limit order, as Alpaca does (`INVALID_ORDER`)."""
    if order_type is not OrderType.LIMIT or time_in_force is not TimeInForce.DAY:
        refuse(codes.INVALID_ORDER, "extended hours order must be DAY limit orders", field="extended_hours")


def check_shape(
    order_type: OrderType, quantity: Decimal, limit_price: Decimal | None, stop_price: Decimal | None
) -> None:
    """Refuse what no exchange could work: missing or stray prices, a non-positive quantity."""
    if limit_price is None and stop_price is None and order_type not in _PRICED_TYPES and quantity > ZERO:
        return  # the common case (a market order): no price, and none needed
    if not quantity > ZERO:
        refuse(codes.INVALID_ORDER, f"qty must be > 0, was {quantity}", field="quantity")
    for field, value, needed in (
        ("limit_price", limit_price, order_type in _LIMIT_TYPES),
        ("stop_price", stop_price, order_type in _STOP_TYPES),
    ):
        if needed and value is None:
            refuse(codes.INVALID_ORDER, f"{order_type} orders require a {field}", field=field)
        if not needed and value is not None:
            refuse(codes.INVALID_ORDER, f"{order_type} orders take no {field}", field=field)
        if value is not None and not value > ZERO:
            refuse(codes.INVALID_ORDER, f"{field} must be > 0, was {value}", field=field)


def check_trail(order_type: OrderType, trail_price: Decimal | None, trail_percent: Decimal | None) -> None:
    """A trailing stop takes exactly one trail, by price or by percent; any other order none."""
    given = (trail_price is not None) + (trail_percent is not None)
    if order_type is OrderType.TRAILING_STOP and given != 1:
        refuse(
            codes.INVALID_ORDER,
            "trailing_stop orders require exactly one of trail_price and trail_percent",
            field="trail_price",
        )
    if order_type is not OrderType.TRAILING_STOP and given:
        refuse(codes.INVALID_ORDER, f"{order_type} orders take no trail", field="trail_price")
    for field, value in (("trail_price", trail_price), ("trail_percent", trail_percent)):
        if value is not None and not value > ZERO:
            refuse(codes.INVALID_ORDER, f"{field} must be > 0, was {value}", field=field)


def check_asset(instrument: Instrument | None, symbol: str, quantity: Decimal) -> Instrument:
    """Refuse an unknown or untradable asset, and fractions of an asset that has none."""
    if instrument is None:
        refuse(codes.SYMBOL_NOT_TRADABLE, f'asset "{symbol}" not found', field="symbol")
    asset = instrument.asset
    if not asset.tradable:
        refuse(codes.SYMBOL_NOT_TRADABLE, f"{symbol} is not tradable", field="symbol")
    if not asset.fractionable and quantity != quantity.to_integral_value():
        message = f"{symbol} is not fractionable: qty must be whole, was {quantity}"
        refuse(codes.SYMBOL_NOT_TRADABLE, message, field="quantity")
    return instrument


def check_fractional(time_in_force: TimeInForce) -> None:
    """Refuse a fractional quantity in an order for longer than the day, as Alpaca does."""
    if time_in_force is not TimeInForce.DAY:
        refuse(codes.INVALID_ORDER, f"fractional orders must be day orders, was {time_in_force}", field="quantity")


def opening_quantity(
    instrument: Instrument,
    side: Side,
    quantity: Decimal,
    *,
    can_short: bool,
    reject_flips: bool,
    released: Decimal = ZERO,
) -> Decimal:
    """The part of the order that adds exposure, after refusing shorts and flips.

    `released` is the unfilled quantity of an order on the same side that this one replaces.
    """
    held = instrument.position.quantity
    buy = side is Side.BUY
    if buy:
        same, other, against = instrument.open_buy, instrument.open_sell, -held
    else:
        same, other, against = instrument.open_sell, instrument.open_buy, held
    if released:  # nonzero only for a replacement: most calls skip a Decimal subtraction
        same -= released
    # `against` > 0: a position this order reduces; `same`: what open orders already reduce it by.
    if against > same:
        covered = against - same
        opening = quantity - covered if quantity > covered else ZERO
    else:  # nothing left to reduce: all of it opens or adds
        covered = ZERO
        opening = quantity
    if opening and not buy:
        _check_short(instrument, quantity, can_short=can_short, available=covered, held=same)
    # Alpaca refuses an order through zero (`against` > 0 is a position the order reduces, `covered`
    # of it not reduced by open orders yet), and one opening a side while the other has open orders.
    if reject_flips and opening and against > ZERO:
        why = "it would take the position through zero"
        _refuse_quantity(codes.INSUFFICIENT_QUANTITY, why, instrument, quantity=quantity, available=covered, held=same)
    if reject_flips and other and not against:
        _refuse_opposite(instrument, side, other)
    return opening


def _check_short(
    instrument: Instrument, quantity: Decimal, *, can_short: bool, available: Decimal, held: Decimal
) -> None:
    """Refuse a sale that opens or adds to a short the account or the asset does not allow."""
    why = None
    if not (can_short and instrument.asset.shortable):
        why = "account is not allowed to short" if not can_short else f"{instrument.asset.symbol} is not shortable"
    elif quantity != quantity.to_integral_value():
        why = "fractional orders cannot be sold short"
    if why is not None:
        _refuse_quantity(codes.SYMBOL_NOT_TRADABLE, why, instrument, quantity=quantity, available=available, held=held)


def _refuse_opposite(instrument: Instrument, side: Side, other: Decimal) -> NoReturn:
    """Refuse an order opening one side while `other` is open on the other side."""
    opposite = "a long buy" if side is Side.SELL else "a short sell"
    mine = "a short sell" if side is Side.SELL else "a long buy"
    refuse(
        codes.INVALID_ORDER,
        f"cannot open {mine} while {opposite} order is open",
        field="side",
        available=ZERO,
        existing_qty=instrument.position.quantity,
        held_for_orders=other,
        symbol=str(instrument.asset.symbol),
    )


def _refuse_quantity(
    code: str, why: str, instrument: Instrument, *, quantity: Decimal, available: Decimal, held: Decimal
) -> NoReturn:
    refuse(
        code,
        f"insufficient qty available for order (requested: {quantity}, available: {available}): {why}",
        field="quantity",
        available=available,
        existing_qty=instrument.position.quantity,
        held_for_orders=held,
        symbol=str(instrument.asset.symbol),
    )


def check_buying_power(cost: Decimal, buying_power: Decimal) -> None:
    """Refuse an order whose added exposure costs more than the buying power (`INSUFFICIENT_FUNDS`)."""
    if cost > buying_power:
        refuse(
            codes.INSUFFICIENT_FUNDS,
            "insufficient buying power",
            buying_power=buying_power,
            cost_basis=cost,
        )
