"""Trailing stops: the high-water mark follows the price, and the stop trails it by the trail.

A sell trailing stop protects a long: its mark is the highest price seen since it started to
work (`hwm`), its stop that mark less `trail_price`, or less `trail_percent` of it. A buy trailing
stop protects a short: its mark is the lowest price seen, its stop that mark plus the trail. It
triggers when the price reaches the stop, never before; the stop is exact (not rounded), so the
trigger is exactly a retracement by the trail. A replaced trail applies to the mark as it stands.
"""

from __future__ import annotations

from decimal import Decimal

from trading_core.enums import Side
from trading_core.errors import InvalidOrder
from trading_core.values import HUNDRED, ONE, ZERO

__all__ = ["MAX_TRAIL_PERCENT", "check_trail_percent", "next_hwm", "trail_stop_price", "trailing_triggered"]

MAX_TRAIL_PERCENT = HUNDRED
"""A trail in percent is below this (and above 0). Alpaca's order guide defines `trail_percent` as
"a percent value away from the highest water mark. If you set this to 1.0 for a sell trailing
stop, the stop price is always `hwm * 0.99`" (its Trailing Stop Orders section; docs/api.md and
shared/docs/alpaca-protocol.md 2.1: "`1.0` = 1 %"). It states no bound, but at 100 a sell's stop is
0 and beyond it below 0: the stop never triggers and the order protects nothing, so 100 and over
are refused as malformed, here, for every way in (library, HTTP, CLI, NATS decisions)."""


def check_trail_percent(value: Decimal, *, field: str = "trail_percent") -> None:
    """Refuse a trail in percent that is not above 0 and below 100 (`MAX_TRAIL_PERCENT`).

    Raises:
        InvalidOrder: `value` is out of bounds (`field` named).
    """
    if not ZERO < value < MAX_TRAIL_PERCENT:
        raise InvalidOrder(
            f"{field} must be greater than 0 and less than {MAX_TRAIL_PERCENT} (a percent of the "
            f"high-water mark; at {MAX_TRAIL_PERCENT} a sell's stop would be 0), was {value}",
            field=field,
        )


def next_hwm(side: Side, hwm: Decimal | None, price: Decimal) -> Decimal:
    """The mark after `price` is seen: the higher of the two for a sell, the lower for a buy."""
    if hwm is None:
        return price
    return max(hwm, price) if side is Side.SELL else min(hwm, price)


def trail_stop_price(
    side: Side, hwm: Decimal, *, trail_price: Decimal | None, trail_percent: Decimal | None
) -> Decimal:
    """The stop a trail of `trail_price` (dollars) or `trail_percent` (percent) derives from `hwm`.

    Raises:
        InvalidOrder: neither or both trails are given (`trail_price` named).
    """
    sells = side is Side.SELL
    if trail_price is not None and trail_percent is None:
        return hwm - trail_price if sells else hwm + trail_price
    if trail_percent is not None and trail_price is None:
        factor = ONE - trail_percent / HUNDRED if sells else ONE + trail_percent / HUNDRED
        return hwm * factor
    raise InvalidOrder("a trailing stop takes exactly one of trail_price and trail_percent", field="trail_price")


def trailing_triggered(
    side: Side, hwm: Decimal, price: Decimal, *, trail_price: Decimal | None, trail_percent: Decimal | None
) -> bool:
    """Whether `price` has come back from `hwm` by the trail: at or below the stop for a sell, at or above for a buy."""
    stop = trail_stop_price(side, hwm, trail_price=trail_price, trail_percent=trail_percent)
    return price <= stop if side is Side.SELL else price >= stop
