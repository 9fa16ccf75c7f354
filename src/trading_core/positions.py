"""Position math: signed quantity and exact cost basis, realised P&L on reductions, flips.

A position keeps its cost basis exactly (quantity times price has eight places) instead of an
average price, so realised plus unrealised P&L always equals the signed cash flow plus the
marked value, to the last digit. The average entry price is derived and rounded for display.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

import attrs

from trading_core.enums import PositionSide, Side
from trading_core.values import EXACT, FOUR_PLACES, HUNDRED, ZERO, Symbol


@attrs.frozen(kw_only=True)
class Position:
    """A position in one symbol: positive quantity long, negative short, zero flat."""

    symbol: Symbol
    quantity: Decimal
    cost_basis: Decimal
    """Signed: what the open quantity cost (negative for a short, which received cash)."""
    realized_pnl: Decimal = ZERO
    """Realised on reductions since this position was last opened from flat."""
    opened_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def flat(cls, symbol: Symbol) -> Position:
        """No position in `symbol`: nothing held, no cost, no P&L."""
        return cls(symbol=symbol, quantity=ZERO, cost_basis=ZERO)

    @property
    def is_open(self) -> bool:
        """Something is held, long or short."""
        return bool(self.quantity)

    @property
    def side(self) -> PositionSide:
        """Short when the quantity is negative, else long."""
        return PositionSide.SHORT if self.quantity < ZERO else PositionSide.LONG

    @property
    def average_entry_price(self) -> Decimal:
        """The cost basis per share held, at four places (zero when flat)."""
        if not self.quantity:
            return ZERO
        return (self.cost_basis / self.quantity).quantize(FOUR_PLACES, rounding=ROUND_HALF_EVEN)

    def market_value(self, mark: Decimal) -> Decimal:
        """Signed value at `mark`: negative for a short."""
        return self.quantity * mark

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        """What closing the position at `mark` would realise, exactly."""
        return self.quantity * mark - self.cost_basis

    def unrealized_pnl_percent(self, mark: Decimal) -> Decimal:
        """Unrealised P&L as a percent of the absolute cost basis (0 when there is none)."""
        if not self.cost_basis:
            return ZERO
        return (self.unrealized_pnl(mark) * HUNDRED / abs(self.cost_basis)).quantize(FOUR_PLACES)


@attrs.frozen
class PositionChange:
    """What one fill did to a position."""

    before: Position
    after: Position
    realized_pnl: Decimal
    """P&L realised by this fill (zero when it only opened or increased)."""
    closed_leg: Position | None = None
    """On a flip, the old side as it closed (flat, with its final realised P&L)."""

    # `opened` and `closed` are asked of every fill, some twice (its events, the closed position):
    # they read the quantities `Position.is_open` would, without its call.

    @property
    def opened(self) -> bool:
        """The fill opened a position from flat."""
        return not self.before.quantity and bool(self.after.quantity)

    @property
    def closed(self) -> bool:
        """The fill took the position to flat."""
        return bool(self.before.quantity) and not self.after.quantity

    @property
    def flipped(self) -> bool:
        """The fill went through flat to the other side."""
        return self.closed_leg is not None


def apply_fill(position: Position, *, side: Side, quantity: Decimal, price: Decimal, at: datetime) -> PositionChange:
    """Apply one execution of `quantity` at `price` to `position`."""
    delta = quantity if side is Side.BUY else -quantity
    held = position.quantity
    long = held > ZERO
    if not held or long == (delta > ZERO):
        return _increase(position, delta, price, at)
    size = abs(held)
    closing = min(quantity, size)
    if closing == size:
        removed_cost = position.cost_basis
    else:
        removed_cost = (position.cost_basis * closing / size).quantize(EXACT, rounding=ROUND_HALF_EVEN)
    proceeds = price * closing if long else -price * closing
    realized = proceeds - removed_cost
    remaining = held + delta
    if remaining and (remaining > ZERO) != long:  # a flip through zero: reopen the rest
        after = Position(
            symbol=position.symbol,
            quantity=remaining,
            cost_basis=remaining * price,
            realized_pnl=ZERO,
            opened_at=at,
            updated_at=at,
        )
        closed = attrs.evolve(position, quantity=ZERO, cost_basis=ZERO, realized_pnl=position.realized_pnl + realized)
        return PositionChange(position, after, realized, closed)
    after = Position(
        symbol=position.symbol,
        quantity=remaining,
        cost_basis=position.cost_basis - removed_cost,
        realized_pnl=position.realized_pnl + realized,
        opened_at=position.opened_at,
        updated_at=at,
    )
    return PositionChange(position, after, realized)


def _increase(position: Position, delta: Decimal, price: Decimal, at: datetime) -> PositionChange:
    opening = not position.quantity
    after = Position(
        symbol=position.symbol,
        quantity=position.quantity + delta,
        cost_basis=position.cost_basis + delta * price,
        realized_pnl=ZERO if opening else position.realized_pnl,
        opened_at=at if opening else position.opened_at,
        updated_at=at,
    )
    return PositionChange(position, after, ZERO)
