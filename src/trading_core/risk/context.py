"""What the risk rules look at: the account, the positions, open orders, the session."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal

import attrs

from trading_core.daytrades import DayTrades
from trading_core.enums import OrderType, Side, TradingState
from trading_core.market import EASTERN, Account, Asset, MarketClock
from trading_core.orders import Order
from trading_core.positions import Position
from trading_core.requests import OrderRequest
from trading_core.values import ZERO, OrderId, Symbol


@attrs.frozen(kw_only=True)
class RiskContext:
    """A snapshot of everything a pre-trade check may consult."""

    account: Account
    clock: MarketClock
    positions: Mapping[Symbol, Position] = attrs.field(factory=dict)
    marks: Mapping[Symbol, Decimal] = attrs.field(factory=dict)
    assets: Mapping[Symbol, Asset] = attrs.field(factory=dict)
    open_orders: Sequence[Order] = ()
    """Our open orders in the request's symbol, including those not yet sent."""
    working: Mapping[Symbol, Mapping[OrderId, Order]] = attrs.field(factory=dict)
    """All our open orders, by symbol: what they would add if they filled counts as exposure."""
    day_trades: DayTrades = DayTrades()
    trading_state: TradingState = TradingState.ACTIVE
    _sizing: list[Sizing] = attrs.field(factory=list, init=False, eq=False, repr=False)
    """The last request sized (`sizing`), if any: every rule asks about the same one."""

    @classmethod
    def of(
        cls,
        *,
        account: Account,
        clock: MarketClock,
        positions: Mapping[Symbol, Position],
        marks: Mapping[Symbol, Decimal],
        assets: Mapping[Symbol, Asset],
        open_orders: Sequence[Order],
        working: Mapping[Symbol, Mapping[OrderId, Order]],
        day_trades: DayTrades,
        trading_state: TradingState,
    ) -> RiskContext:
        """`RiskContext(...)` given every field, for the engine's context per order."""
        return cls(
            account=account,
            clock=clock,
            positions=positions,
            marks=marks,
            assets=assets,
            open_orders=open_orders,
            working=working,
            day_trades=day_trades,
            trading_state=trading_state,
        )

    @property
    def today(self) -> date:
        return self.clock.timestamp.astimezone(EASTERN).date()

    def held(self, symbol: Symbol) -> Decimal:
        position = self.positions.get(symbol)
        return position.quantity if position is not None else ZERO

    def open_position_count(self) -> int:
        """Symbols with an open position, or with open orders that would open one if they filled."""
        held = {s for s, p in self.positions.items() if p.is_open}
        return len(held) + sum(1 for s, orders in self.working.items() if orders and s not in held)

    def exposure(self, symbol: Symbol) -> Decimal:
        """Absolute market value in `symbol` at its mark (or average entry), if its open orders filled.

        Of the two ways they could go (every buy filled, or every sell), the larger.
        """
        position = self.positions.get(symbol)
        orders = self.working.get(symbol)
        if not orders:
            return ZERO if position is None else _held_value(position, self.marks.get(symbol))
        held = position.quantity if position is not None else ZERO
        buys, sells = _pending(orders.values())
        worst = max(abs(held + buys), abs(held - sells))
        mark = self.marks.get(symbol)
        if mark is None:
            mark = position.average_entry_price if position is not None and held else _order_price(orders.values())
        return worst * mark

    def sector_of(self, symbol: Symbol) -> str | None:
        asset = self.assets.get(symbol)
        return asset.sector if asset is not None else None

    def sector_exposure(self, sector: str, *, excluding: Symbol) -> Decimal:
        """Absolute market value in `sector` (`exposure`, open orders included), leaving `excluding` out."""
        assets, working = self.assets, self.working
        total = ZERO
        symbols = self.positions.keys() | working.keys() if working else self.positions.keys()
        for symbol in symbols:  # held, or with open orders (a symbol whose orders ended adds nothing)
            asset = assets.get(symbol)
            if asset is not None and asset.sector == sector and symbol != excluding:
                total += self.exposure(symbol)
        return total


def _held_value(position: Position, mark: Decimal | None) -> Decimal:
    """The absolute value of `position` at `mark`, or at its average entry without one."""
    if not position.quantity:
        return ZERO
    if mark is None:  # not as get()'s default: that would divide and round on every call
        mark = position.average_entry_price
    return abs(position.quantity * mark)


def _pending(orders: Iterable[Order]) -> tuple[Decimal, Decimal]:
    """The unfilled quantities of `orders` that buy and that sell."""
    buys = sells = ZERO
    for order in orders:
        if order.side is Side.BUY:
            buys += order.quantity - order.filled_quantity
        else:
            sells += order.quantity - order.filled_quantity
    return buys, sells


def _order_price(orders: Iterable[Order]) -> Decimal:
    """A price to value orders at when the symbol has no mark: the highest they name, else zero."""
    return max((o.limit_price or o.stop_price or ZERO for o in orders), default=ZERO)


class Sizing:
    """An order measured against the holding and the mark in its symbol: what the rules ask of it.

    Worked out once per request and context (`sizing`), then read by every rule. A plain slotted
    class rather than an attrs value: one is built for most orders, at a third of the cost.
    """

    __slots__ = ("cost", "mark", "opening", "position", "price", "quantity", "reducing", "request", "value")

    request: OrderRequest
    position: Position | None
    mark: Decimal | None
    """The holding and the mark it was sized against."""
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

    def __init__(
        self, request: OrderRequest, position: Position | None, mark: Decimal | None, pending: Decimal = ZERO
    ) -> None:
        self.request, self.position, self.mark = request, position, mark
        buys = request.side is Side.BUY
        # The holding once our open orders on the same side have filled: each order is sized as
        # if those went first, so orders sent together (or resting) cannot pass a limit that
        # all of them filled would break, and sells only reduce what they have not already sold.
        held = position.quantity if position is not None else ZERO
        if pending:
            held = held + pending if buys else held - pending
        against = bool(held) and (held > 0) != buys  # it reduces the holding, or flips it
        qty = request.quantity
        notional = request.notional if qty is None else None
        if qty is None:
            qty = notional / mark if notional is not None and mark else ZERO
        self.quantity = qty
        self.opening = opening = max(ZERO, qty - abs(held)) if against else qty
        self.reducing = reducing = qty > ZERO and not opening
        price = request.limit_price
        if price is None and request.stop_price is not None and request.type is OrderType.STOP:
            price = max(request.stop_price, mark if mark is not None else ZERO)  # the mark once it is higher
        elif price is None:
            price = mark
        self.price = price
        if price is None or reducing:  # the exposure rules pass both without a cost or a value
            self.cost = self.value = None
        elif notional is None:
            self.cost = opening * price
            self.value = abs(held + (qty if buys else -qty)) * price
        else:  # the notional itself: its quantity at the mark is a rounded quotient
            self.cost = max(ZERO, notional - abs(held) * price) if against else notional
            self.value = abs(held * price + (notional if buys else -notional))


def sizing(request: OrderRequest, ctx: RiskContext) -> Sizing:
    """The order sized against `ctx`: kept for the next rule while the holding and mark are the same."""
    symbol = request.symbol
    position = ctx.positions.get(symbol)
    mark = ctx.marks.get(symbol)
    last = ctx._sizing
    if last and (kept := last[0]).request is request and kept.position is position and kept.mark is mark:
        return kept  # the mappings may be live: a new position or mark is a new object, sized again
    pending = ZERO
    if ctx.open_orders:
        buys, sells = _pending(o for o in ctx.open_orders if o.symbol == symbol)
        pending = buys if request.side is Side.BUY else sells
    sized = Sizing(request, position, mark, pending)
    last[:] = (sized,)
    return sized


def order_quantity(request: OrderRequest, ctx: RiskContext) -> Decimal:
    """The order's quantity; a notional order is valued at the current price."""
    return sizing(request, ctx).quantity


def opening_quantity(request: OrderRequest, ctx: RiskContext) -> Decimal:
    """The part of the order that adds exposure; zero for an order that only reduces."""
    return sizing(request, ctx).opening


def is_reducing(request: OrderRequest, ctx: RiskContext) -> bool:
    """True when the order only reduces an existing position.

    A notional order with no current price has no known size, so it is not shown to reduce.
    """
    return sizing(request, ctx).reducing


def reference_price(request: OrderRequest, ctx: RiskContext) -> Decimal | None:
    """The price the order is valued at: its limit, else its stop, else the current mark."""
    return sizing(request, ctx).price
