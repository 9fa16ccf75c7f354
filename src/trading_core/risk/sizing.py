"""An order measured against the holding and the mark in its symbol: what the sizing rules ask of it.

The risk engine works the sizing out once per order (`Sizing.of`) and passes it to every rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import attrs

from trading_core.enums import OrderType, Side
from trading_core.orders import Order
from trading_core.protective import unfilled_once
from trading_core.requests import OrderRequest
from trading_core.risk.context import RiskContext
from trading_core.values import ZERO


@attrs.frozen(kw_only=True)
class Sizing:
    """How big an order is and what it would add, against the context it is checked in."""

    quantity: Decimal
    """The order's quantity; a notional order's at the mark (zero without one)."""
    opening: Decimal
    """The part of the order that adds exposure; zero for an order that only reduces."""
    reducing: bool
    """Only reduces a position. A notional order with no mark has no known size: it does not."""
    price: Decimal | None
    """What the order is valued at: its limit, else its stop (or the mark if higher), else the mark."""
    cost: Decimal | None
    """What the part that adds exposure costs at `price`; None when it only reduces or has no price."""
    value: Decimal | None
    """The absolute value at `price` of the position once the order has filled; None likewise."""

    @classmethod
    def of(cls, request: OrderRequest, ctx: RiskContext) -> Sizing:
        """Size `request` against the position, the mark and our open orders in its symbol.

        The holding counts our open orders on the same side as filled: each order is sized as if
        those went first, so orders sent together (or resting) cannot pass a limit that all of
        them filled would break, and sells only reduce what they have not already sold.
        """
        symbol = request.symbol
        position = ctx.positions.get(symbol)
        mark = ctx.marks.get(symbol)
        buys = request.side is Side.BUY
        held = position.quantity if position is not None else ZERO
        if ctx.open_orders:  # none, usually, for market orders filled at once: nothing to add
            held += _pending(request, ctx.open_orders)
        against = bool(held) and (held > ZERO) != buys  # it reduces the holding, or flips it
        notional = request.notional if request.quantity is None else None
        quantity = _quantity(request, mark)
        opening = max(ZERO, quantity - abs(held)) if against else quantity
        reducing = quantity > ZERO and not opening
        price = _price(request, mark)
        cost = value = None
        if price is not None and not reducing:  # the exposure rules pass both without a cost or a value
            if notional is None:
                cost = opening * price
                value = abs(held + (quantity if buys else -quantity)) * price
            else:  # the notional itself: its quantity at the mark is a rounded quotient
                cost = max(ZERO, notional - abs(held) * price) if against else notional
                value = abs(held * price + (notional if buys else -notional))
        return cls(quantity=quantity, opening=opening, reducing=reducing, price=price, cost=cost, value=value)


def _pending(request: OrderRequest, open_orders: Sequence[Order]) -> Decimal:
    """The signed unfilled quantity of our open orders on the request's side in its symbol (an
    exit group's counted once, `protective.unfilled_once`)."""
    side, symbol = request.side, request.symbol
    pending = unfilled_once(o for o in open_orders if o.symbol == symbol and o.side is side)
    return pending if side is Side.BUY else -pending


def _quantity(request: OrderRequest, mark: Decimal | None) -> Decimal:
    """The request's quantity, or its notional at the mark (zero without a mark)."""
    if request.quantity is not None:
        return request.quantity
    notional = request.notional
    return notional / mark if notional is not None and mark else ZERO


def _price(request: OrderRequest, mark: Decimal | None) -> Decimal | None:
    """The request's limit, else its stop (or the mark once the mark is higher), else the mark."""
    if request.limit_price is not None:
        return request.limit_price
    if request.stop_price is not None and request.type is OrderType.STOP:
        return max(request.stop_price, mark if mark is not None else ZERO)
    return mark


def opening_quantity(request: OrderRequest, ctx: RiskContext) -> Decimal:
    """The part of the order that adds exposure; zero for an order that only reduces."""
    return Sizing.of(request, ctx).opening


def is_reducing(request: OrderRequest, ctx: RiskContext) -> bool:
    """True when the order only reduces an existing position.

    A notional order with no current price has no known size, so it is not shown to reduce.
    """
    return Sizing.of(request, ctx).reducing


def reference_price(request: OrderRequest, ctx: RiskContext) -> Decimal | None:
    """The price the order is valued at: its limit, else its stop, else the current mark."""
    return Sizing.of(request, ctx).price
