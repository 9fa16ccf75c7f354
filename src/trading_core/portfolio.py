"""The portfolio view: equity, exposure by symbol and by sector, open positions, today's P&L."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import attrs

from trading_core.positions import Position
from trading_core.values import ZERO, Symbol


@attrs.frozen(kw_only=True)
class Portfolio:
    """Positions valued at marks; `cash` and `last_equity` come from the account."""

    cash: Decimal
    positions: Mapping[Symbol, Position]
    marks: Mapping[Symbol, Decimal]
    sectors: Mapping[Symbol, str] = attrs.field(factory=dict)
    last_equity: Decimal = ZERO

    def mark(self, symbol: Symbol) -> Decimal:
        """The latest price, or the average entry when no price is known."""
        price = self.marks.get(symbol)
        if price is not None:
            return price
        position = self.positions.get(symbol)
        return position.average_entry_price if position is not None else ZERO

    @property
    def market_value(self) -> Decimal:
        """Signed: longs add, shorts subtract."""
        return sum((p.market_value(self.mark(s)) for s, p in self.positions.items()), ZERO)

    @property
    def equity(self) -> Decimal:
        """Cash plus the market value of every position."""
        return self.cash + self.market_value

    @property
    def open_positions(self) -> int:
        """How many positions are not flat."""
        return sum(1 for p in self.positions.values() if p.is_open)

    @property
    def daily_pnl(self) -> Decimal:
        """Equity now less equity at the last close."""
        return self.equity - self.last_equity

    def exposure(self, symbol: Symbol) -> Decimal:
        """Absolute market value held in `symbol`."""
        position = self.positions.get(symbol)
        return abs(position.market_value(self.mark(symbol))) if position is not None else ZERO

    def sector_exposure(self, sector: str) -> Decimal:
        """Absolute market value held across the symbols of `sector`."""
        return sum(
            (self.exposure(s) for s, sec in self.sectors.items() if sec == sector and s in self.positions),
            ZERO,
        )

    @property
    def unrealized_pnl(self) -> Decimal:
        """What the open positions would realise at their marks."""
        return sum((p.unrealized_pnl(self.mark(s)) for s, p in self.positions.items()), ZERO)
