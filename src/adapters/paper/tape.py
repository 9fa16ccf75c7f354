"""The paper market's tape: every price move is a trade of `LOT` shares, summed up into minute and daily bars.

History starts when the exchange does: its listing prices are the first trades, at the clock's
time then. Nothing is made up for the time before (a range that ends before the start has no
bars), unless `PaperConfig.history_days` asks for made-up sessions before the start day
(`prehistory.py`). Bars are the walk's own prices (and those set by hand), deterministic for a
seed and a clock. The account's fills add no volume: they execute at the price already traded.

Minute bars are kept for `kept_minutes` minutes of trading per symbol, daily bars for ever (one
a day); longer timeframes are made of those (`trading_core.bars.aggregate`), hours of minutes,
weeks and months of days. A walk that moves every symbol every second fills every minute of
every symbol, round the clock, so finished minute bars are kept as columns of machine integers
(prices in ten-thousandths, the core's four places): about 90 bytes a bar, where objects of
Decimals took about 360. The open minute is kept as Decimals, so that a move costs a comparison
or two; it goes into the columns, and into its day's bar, when the next minute opens.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import chain
from typing import Final

from adapters.paper.prehistory import Prehistory
from trading_core.bars import ONE_DAY, ONE_MINUTE, VWAP_PLACES, Bar, Timeframe, TimeframeUnit, aggregate
from trading_core.values import Symbol

__all__ = ["LOT", "Tape"]

LOT: Final = 100
"""Shares of each simulated trade (each price move)."""
_SCALE: Final = 10_000
"""Prices are kept in ten-thousandths of a dollar."""
_DAILY_UNITS: Final = frozenset({TimeframeUnit.DAY, TimeframeUnit.WEEK, TimeframeUnit.MONTH})
_MINUTE: Final = timedelta(minutes=1)
_Prices = tuple[int, int, int, int]
"""Open, high, low and close, in ten-thousandths."""


class _Day:
    """A day's trades so far: its start, prices in ten-thousandths, trades and the sum of their prices."""

    __slots__ = ("close", "high", "low", "open", "start", "total", "trades")

    def __init__(self, start: datetime, prices: _Prices, trades: int, total: int) -> None:
        self.start = start
        self.open, self.high, self.low, self.close = prices
        self.trades, self.total = trades, total

    def joined(self, prices: _Prices, trades: int, total: int) -> _Day:
        """This day with a later minute's trades added (the minute's open is not needed)."""
        _, high, low, close = prices
        joined = (self.open, max(self.high, high), min(self.low, low), close)
        return _Day(self.start, joined, self.trades + trades, self.total + total)

    def bar(self) -> Bar:
        return _bar(self.start, (self.open, self.high, self.low, self.close), self.trades, self.total)


class _Open:
    """The minute still taking trades, kept as Decimals (the columns take it when the next minute opens)."""

    __slots__ = ("close", "day", "end", "high", "low", "open", "start", "total", "trades")

    def __init__(self, at: datetime, price: Decimal) -> None:
        self.start = at.replace(second=0, microsecond=0)
        self.end = self.start + _MINUTE
        self.day = ONE_DAY.start_of(at)  # once a minute: the zone conversion is the costly part
        self.open = self.high = self.low = self.close = self.total = price
        self.trades = 1

    def add(self, price: Decimal) -> None:
        if price > self.high:
            self.high = price
        elif price < self.low:
            self.low = price
        self.close = price
        self.trades += 1
        self.total += price

    def prices(self) -> _Prices:
        return _scaled(self.open), _scaled(self.high), _scaled(self.low), _scaled(self.close)

    def bar(self) -> Bar:
        return _bar(self.start, self.prices(), self.trades, _scaled(self.total))


class _Series:
    """One symbol's open minute, its finished minute bars (the latest `kept`, in columns), and its daily bars."""

    __slots__ = ("close", "current", "days", "high", "kept", "low", "open", "start", "total", "trades")

    def __init__(self, kept: int | None) -> None:
        self.kept = kept
        self.current: _Open | None = None
        self.start = array("q")
        """Each finished bar's minute, in minutes since 1970."""
        self.open, self.high, self.low, self.close = array("q"), array("q"), array("q"), array("q")
        self.trades = array("q")
        self.total: list[int] = []
        """The sum of each bar's trade prices (a Python int: it cannot overflow)."""
        self.days: list[_Day] = []
        """The daily bars of the finished minutes."""

    def record(self, price: Decimal, at: datetime) -> None:
        current = self.current
        if current is not None and at < current.end:  # the same minute (or a clock that went back)
            current.add(price)
            return
        if current is not None:
            self._finish(current)
        self.current = _Open(at, price)

    def _finish(self, minute: _Open) -> None:
        """Move the finished minute into the columns and add it to its day's bar."""
        prices, total = minute.prices(), _scaled(minute.total)
        self.start.append(int(minute.start.timestamp()) // 60)
        for column, value in zip((self.open, self.high, self.low, self.close), prices, strict=True):
            column.append(value)
        self.trades.append(minute.trades)
        self.total.append(total)
        days = self.days
        if days and days[-1].start == minute.day:
            days[-1] = days[-1].joined(prices, minute.trades, total)
        else:
            days.append(_Day(minute.day, prices, minute.trades, total))
        if self.kept is not None and len(self.start) > self.kept + max(1, self.kept // 16):
            self._forget(len(self.start) - self.kept)

    def _forget(self, n: int) -> None:
        for column in (self.start, self.open, self.high, self.low, self.close, self.trades):
            del column[:n]
        del self.total[:n]

    def minutes_from(self, first: datetime) -> Iterator[Bar]:
        """The minute bars from `first` on, the open one last."""
        index = bisect.bisect_left(self.start, int(first.timestamp()) // 60)
        for i in range(index, len(self.start)):
            prices = (self.open[i], self.high[i], self.low[i], self.close[i])
            yield _bar(datetime.fromtimestamp(self.start[i] * 60, UTC), prices, self.trades[i], self.total[i])
        if self.current is not None:
            yield self.current.bar()

    def daily(self) -> list[_Day]:
        """Every day's bar, the open minute's included."""
        current = self.current
        if current is None:
            return list(self.days)
        prices, trades, total = current.prices(), current.trades, _scaled(current.total)
        days = self.days
        if days and days[-1].start == current.day:
            return [*days[:-1], days[-1].joined(prices, trades, total)]
        return [*days, _Day(current.day, prices, trades, total)]


class Tape:
    """The bars of every symbol the exchange prices.

    Args:
        kept_minutes: Minute bars kept per symbol (None: all of them); the oldest go first.
        prehistory: The made-up bars before the exchange's start (`prehistory.py`), or None for none.
    """

    def __init__(self, kept_minutes: int | None, prehistory: Prehistory | None = None) -> None:
        self._kept = kept_minutes
        self._series: dict[Symbol, _Series] = {}
        self._prehistory = prehistory
        self._first: dict[Symbol, Decimal] = {}
        self._before: dict[Symbol, _Series] = {}
        """Each symbol's made-up history, once asked for."""
        """Each symbol's first price (its listing's), which closes its made-up history."""

    def record(self, symbol: Symbol, price: Decimal, at: datetime) -> None:
        """A trade of `LOT` shares at `price` (at most four places), at `at`."""
        series = self._series.get(symbol)
        if series is None:
            series = self._series[symbol] = _Series(self._kept)
            self._first[symbol] = price
        series.record(price, at)

    def bars(self, symbol: Symbol, timeframe: Timeframe, start: datetime, end: datetime) -> list[Bar]:
        """The bars of `timeframe` that start in [start, end], oldest first."""
        series = self._series.get(symbol)
        if series is None:
            return []
        parts = [s for s in (self._made_up(symbol), series) if s is not None]
        first = timeframe.start_of(start)
        if timeframe.unit in _DAILY_UNITS:
            days = (d.bar() for part in parts for d in part.daily() if d.start >= first)
            picked = _starting_within(days, timeframe, start, end)
            return picked if timeframe == ONE_DAY else aggregate(picked, timeframe)
        minutes = chain.from_iterable(part.minutes_from(first) for part in parts)
        picked = _starting_within(minutes, timeframe, start, end)
        return picked if timeframe == ONE_MINUTE else aggregate(picked, timeframe)

    def latest(self, symbol: Symbol) -> tuple[Bar | None, Bar | None, Bar | None]:
        """The latest minute bar, the latest daily bar and the daily bar before it."""
        series = self._series.get(symbol)
        if series is None or series.current is None:
            return None, None, None
        days = series.daily()
        made_up = self._made_up(symbol) if len(days) < 2 else None  # the latest and the one before
        if made_up is not None:
            days = [*made_up.daily()[-1:], *days]
        return series.current.bar(), days[-1].bar(), days[-2].bar() if len(days) > 1 else None

    def _made_up(self, symbol: Symbol) -> _Series | None:
        """The symbol's made-up history as a series of its own, recorded the first time it is asked for."""
        if self._prehistory is None:
            return None
        made = self._before.get(symbol)
        if made is None:
            made = self._before[symbol] = _Series(self._kept)
            for at, price in self._prehistory.trades(symbol, self._first[symbol]):
                made.record(price, at)
        return made


def _starting_within(bars: Iterable[Bar], timeframe: Timeframe, start: datetime, end: datetime) -> list[Bar]:
    """The bars (in time order) whose interval of `timeframe` starts in [start, end]."""
    picked: list[Bar] = []
    for bar in bars:
        bucket = timeframe.start_of(bar.timestamp)
        if bucket > end:
            break
        if bucket >= start:
            picked.append(bar)
    return picked


def _bar(start: datetime, prices: _Prices, trades: int, total: int) -> Bar:
    open_, high, low, close = prices
    return Bar(
        timestamp=start,
        open=_price(open_),
        high=_price(high),
        low=_price(low),
        close=_price(close),
        volume=Decimal(trades * LOT),
        trade_count=trades,
        vwap=(Decimal(total) / (trades * _SCALE)).quantize(VWAP_PLACES),
    )


def _scaled(price: Decimal) -> int:
    """A price of at most four places in ten-thousandths."""
    return int(price * _SCALE)


def _price(scaled: int) -> Decimal:
    """A price in ten-thousandths as a Decimal, in cents when it is a whole number of them."""
    return Decimal(scaled // 100).scaleb(-2) if scaled % 100 == 0 else Decimal(scaled).scaleb(-4)
