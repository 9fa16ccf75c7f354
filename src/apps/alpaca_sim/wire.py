"""Alpaca's JSON shapes of orders, positions, the account, assets, the clock and trade updates.

Plain functions from the core's values to JSON-ready dicts: decimals as strings (`dec`),
timestamps RFC 3339 in UTC with `Z` (the clock in US Eastern, as Alpaca sends it), every member
present and `null` where Alpaca sends null (alpaca-protocol.md, sections 2.3, 3.1, 4, 5, 6.4).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.enums import OrderClass, OrderStatus
from trading_core.market import EASTERN, Account, Asset, MarketClock
from trading_core.market_hours import TradingDay
from trading_core.values import ZERO

_RATIO = Decimal("1e-16")
MAINTENANCE_MARGIN_PERCENT = Decimal(30)

JSON = dict[str, Any]


def dec(value: Decimal) -> str:
    """A decimal as Alpaca writes it: plain digits, no exponent, no trailing zeros (`"10"`, `"172.4"`)."""
    if not value:
        return "0"
    return format(value.normalize(), "f")


def ratio(numerator: Decimal, denominator: Decimal) -> str:
    """A fraction such as `unrealized_plpc`, to 16 places; `"0"` when the denominator is zero."""
    if not denominator:
        return "0"
    return dec((numerator / denominator).quantize(_RATIO))


def ts(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds and `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ts_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else ts(moment)


def order(
    o: BrokerOrder,
    *,
    asset_id: str,
    position_intent: str | None,
    legs: list[JSON] | None = None,
    order_class: OrderClass | None = None,
) -> JSON:
    """The Order object (2.3); `asset_id` and `position_intent` are known to the simulator, not the order.

    `legs`: a parent's legs as Order objects (a submission's answer, or `nested=true`), else null;
    `order_class`: the class shown when it is not the order's own (a leg shows its parent's).
    """
    shown_class = o.order_class if order_class is None else order_class
    return {
        "id": o.broker_order_id,
        "client_order_id": o.client_order_id,
        **_order_times(o),
        "replaced_by": o.replaced_by,
        "replaces": o.replaces,
        "asset_id": asset_id,
        "symbol": o.symbol,
        "asset_class": "us_equity",
        "notional": None,
        "qty": dec(o.quantity),
        "filled_qty": dec(o.filled_quantity),
        "filled_avg_price": None if o.filled_average_price is None else dec(o.filled_average_price),
        "order_class": "" if shown_class is OrderClass.SIMPLE else shown_class.value,
        "order_type": o.type.value,
        "type": o.type.value,
        "side": o.side.value,
        "position_intent": position_intent,
        "time_in_force": o.time_in_force.value,
        "limit_price": None if o.limit_price is None else dec(o.limit_price),
        "stop_price": None if o.stop_price is None else dec(o.stop_price),
        "status": o.status.value,
        "extended_hours": o.extended_hours,
        "legs": legs,
        "trail_percent": None if o.trail_percent is None else dec(o.trail_percent),
        "trail_price": None if o.trail_price is None else dec(o.trail_price),
        "hwm": None if o.hwm is None else dec(o.hwm),
        "ratio_qty": None,
    }


def _order_times(o: BrokerOrder) -> JSON:
    """The Order object's timestamps, in its order; `failed_at` and `replaced_at` from its status."""
    replaced_at = o.updated_at if o.status is OrderStatus.REPLACED else None
    failed_at = o.updated_at if o.status is OrderStatus.REJECTED else None
    return {
        "created_at": ts(o.created_at),
        "updated_at": ts(o.updated_at),
        "submitted_at": ts(o.submitted_at),
        "filled_at": _ts_or_none(o.filled_at),
        "expired_at": _ts_or_none(o.expired_at),
        "expires_at": None,
        "canceled_at": _ts_or_none(o.canceled_at),
        "failed_at": _ts_or_none(failed_at),
        "replaced_at": _ts_or_none(replaced_at),
    }


def fill_terms(u: TradeUpdate) -> tuple[Decimal, Decimal]:
    """A fill's price and quantity.

    Raises:
        ValueError: The update lacks either (a journal edited by hand, say): a fill cannot be told without them.
    """
    if u.price is None or u.quantity is None:
        raise ValueError(f"a {u.event} of order {u.order.broker_order_id} without a price or a quantity")
    return u.price, u.quantity


def trade_update(u: TradeUpdate, order_json: JSON) -> JSON:
    """One trade_updates message (6.4): `timestamp` always, the execution's members on fills."""
    data: JSON = {"event": str(u.event), "timestamp": ts(u.timestamp), "order": order_json}
    if u.is_fill:
        price, quantity = fill_terms(u)
        data["execution_id"] = u.execution_id
        data["price"] = dec(price)
        data["qty"] = dec(quantity)
        data["position_qty"] = dec(u.position_quantity or ZERO)
    if u.reason is not None:
        data["reason"] = u.reason
    return {"stream": "trade_updates", "data": data}


def position(
    *,
    asset: Asset,
    quantity: Decimal,
    average_entry_price: Decimal,
    cost_basis: Decimal,
    current_price: Decimal,
    lastday_price: Decimal,
    held_for_orders: Decimal,
) -> JSON:
    """The Position object (3.1); `held_for_orders` is what open orders that reduce it already hold."""
    market_value = quantity * current_price
    unrealized = market_value - cost_basis
    intraday = quantity * (current_price - lastday_price)
    long = quantity > ZERO
    available = max(quantity - held_for_orders, ZERO) if long else min(quantity + held_for_orders, ZERO)
    return {
        "asset_id": asset.asset_id,
        "symbol": asset.symbol,
        "exchange": asset.exchange,
        "asset_class": "us_equity",
        "asset_marginable": True,
        "avg_entry_price": dec(average_entry_price),
        "qty": dec(quantity),
        "qty_available": dec(available),
        "side": "long" if long else "short",
        "market_value": dec(market_value),
        "cost_basis": dec(cost_basis),
        "unrealized_pl": dec(unrealized),
        "unrealized_plpc": ratio(unrealized, abs(cost_basis)),
        "unrealized_intraday_pl": dec(intraday),
        "unrealized_intraday_plpc": ratio(intraday, abs(quantity * lastday_price)),
        "current_price": dec(current_price),
        "lastday_price": dec(lastday_price),
        "change_today": ratio(current_price - lastday_price, lastday_price),
    }


def account(
    a: Account,
    *,
    account_number: str,
    created_at: datetime,
    position_values: Iterable[Decimal],
    trade_suspended: bool = False,
) -> JSON:
    """The Account object (4), from the exchange's balances and the signed values of the positions.

    Margin figures follow the exchange's own rule, buying power = equity x multiplier - gross
    position value: initial margin is the gross value over the multiplier, maintenance margin
    30 % of it. The day-trading members Alpaca removed on 2026-07-06 are left out.
    """
    return {
        "id": a.account_id,
        "account_number": account_number,
        "status": "ACTIVE",
        "crypto_status": "ACTIVE",
        "currency": a.currency,
        **_balances(a, list(position_values)),
        "sma": "0",
        "multiplier": dec(a.multiplier),
        "accrued_fees": "0",
        "pending_transfer_in": "0",
        "pending_transfer_out": "0",
        "trading_blocked": a.trading_blocked,
        "transfers_blocked": False,
        "account_blocked": a.account_blocked,
        "trade_suspended_by_user": trade_suspended,
        "shorting_enabled": a.shorting_enabled,
        "created_at": ts(created_at),
        "options_approved_level": 0,
        "options_trading_level": 0,
    }


def _balances(a: Account, values: list[Decimal]) -> JSON:
    """The account's money members: cash, buying power, equity, market values and margins."""
    long_value = sum((v for v in values if v > ZERO), ZERO)
    short_value = sum((v for v in values if v < ZERO), ZERO)
    gross = long_value - short_value
    maintenance = gross * MAINTENANCE_MARGIN_PERCENT / 100
    plain_power = a.buying_power / a.multiplier
    return {
        "cash": dec(a.cash),
        "buying_power": dec(a.buying_power),
        "regt_buying_power": dec(a.buying_power),
        "non_marginable_buying_power": dec(plain_power),
        "options_buying_power": dec(plain_power),
        "equity": dec(a.equity),
        "last_equity": dec(a.last_equity),
        "portfolio_value": dec(a.equity),
        "long_market_value": dec(long_value),
        "short_market_value": dec(short_value),
        "initial_margin": dec(gross / a.multiplier),
        "maintenance_margin": dec(maintenance),
        "last_maintenance_margin": dec(maintenance),
    }


def asset(a: Asset) -> JSON:
    """The Asset object (5.3): note `class`, where orders and positions say `asset_class`."""
    return {
        "id": a.asset_id,
        "class": "us_equity",
        "exchange": a.exchange,
        "symbol": a.symbol,
        "name": a.name,
        "status": "active",
        "tradable": a.tradable,
        "marginable": True,
        "shortable": a.shortable,
        "easy_to_borrow": a.shortable,
        "fractionable": a.fractionable,
        "maintenance_margin_requirement": int(MAINTENANCE_MARGIN_PERCENT),
        "attributes": [],
    }


def clock(c: MarketClock) -> JSON:
    """The Clock object (5.1), in US Eastern time as Alpaca sends it."""
    return {
        "timestamp": c.timestamp.astimezone(EASTERN).isoformat(timespec="microseconds"),
        "is_open": c.is_open,
        "next_open": c.next_open.astimezone(EASTERN).isoformat(timespec="seconds"),
        "next_close": c.next_close.astimezone(EASTERN).isoformat(timespec="seconds"),
    }


def calendar_days(days: Sequence[TradingDay], start: date, end: date) -> list[JSON]:
    """Calendar days (5.2) from `start` to `end` inclusive, from `days`: the exchange's trading days from
    `start` on, reaching far enough past `end` to settle the last (two weeks is enough)."""
    answer: list[JSON] = []
    for i, day in enumerate(days):
        if day.date > end:
            break
        if day.date < start:
            continue
        settles = i + settlement_cycle(day.date)
        answer.append(
            {
                "date": day.date.isoformat(),
                "open": day.open.astimezone(EASTERN).strftime("%H:%M"),
                "close": day.close.astimezone(EASTERN).strftime("%H:%M"),
                "session_open": day.session_open.astimezone(EASTERN).strftime("%H%M"),
                "session_close": day.session_close.astimezone(EASTERN).strftime("%H%M"),
                "settlement_date": days[settles].date.isoformat() if settles < len(days) else None,
            }
        )
    return answer


_SETTLEMENT_CYCLES: tuple[tuple[date, int], ...] = (
    (date(2024, 5, 28), 1),
    (date(2017, 9, 5), 2),
    (date(1995, 6, 7), 3),
)


def settlement_cycle(trade_date: date) -> int:
    """Trading days from a US equity trade to its settlement: T+1 since 2024-05-28, T+2 from 2017-09-05,
    T+3 from 1995-06-07, T+5 before (the SEC's rules of those dates)."""
    for since, days in _SETTLEMENT_CYCLES:
        if trade_date >= since:
            return days
    return 5
