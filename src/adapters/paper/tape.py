"""The paper market's tape: every price move is a trade of `LOT` shares, summed up into minute and daily bars.

History starts when the exchange does: its listing prices are the first trades, at the clock's
time then; nothing is made up for the time before (a range that ends before the start has no
bars). Bars are therefore the walk's own prices (and those set by hand), deterministic for a
seed and a clock. The account's fills add no volume: they execute at the price already traded.
Minute bars are kept for `kept_minutes` minutes of trading per symbol, daily bars for ever (one
a day); longer timeframes are made of those (`trading_core.bars.aggregate`), hours of minutes,
weeks and months of days.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Final

from trading_core.bars import ONE_DAY, ONE_MINUTE, VWAP_PLACES, Bar, Timeframe, TimeframeUnit, aggregate
from trading_core.values import Symbol

__all__ = ["LOT", "Tape"]

LOT: Final = 100
"""Shares of each simulated trade (each price move)."""
_DAILY_UNITS: Final = frozenset({TimeframeUnit.DAY, TimeframeUnit.WEEK, TimeframeUnit.MONTH})


class _Running:
    """A bar still taking trades."""

    __slots__ = ("close", "high", "low", "notional", "open", "start", "trades", "volume")

    def __init__(self, start: datetime, price: Decimal) -> None:
        self.start = start
        self.open = self.high = self.low = self.close = price
        self.volume = LOT
        self.trades = 1
        self.notional = price * LOT

    def add(self, price: Decimal) -> None:
        if price > self.high:
            self.high = price
        elif price < self.low:
            self.low = price
        self.close = price
        self.volume += LOT
        self.trades += 1
        self.notional += price * LOT

    def bar(self) -> Bar:
        return Bar(
            timestamp=self.start,
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            volume=Decimal(self.volume),
            trade_count=self.trades,
            vwap=(self.notional / self.volume).quantize(VWAP_PLACES),
        )


class _Series:
    """One symbol's minute bars (the latest `kept` of them) and daily bars."""

    __slots__ = ("days", "minutes")

    def __init__(self, kept: int | None) -> None:
        self.minutes: deque[_Running] = deque(maxlen=kept)
        self.days: list[_Running] = []

    def record(self, price: Decimal, at: datetime) -> None:
        minute = at.replace(second=0, microsecond=0)
        minutes = self.minutes
        if minutes and minute <= minutes[-1].start:  # the same minute (or a clock that went back)
            minutes[-1].add(price)
            self.days[-1].add(price)
            return
        minutes.append(_Running(minute, price))
        day = ONE_DAY.start_of(at)  # only when a minute opens: the zone conversion is the costly part
        if self.days and day <= self.days[-1].start:
            self.days[-1].add(price)
        else:
            self.days.append(_Running(day, price))


class Tape:
    """The bars of every symbol the exchange prices.

    Args:
        kept_minutes: Minute bars kept per symbol (None: all of them); the oldest go first.
    """

    def __init__(self, kept_minutes: int | None) -> None:
        self._kept = kept_minutes
        self._series: dict[Symbol, _Series] = {}

    def record(self, symbol: Symbol, price: Decimal, at: datetime) -> None:
        """A trade of `LOT` shares at `price`, at `at`."""
        series = self._series.get(symbol)
        if series is None:
            series = self._series[symbol] = _Series(self._kept)
        series.record(price, at)

    def bars(self, symbol: Symbol, timeframe: Timeframe, start: datetime, end: datetime) -> list[Bar]:
        """The bars of `timeframe` that start in [start, end], oldest first."""
        series = self._series.get(symbol)
        if series is None:
            return []
        daily = timeframe.unit in _DAILY_UNITS
        source: Sequence[_Running] = series.days if daily else series.minutes
        base = ONE_DAY if daily else ONE_MINUTE
        first = bisect.bisect_left(source, timeframe.start_of(start), key=lambda r: r.start)
        picked: list[Bar] = []
        for index in range(first, len(source)):
            running = source[index]
            bucket = timeframe.start_of(running.start)
            if bucket > end:
                break
            if bucket >= start:
                picked.append(running.bar())
        return picked if timeframe == base else aggregate(picked, timeframe)

    def latest(self, symbol: Symbol) -> tuple[Bar | None, Bar | None, Bar | None]:
        """The latest minute bar, the latest daily bar and the daily bar before it."""
        series = self._series.get(symbol)
        if series is None or not series.minutes:
            return None, None, None
        days = series.days
        return (
            series.minutes[-1].bar(),
            days[-1].bar() if days else None,
            days[-2].bar() if len(days) > 1 else None,
        )
