"""The account's money: cash, the market value of its positions, and what open orders hold."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from adapters.paper.instrument import Instrument
from trading_core.enums import Side
from trading_core.fills import Fill, cash_flow
from trading_core.positions import PositionChange, apply_fill
from trading_core.values import ZERO


class Ledger:
    """Cash and exposure, kept exact and up to date with every fill and price move.

    `market_value` (signed) and `gross_value` (absolute) are sums over the instruments, adjusted
    by each change instead of recomputed, so buying power costs the same with one position or
    a hundred. Decimal sums of four-place products are exact, so nothing drifts.
    """

    __slots__ = ("cash", "gross_value", "last_equity", "market_value", "multiplier", "reserved")

    def __init__(self, cash: Decimal, multiplier: Decimal) -> None:
        self.cash = cash
        self.multiplier = multiplier
        self.market_value = ZERO
        self.gross_value = ZERO
        self.reserved = ZERO
        """Buying power held by open orders for the exposure they would add."""
        self.last_equity = cash

    @property
    def equity(self) -> Decimal:
        """Cash plus the market value of the positions."""
        return self.cash + self.market_value

    @property
    def buying_power(self) -> Decimal:
        """`equity * multiplier - gross position value - held for orders`, never below zero."""
        power = (self.cash + self.market_value) * self.multiplier - self.gross_value - self.reserved
        return power if power > ZERO else ZERO

    def revalue(self, instrument: Instrument) -> None:
        """Bring the sums up to date with the instrument's position and price."""
        value = instrument.position.quantity * instrument.price
        old = instrument.value
        if value != old:
            self.market_value += value - old
            self.gross_value += abs(value) - abs(old)
            instrument.value = value

    def settle(
        self, instrument: Instrument, side: Side, quantity: Decimal, price: Decimal, at: datetime
    ) -> PositionChange:
        """Book one execution: the position moves by the core's own rule, cash by the notional."""
        change = apply_fill(instrument.position, side=side, quantity=quantity, price=price, at=at)
        instrument.position = change.after
        if side is Side.BUY:
            self.cash -= quantity * price
        else:
            self.cash += quantity * price
        self.revalue(instrument)
        return change


def cash_after(starting_cash: Decimal, fills: Iterable[Fill]) -> Decimal:
    """The cash of an account that started with `starting_cash` and then had `fills`, as `settle` books them."""
    return starting_cash + cash_flow(fills)
