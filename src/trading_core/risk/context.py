"""What the risk rules look at: the account, the positions, open orders, the session."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs

from trading_core.daytrades import DayTrades
from trading_core.enums import Side, TradingState
from trading_core.market import EASTERN, Account, Asset, MarketClock
from trading_core.orders import Order
from trading_core.positions import Position
from trading_core.protective import unfilled_once
from trading_core.values import ZERO, OrderId, Symbol

# The converters of the mapping fields, one per field for its type (mypy takes a converter's argument
# type as the field's). Each tests for a proxy itself rather than calling `_read_only`: the engine
# hands its book's mappings as proxies already, and one call fewer per field counts per order.


def _positions(positions: Mapping[Symbol, Position]) -> Mapping[Symbol, Position]:
    return positions if isinstance(positions, MappingProxyType) else MappingProxyType(positions)


def _marks(marks: Mapping[Symbol, Decimal]) -> Mapping[Symbol, Decimal]:
    return marks if isinstance(marks, MappingProxyType) else MappingProxyType(marks)


def _assets(assets: Mapping[Symbol, Asset]) -> Mapping[Symbol, Asset]:
    return assets if isinstance(assets, MappingProxyType) else MappingProxyType(assets)


_NOTHING_WORKING: Mapping[Symbol, Mapping[OrderId, Order]] = MappingProxyType({})
"""`working` when no order is open anywhere: one read-only view, rather than one made per order."""


def _working(working: Mapping[Symbol, Mapping[OrderId, Order]]) -> Mapping[Symbol, Mapping[OrderId, Order]]:
    """Open orders by symbol, read-only at both levels."""
    if not working:  # the usual case for market orders, which fill at once
        return _NOTHING_WORKING
    return MappingProxyType({symbol: _read_only(orders) for symbol, orders in working.items()})


def _orders(orders: Iterable[Order]) -> tuple[Order, ...]:
    return tuple(orders)


def _read_only(mapping: Mapping[Any, Any]) -> Mapping[Any, Any]:
    """`mapping` behind a read-only proxy (itself, when it is one already)."""
    return mapping if isinstance(mapping, MappingProxyType) else MappingProxyType(mapping)


@attrs.frozen(kw_only=True)
class RiskContext:
    """A read-only view of what the pre-trade checks may consult about the account and the market.

    A rule cannot change the engine's state through it: the mappings are read-only proxies over
    the ones given, and the open orders a tuple. The engine gives its book's own mappings rather
    than copies per order, so a context shows the book as it stands; the engine builds it and
    runs every check with nothing awaited in between, so the checks of one order see one state.

    Attributes:
        account: The broker account's balances and flags.
        clock: The market clock and session.
        positions: Our open positions, by symbol.
        marks: The latest price of each symbol we know one for.
        assets: The assets we know, by symbol.
        open_orders: Our open orders in the symbol being checked, including those not yet sent.
        working: All our open orders, by symbol: what they would add if they filled counts as exposure.
        day_trades: The day trades made recently (the self-imposed budget's count).
        trading_state: Whether new exposure may be taken (see `TradingState`).
    """

    account: Account
    clock: MarketClock
    positions: Mapping[Symbol, Position] = attrs.field(factory=dict, converter=_positions)
    marks: Mapping[Symbol, Decimal] = attrs.field(factory=dict, converter=_marks)
    assets: Mapping[Symbol, Asset] = attrs.field(factory=dict, converter=_assets)
    open_orders: tuple[Order, ...] = attrs.field(default=(), converter=_orders)
    working: Mapping[Symbol, Mapping[OrderId, Order]] = attrs.field(factory=dict, converter=_working)
    day_trades: DayTrades = DayTrades()
    trading_state: TradingState = TradingState.ACTIVE

    @property
    def today(self) -> date:
        """The New York date of the clock's timestamp: the trading day."""
        return self.clock.timestamp.astimezone(EASTERN).date()

    def held(self, symbol: Symbol) -> Decimal:
        """The signed quantity held in `symbol` (zero when flat)."""
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
        buys, sells = _unfilled(orders.values())
        worst = max(abs(held + buys), abs(held - sells))
        mark = self.marks.get(symbol)
        if mark is None:
            mark = position.average_entry_price if position is not None and held else _order_price(orders.values())
        return worst * mark

    def sector_of(self, symbol: Symbol) -> str | None:
        """The sector of `symbol`'s asset, None when the asset or its sector is unknown."""
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


def _unfilled(orders: Iterable[Order]) -> tuple[Decimal, Decimal]:
    """The unfilled quantities of `orders` that buy and that sell, each exit group's counted once."""
    buys: list[Order] = []
    sells: list[Order] = []
    for order in orders:
        (buys if order.side is Side.BUY else sells).append(order)
    return unfilled_once(buys), unfilled_once(sells)


def _order_price(orders: Iterable[Order]) -> Decimal:
    """A price to value orders at when the symbol has no mark: the highest they name, else zero."""
    return max((o.limit_price or o.stop_price or ZERO for o in orders), default=ZERO)
