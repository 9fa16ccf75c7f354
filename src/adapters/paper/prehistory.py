"""Made-up history before the paper exchange started: its walk run backward over earlier sessions.

With `PaperConfig.history_days` set, each listed symbol has minute bars for the regular sessions
of that many trading days before the exchange's start day (by its calendar, else the NYSE's:
holidays and early closes included), so that a strategy can read a month of daily bars the moment
it starts. They are generated backward from the listing price, which closes the last of them:
each minute holds `STEPS` trades of 100 shares, each a step of a walk seeded by the exchange's
seed and the symbol (its own random stream: the same symbols, seed and start day give the same
history, whatever else runs). Each trade is one step from the one before it, the first of a
session from the last of the session before (a night moves the price no more than a trade does).
The tape records them (`tape.py`) the first time a symbol's bars are read (a month of one symbol
is about 8,000 minutes and 30,000 trades: a few tens of milliseconds; 82 symbols read at once, a
few seconds), and keeps them as it keeps its own (minute bars for `minute_bars_kept`).
"""

from __future__ import annotations

import zlib
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Final

from adapters.paper.walk import PriceWalk
from trading_core.bars import ONE_DAY
from trading_core.market_hours import MarketCalendar, TradingDay
from trading_core.values import Symbol

__all__ = ["STEPS", "Prehistory"]

STEPS: Final = 4
"""Trades (walk steps) in each made-up minute."""
_SPACING: Final = timedelta(minutes=1) / STEPS


class Prehistory:
    """The made-up trades of each symbol before `start`.

    Args:
        calendar: Whose regular sessions the history fills.
        start: The exchange's start: the history ends with the trading day before its New York date.
        days: How many trading days.
        seed: The exchange's seed.
        volatility_bp: The walk's largest step, in basis points of the price.
    """

    def __init__(self, calendar: MarketCalendar, start: datetime, *, days: int, seed: int, volatility_bp: int) -> None:
        first_day = ONE_DAY.start_of(start).date()
        self._sessions = _last_sessions(calendar, first_day, days) if days > 0 else []
        self._seed = seed
        self._volatility_bp = volatility_bp

    def trades(self, symbol: Symbol, close: Decimal) -> list[tuple[datetime, Decimal]]:
        """The symbol's made-up trades, oldest first, the last at `close` (its listing price): `STEPS`
        a minute, evenly spaced in it."""
        walk = PriceWalk(zlib.crc32(f"{self._seed}:{symbol}".encode()), self._volatility_bp)
        made: list[tuple[datetime, Decimal]] = []
        price = close
        for session in reversed(self._sessions):
            at = session.close - _SPACING
            while at >= session.open:
                made.append((at, price))
                price = walk.step(price)
                at -= _SPACING
        made.reverse()
        return made


def _last_sessions(calendar: MarketCalendar, before: date, days: int) -> list[TradingDay]:
    """The last `days` trading days before the date `before`, oldest first."""
    sessions = calendar.trading_days(before - timedelta(days=2 * days + 10), before - timedelta(days=1))
    return list(sessions[-days:])
