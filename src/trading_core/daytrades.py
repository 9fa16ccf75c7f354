"""A self-imposed day-trade budget, counted from our own fills.

FINRA retired pattern-day-trader counting on 2026-06-04 and Alpaca dropped the account fields on
2026-07-06, so the engine counts for itself. A day trade is an opening fill in a symbol followed,
on the same trading day, by a fill that reduces that position; several reductions after one
opening count once. Trading days are weekdays (exchange holidays are not modelled).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import attrs

from trading_core.positions import PositionChange
from trading_core.values import Symbol

_KEEP_DAYS = 14
"""Calendar days of history kept: enough for any window of up to 10 business days."""


def business_days_back(today: date, count: int) -> date:
    """The first day of the window of `count` business days that ends with `today`."""
    day = today
    remaining = count - 1 if today.weekday() < 5 else count
    while remaining > 0:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            remaining -= 1
    return day


@attrs.frozen
class DayTrades:
    """Day trades made recently, and the symbols opened today that a reduction would day-trade."""

    trading_day: date | None = None
    open_today: frozenset[Symbol] = frozenset()
    counts: tuple[tuple[date, int], ...] = ()
    """Day trades per trading day, oldest first; days older than two weeks are dropped."""

    @classmethod
    def from_dates(cls, dates: Iterable[date], **kwargs: Any) -> DayTrades:
        """Day trades given one date per trade."""
        per_day = Counter(dates)
        return cls(counts=tuple(sorted(per_day.items())), **kwargs)

    @property
    def dates(self) -> tuple[date, ...]:
        """One date per day trade, oldest first."""
        return tuple(d for d, n in self.counts for _ in range(n))

    def count(self, today: date, window_days: int = 5) -> int:
        """Day trades made in the `window_days` business days up to `today`."""
        start = business_days_back(today, window_days)
        return sum(n for d, n in self.counts if start <= d <= today)

    def would_day_trade(self, symbol: Symbol, today: date) -> bool:
        """Whether a reducing fill in `symbol` today would complete a day trade."""
        return self.trading_day == today and symbol in self.open_today

    def record(self, symbol: Symbol, change: PositionChange, day: date) -> DayTrades:
        """Account for one fill's effect on its position, made on trading day `day`."""
        same_day = self.trading_day == day
        open_today = self.open_today if same_day else frozenset()
        counts = self.counts
        held_before = abs(change.before.quantity)
        held_after = abs(change.after.quantity)
        flipped = change.flipped
        if symbol in open_today:
            # Opened today: a reduction (or a flip) day-trades it. A flip opens the other side
            # today, so it stays in the set; grown, the set stays as it is, so that most fills
            # change nothing and return this same value.
            if flipped or held_after < held_before:
                counts = _add_one(counts, day)
                if not flipped:
                    open_today = open_today - {symbol}
        elif flipped or held_after > held_before:  # opened from flat, flipped or grown
            open_today = open_today | {symbol}
        if same_day and open_today is self.open_today and counts is self.counts:
            return self
        return DayTrades(trading_day=day, open_today=open_today, counts=counts)


def _add_one(counts: tuple[tuple[date, int], ...], day: date) -> tuple[tuple[date, int], ...]:
    """Count one more day trade on `day`; O(days kept), never O(trades)."""
    if counts and counts[-1][0] == day:
        return (*counts[:-1], (day, counts[-1][1] + 1))
    return (*((d, n) for d, n in counts if (day - d).days < _KEEP_DAYS), (day, 1))
