"""The spec's stop-loss: exits attached to every opening order sent without its own.

With `risk.stopLossPercent` and/or `risk.takeProfitPercent` set, an order that opens or adds to
a position and has no exits of its own goes out with them: a bracket for a market or limit
entry with both, an OTO otherwise (one exit: the stop-loss when there must be a choice, since it
is the one that protects). The exits are priced from the entry's price (its limit, its stop, or
the mark for a market order) at the percentages, in whole cents, rounded away from the entry so
that each sits at least a cent from it (Alpaca's rule for a bracket's exits).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import attrs

from trading_core.enums import OrderClass, OrderType, Side
from trading_core.order_classes import StopLoss, TakeProfit
from trading_core.requests import OrderRequest, validate
from trading_core.risk.limits import RiskLimits
from trading_core.values import CENTS, HUNDRED, ONE

__all__ = ["entry_price", "with_protection"]

_BRACKET_ENTRIES = frozenset({OrderType.MARKET, OrderType.LIMIT})
_OTO_ENTRIES = frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT})


def entry_price(request: OrderRequest, mark: Decimal | None) -> Decimal | None:
    """The price exits are measured from: the limit, else the stop, else the mark."""
    return request.limit_price or request.stop_price or mark


def with_protection(request: OrderRequest, *, opening: bool, mark: Decimal | None, limits: RiskLimits) -> OrderRequest:
    """`request` with the configured exits attached, when it opens exposure and has none; else as it is.

    An order that cannot carry them (a trailing stop, an order outside the regular session, one
    with no price to measure from) goes as it is: the broker would refuse them on it.
    """
    sl_pct, tp_pct = limits.stop_loss_percent, limits.take_profit_percent
    if (sl_pct is None and tp_pct is None) or not opening or request.order_class is not OrderClass.SIMPLE:
        return request
    if request.type not in _OTO_ENTRIES or request.extended_hours or request.quantity is None:
        return request
    base = entry_price(request, mark)
    if base is None:
        return request
    buys = request.side is Side.BUY
    stop_loss = None if sl_pct is None else StopLoss(_away(base, -sl_pct if buys else sl_pct))
    take_profit = None if tp_pct is None else TakeProfit(_away(base, tp_pct if buys else -tp_pct))
    if stop_loss is not None and take_profit is not None and request.type in _BRACKET_ENTRIES:
        cls = OrderClass.BRACKET
    else:
        cls = OrderClass.OTO
        if stop_loss is not None:
            take_profit = None
    if stop_loss is not None and stop_loss.stop_price <= 0:
        return request  # a stop-loss of 100% or more of a sub-cent price: nothing to protect with
    protected = attrs.evolve(request, order_class=cls, take_profit=take_profit, stop_loss=stop_loss)
    validate(protected)
    return protected


def _away(base: Decimal, percent: Decimal) -> Decimal:
    """`base` moved by `percent`, in whole cents away from it, at least one cent."""
    target = base * (ONE + percent / HUNDRED)
    if percent > 0:
        return max(
            target.quantize(CENTS, rounding=ROUND_CEILING), (base + CENTS).quantize(CENTS, rounding=ROUND_CEILING)
        )
    return min(target.quantize(CENTS, rounding=ROUND_FLOOR), (base - CENTS).quantize(CENTS, rounding=ROUND_FLOOR))
