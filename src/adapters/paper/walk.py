"""The random walk prices take on the paper exchange and in the Alpaca simulator (which serves one).

One step moves a price by a uniform whole number of cents within `volatility_bp` basis points of
it (at least one cent either way), never below one cent. Seeded, so that a run can be replayed.
"""

from __future__ import annotations

import random
from decimal import Decimal

_HUNDRED = Decimal(100)
_BASIS_POINTS = 10_000


class PriceWalk:
    """A seeded random walk of prices, in whole cents.

    Args:
        seed: Seed of the walk's generator.
        volatility_bp: The largest move of one step, in basis points of the price (at least one cent).
    """

    def __init__(self, seed: int, volatility_bp: int) -> None:
        if volatility_bp < 0:
            raise ValueError(f"volatility_bp must not be negative, was {volatility_bp}")
        self._rng = random.Random(seed)  # noqa: S311  # a reproducible price walk, not a secret
        self.volatility_bp = volatility_bp

    def step(self, price: Decimal) -> Decimal:
        """The price one step after `price`."""
        cents = int(price * _HUNDRED)
        width = max(1, cents * self.volatility_bp // _BASIS_POINTS)
        return Decimal(max(1, cents + self._rng.randint(-width, width))).scaleb(-2)
