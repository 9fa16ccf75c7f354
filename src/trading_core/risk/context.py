"""What the risk rules look at: the account, the positions, open orders, the session."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Final

import attrs

from trading_core.daytrades import DayTrades
from trading_core.enums import OrderType, Side, TradingState
from trading_core.market import EASTERN, Account, Asset, MarketClock
from trading_core.orders import Order
from trading_core.positions import Position
from trading_core.requests import OrderRequest
from trading_core.values import ZERO, Symbol, plain_dict_init

# Read on every order, so bound once: on Python 3.11 reading a member off its enum class goes
# through EnumType.__getattr__'s slot hook, several hundred instructions a read.
_BUY: Final = Side.BUY


@plain_dict_init
@attrs.frozen(kw_only=True, slots=False)  # built per order: a __dict__ class is cheaper to build than a slotted one
class RiskContext:
    """A snapshot of everything a pre-trade check may consult."""

    account: Account
    clock: MarketClock
    positions: Mapping[Symbol, Position] = attrs.field(factory=dict)
    marks: Mapping[Symbol, Decimal] = attrs.field(factory=dict)
    assets: Mapping[Symbol, Asset] = attrs.field(factory=dict)
    open_orders: Sequence[Order] = ()
    day_trades: DayTrades = DayTrades()
    trading_state: TradingState = TradingState.ACTIVE
    _sizes: list[object] = attrs.field(factory=list, init=False, eq=False, repr=False)
    """(request, held, opening) of the last request sized: every rule asks about the same one."""

    @property
    def today(self) -> date:
        return self.clock.timestamp.astimezone(EASTERN).date()

    def held(self, symbol: Symbol) -> Decimal:
        position = self.positions.get(symbol)
        return position.quantity if position is not None else ZERO

    def open_position_count(self) -> int:
        return sum(1 for p in self.positions.values() if p.is_open)

    def exposure(self, symbol: Symbol) -> Decimal:
        """Absolute market value held in `symbol` at its mark (or average entry)."""
        position = self.positions.get(symbol)
        if position is None or not position.is_open:
            return ZERO
        mark = self.marks.get(symbol)
        if mark is None:  # not as get()'s default: that would divide and round on every call
            mark = position.average_entry_price
        return abs(position.quantity * mark)

    def sector_of(self, symbol: Symbol) -> str | None:
        asset = self.assets.get(symbol)
        return asset.sector if asset is not None else None

    def sector_exposure(self, sector: str, *, excluding: Symbol) -> Decimal:
        """Absolute market value held in `sector`, leaving the position in `excluding` out."""
        assets = self.assets
        total = ZERO
        for symbol in self.positions:  # every position, every order: the asset is read directly
            asset = assets.get(symbol)
            if asset is not None and asset.sector == sector and symbol != excluding:
                total += self.exposure(symbol)
        return total


def _sizes(request: OrderRequest, ctx: RiskContext) -> tuple[Decimal, Decimal]:
    """The order's quantity and the part of it that adds exposure, worked out once per request."""
    position = ctx.positions.get(request.symbol)  # ctx.held(), inlined: this runs for most rules
    held = position.quantity if position is not None else ZERO
    qty = request.quantity
    memo = ctx._sizes
    if qty is None:  # a notional order is valued at the current price (which may move): not kept
        mark = ctx.marks.get(request.symbol)
        qty = request.notional / mark if request.notional is not None and mark else ZERO
    elif memo and memo[0] is request and memo[1] == held:  # the mappings may be live: check the holding
        return qty, memo[2]  # type: ignore[return-value]
    opening = qty if not held or (held > 0) == (request.side is _BUY) else max(ZERO, qty - abs(held))
    if request.quantity is not None:
        memo[:] = (request, held, opening)
    return qty, opening


def order_quantity(request: OrderRequest, ctx: RiskContext) -> Decimal:
    """The order's quantity; a notional order is valued at the current price."""
    return _sizes(request, ctx)[0]


def opening_quantity(request: OrderRequest, ctx: RiskContext) -> Decimal:
    """The part of the order that adds exposure; zero for an order that only reduces."""
    return _sizes(request, ctx)[1]


def is_reducing(request: OrderRequest, ctx: RiskContext) -> bool:
    """True when the order only reduces an existing position.

    A notional order with no current price has no known size, so it is not shown to reduce.
    """
    qty, opening = _sizes(request, ctx)
    return qty > ZERO and not opening


def opening_cost(request: OrderRequest, ctx: RiskContext, price: Decimal) -> Decimal:
    """What the part of the order that adds exposure costs at `price`.

    A notional order costs its notional exactly: its quantity at the mark is a rounded quotient.
    """
    if request.notional is None or request.quantity is not None:
        return opening_quantity(request, ctx) * price
    held = ctx.held(request.symbol)
    against = bool(held) and (held > 0) != (request.side is _BUY)
    return max(ZERO, request.notional - abs(held) * price) if against else request.notional


def value_after(request: OrderRequest, ctx: RiskContext, price: Decimal) -> Decimal:
    """The absolute value at `price` of the position in the order's symbol once it has filled."""
    held = ctx.held(request.symbol)
    buys = request.side is _BUY
    if request.notional is not None and request.quantity is None:
        return abs(held * price + (request.notional if buys else -request.notional))
    qty = order_quantity(request, ctx)
    return abs(held + (qty if buys else -qty)) * price


def reference_price(request: OrderRequest, ctx: RiskContext) -> Decimal | None:
    """The price the order is valued at: its limit, else its stop, else the current mark."""
    if request.limit_price is not None:
        return request.limit_price
    if request.stop_price is not None and request.type is OrderType.STOP:
        return max(request.stop_price, ctx.marks.get(request.symbol, ZERO))
    return ctx.marks.get(request.symbol)
