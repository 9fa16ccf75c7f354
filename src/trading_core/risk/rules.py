"""The pre-trade rules: each a small pure function returning None (pass) or a `Rejection`.

Each takes the request, its `Sizing` (worked out once by the risk engine), the context and the
limits. Rules that guard exposure or losses never block an order that only reduces a position.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import time
from decimal import Decimal

import attrs

from trading_core import codes
from trading_core.enums import OrderClass, OrderType, Side, TimeInForce, TradingState
from trading_core.market import Session
from trading_core.requests import OrderRequest
from trading_core.risk.context import RiskContext
from trading_core.risk.limits import RiskLimits
from trading_core.risk.sizing import Sizing
from trading_core.values import HUNDRED, ZERO


@attrs.frozen
class Rejection:
    """A rule's refusal: the check's name, a code from `trading_core.codes`, and why."""

    check: str
    code: str
    reason: str


Rule = Callable[[OrderRequest, RiskContext, RiskLimits], "Rejection | None"]
"""A pre-trade rule as `RiskEngine.with_rules` takes one: (request, context, limits) -> None when it
passes, else a Rejection."""

SizedRule = Callable[[OrderRequest, Sizing, RiskContext, RiskLimits], "Rejection | None"]
"""A pre-trade rule that also reads the order's sizing, which the risk engine works out once per
order: (request, sizing, context, limits) -> None or a Rejection. The engine's own rules are these;
`RiskEngine.with_sized_rules` takes yours."""


def buying_power(request: OrderRequest, sized: Sizing, ctx: RiskContext, limits: RiskLimits) -> Rejection | None:
    """Refuse an order whose opening part costs more than the account's buying power (`INSUFFICIENT_FUNDS`)."""
    if sized.reducing:
        return None
    cost = sized.cost
    if cost is None:  # no price to value it at
        if request.symbol not in ctx.assets:
            return None  # an unknown symbol is refused by `symbol_tradable`, with the code that says why
        return Rejection(
            "buyingPower",
            codes.INSUFFICIENT_FUNDS,
            f"no current price for {request.symbol} to value the order",
        )
    available = ctx.account.buying_power
    if cost > available:
        return Rejection(
            "buyingPower",
            codes.INSUFFICIENT_FUNDS,
            f"order needs {cost:.2f} of buying power, {available:.2f} available",
        )
    return None


def position_limit(request: OrderRequest, sized: Sizing, ctx: RiskContext, limits: RiskLimits) -> Rejection | None:
    """Refuse an order that would take the position past its share of equity (`POSITION_LIMIT`)."""
    after = sized.value
    if after is None:
        return None  # a reduction, or an order buying_power refuses for want of a price
    cap = ctx.account.equity * limits.max_position_size_percent / HUNDRED
    if after > cap:
        return Rejection(
            "positionLimit",
            codes.POSITION_LIMIT,
            f"position in {request.symbol} would be {after:.2f}, "
            f"over {limits.max_position_size_percent}% of equity ({cap:.2f})",
        )
    return None


def sector_exposure(request: OrderRequest, sized: Sizing, ctx: RiskContext, limits: RiskLimits) -> Rejection | None:
    """Refuse an order that would take its sector's exposure past its share of equity (`SECTOR_LIMIT`)."""
    value = sized.value
    if value is None:
        return None  # a reduction, or an order it cannot value
    sector = ctx.sector_of(request.symbol)
    if sector is None:
        return None
    after = ctx.sector_exposure(sector, excluding=request.symbol) + value
    cap = ctx.account.equity * limits.max_sector_exposure_percent / HUNDRED
    if after > cap:
        return Rejection(
            "sectorExposure",
            codes.SECTOR_LIMIT,
            f"exposure to {sector} would be {after:.2f}, "
            f"over {limits.max_sector_exposure_percent}% of equity ({cap:.2f})",
        )
    return None


def daily_loss_limit(request: OrderRequest, sized: Sizing, ctx: RiskContext, limits: RiskLimits) -> Rejection | None:
    """Refuse new exposure once today's loss is over the limit (`DAILY_LOSS_LIMIT`) or trading is halted
    (`TRADING_HALTED`)."""
    if sized.reducing:
        return None
    state = ctx.trading_state
    if state is not TradingState.ACTIVE:
        if state is TradingState.HALTED:
            return Rejection("dailyLossLimit", codes.TRADING_HALTED, "trading is halted: only reducing orders pass")
        return Rejection("dailyLossLimit", codes.DAILY_LOSS_LIMIT, f"trading is {state}: only reducing orders pass")
    account = ctx.account
    loss = account.last_equity - account.equity
    cap = account.last_equity * limits.max_daily_loss_percent / HUNDRED
    if account.last_equity > ZERO and loss > cap:
        return Rejection(
            "dailyLossLimit",
            codes.DAILY_LOSS_LIMIT,
            f"today's loss {loss:.2f} exceeds {limits.max_daily_loss_percent}% of last equity ({cap:.2f})",
        )
    return None


def max_open_positions(request: OrderRequest, sized: Sizing, ctx: RiskContext, limits: RiskLimits) -> Rejection | None:
    """Refuse an order that would open a position beyond the limit's count (`MAX_OPEN_POSITIONS`)."""
    positions, working = ctx.positions, ctx.working
    if len(positions) + len(working) < limits.max_open_positions:
        return None  # fewer symbols held or worked than the limit: no need to count them
    position = positions.get(request.symbol)
    if (position is not None and position.is_open) or working.get(request.symbol):
        return None  # a symbol already counted (held, or with open orders): the count does not grow
    count = ctx.open_position_count()
    if count >= limits.max_open_positions:
        return Rejection(
            "maxOpenPositions",
            codes.MAX_OPEN_POSITIONS,
            f"{count} positions are open, the limit is {limits.max_open_positions}",
        )
    return None


_OPG_REFUSED = (time(9, 28), time(19, 0))
_CLS_REFUSED = (time(15, 50), time(19, 0))
_NEEDS_OPEN_MARKET = frozenset({TimeInForce.IOC, TimeInForce.FOK})
_AUCTIONS = frozenset({TimeInForce.OPG, TimeInForce.CLS})


def market_session(request: OrderRequest, sized: Sizing, ctx: RiskContext, limits: RiskLimits) -> Rejection | None:
    """Refuse what the session does not take: market orders while closed, auctions too late (`MARKET_CLOSED`)."""
    tif = request.time_in_force
    if tif in _AUCTIONS:
        start, end = _OPG_REFUSED if tif is TimeInForce.OPG else _CLS_REFUSED
        if start <= ctx.clock.eastern_time < end:
            return Rejection(
                "marketSession",
                codes.MARKET_CLOSED,
                f"{tif} orders are not accepted between {start:%H:%M} and {end:%H:%M} ET",
            )
        return None
    if ctx.clock.is_open:
        return None
    if request.extended_hours and ctx.clock.session in (Session.PRE_MARKET, Session.AFTER_HOURS):
        return None
    if request.type is OrderType.MARKET or tif in _NEEDS_OPEN_MARKET:
        return Rejection(
            "marketSession",
            codes.MARKET_CLOSED,
            f"the market is closed; next open {ctx.clock.next_open.isoformat()}",
        )
    return None


def symbol_tradable(request: OrderRequest, sized: Sizing, ctx: RiskContext, limits: RiskLimits) -> Rejection | None:
    """Refuse an asset the account may not trade so: unknown, halted, fractional, short (`SYMBOL_NOT_TRADABLE`)."""
    account = ctx.account
    if account.trading_blocked or account.account_blocked:
        return Rejection("symbolTradable", codes.SYMBOL_NOT_TRADABLE, "trading is blocked on the account")
    asset = ctx.assets.get(request.symbol)
    if asset is None:
        return Rejection("symbolTradable", codes.SYMBOL_NOT_TRADABLE, f"{request.symbol} is not a known asset")
    if not asset.tradable:
        return Rejection("symbolTradable", codes.SYMBOL_NOT_TRADABLE, f"{request.symbol} is not tradable")
    qty = request.quantity
    if not asset.fractionable and (qty is None or qty != qty.to_integral_value()):  # a notional order buys a fraction
        return Rejection("symbolTradable", codes.SYMBOL_NOT_TRADABLE, f"{request.symbol} is not fractionable")
    opens_short = sized.opening > ZERO and request.side is Side.SELL  # a reducing order reads no side
    if opens_short and not (asset.shortable and account.shorting_enabled):
        return Rejection("symbolTradable", codes.SYMBOL_NOT_TRADABLE, f"{request.symbol} cannot be sold short")
    return None


def wash_trade(request: OrderRequest, sized: Sizing, ctx: RiskContext, limits: RiskLimits) -> Rejection | None:
    """Refuse an order that could execute against one of our own opposite orders, as Alpaca does.

    Alpaca makes complex orders (bracket, OCO, OTO) and trailing stops exceptions to the rule (its
    advice for a take-profit with a stop-loss is "use complex orders"): such an order passes, and
    such orders resting are not counted against a new one.
    """
    if not limits.enable_wash_trade_protection or not ctx.open_orders:
        return None  # off, or no order of ours to trade against
    if _wash_exception(request.order_class, request.type):
        return None
    for other in ctx.open_orders:
        if other.symbol != request.symbol or other.side is request.side or other.is_terminal:
            continue
        if other.leg_of is not None or _wash_exception(other.order_class, other.type):
            continue
        if _could_cross(request, other.type, other.limit_price):
            if request.type is OrderType.MARKET:
                reason = f"potential wash trade: market order against open {other.side} order {other.id} (42210000)"
            else:
                reason = (
                    f"potential wash trade: opposite {other.side} order {other.id} could execute against it (40310000)"
                )
            return Rejection("washTrade", codes.WASH_TRADE, reason)
    return None


def _wash_exception(order_class: OrderClass, order_type: OrderType) -> bool:
    """A complex order (or one of its legs) or a trailing stop: exempt from the wash-trade rule at Alpaca."""
    return order_class is not OrderClass.SIMPLE or order_type is OrderType.TRAILING_STOP


def _could_cross(request: OrderRequest, other_type: OrderType, other_limit: Decimal | None) -> bool:
    """Whether two opposite orders could trade with each other at some price."""
    mine = request.limit_price if request.type in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
    theirs = other_limit if other_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
    if mine is None or theirs is None:
        return True  # a market or stop order takes whatever price is there
    return mine >= theirs if request.side is Side.BUY else mine <= theirs


def pattern_day_trader(request: OrderRequest, sized: Sizing, ctx: RiskContext, limits: RiskLimits) -> Rejection | None:
    """Refuse a day trade beyond the self-imposed budget while equity is under its threshold (`PDT_RESTRICTED`)."""
    if not limits.enable_day_trade_budget or ctx.account.equity >= limits.day_trade_equity_threshold:
        return None
    held = ctx.held(request.symbol)
    reduces = bool(held) and (held > 0) != (request.side is Side.BUY)
    today = ctx.today
    if not (reduces and ctx.day_trades.would_day_trade(request.symbol, today)):
        return None
    made = ctx.day_trades.count(today, limits.day_trade_window_days)
    if made >= limits.max_day_trades:
        return Rejection(
            "patternDayTrader",
            codes.PDT_RESTRICTED,
            f"{made} day trades in {limits.day_trade_window_days} business days with equity under "
            f"{limits.day_trade_equity_threshold}: the budget is {limits.max_day_trades}",
        )
    return None
