"""Market data beyond the last price: bars of a timeframe, and a symbol's snapshot, as Alpaca's data API has them.

A `Bar` sums up the trades of one interval (open, high, low, close, volume, trade count, VWAP)
and is stamped with the interval's start. A `Timeframe` is Alpaca's (`1Min`..`59Min`, `1Hour`..
`23Hour`, `1Day`, `1Week`, `1Month`, `2Month`, `3Month`, `4Month`, `6Month`, `12Month`): minute and hour
bars start at whole multiples of their length since the Unix epoch (for lengths that divide the
hour or the day, the same instants in New York); day, week and month bars start at New York
midnight of their first day (weeks on Mondays, months of `n` on months 1, 1 + n, ...).
A `Snapshot` is a symbol's latest trade, latest quote, latest minute bar, latest daily bar and
the daily bar before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final

import attrs

from trading_core.errors import InvalidMarketDataRequest
from trading_core.market import EASTERN, Quote
from trading_core.values import ZERO, Symbol

__all__ = [
    "ONE_DAY",
    "ONE_MINUTE",
    "Bar",
    "Snapshot",
    "Timeframe",
    "TimeframeUnit",
    "Trade",
    "aggregate",
    "check_range",
]

VWAP_PLACES: Final = Decimal("0.000001")
"""A bar's volume-weighted average price is kept to six places."""


class TimeframeUnit(StrEnum):
    """The unit of a timeframe, spelt as Alpaca's `timeframe` parameter spells it."""

    MINUTE = "Min"
    HOUR = "Hour"
    DAY = "Day"
    WEEK = "Week"
    MONTH = "Month"


_ALIASES: Final = {
    "T": TimeframeUnit.MINUTE,
    "H": TimeframeUnit.HOUR,
    "D": TimeframeUnit.DAY,
    "W": TimeframeUnit.WEEK,
    "M": TimeframeUnit.MONTH,
}
_PATTERN: Final = re.compile(r"^(\d{1,3})([A-Za-z]+)$")
_MONTH_AMOUNTS: Final = (1, 2, 3, 4, 6, 12)


@attrs.frozen
class Timeframe:
    """How long each bar is: `amount` units (Alpaca's limits: minutes 1-59, hours 1-23, one day or
    week, months 1, 2, 3, 4, 6 or 12).

    Raises:
        InvalidMarketDataRequest: an amount the unit does not allow (field `timeframe`).
    """

    amount: int
    unit: TimeframeUnit = attrs.field(converter=TimeframeUnit)

    def __attrs_post_init__(self) -> None:
        allowed = {
            TimeframeUnit.MINUTE: range(1, 60),
            TimeframeUnit.HOUR: range(1, 24),
            TimeframeUnit.DAY: (1,),
            TimeframeUnit.WEEK: (1,),
            TimeframeUnit.MONTH: _MONTH_AMOUNTS,
        }[self.unit]
        if isinstance(self.amount, bool) or self.amount not in allowed:
            raise InvalidMarketDataRequest(
                f"a timeframe of {self.unit.value} takes an amount in {_shown(allowed)}, was {self.amount!r}",
                field="timeframe",
            )

    @classmethod
    def parse(cls, text: str) -> Timeframe:
        """Read Alpaca's spelling: `5Min`, `1Hour`, `1Day`, `1Week`, `3Month` (and `5T`, `1H`, `1D`, `1W`, `1M`).

        Raises:
            InvalidMarketDataRequest: not a timeframe Alpaca knows (field `timeframe`).
        """
        match = _PATTERN.match(text.strip()) if isinstance(text, str) else None
        unit_text = match.group(2) if match else ""
        unit = _ALIASES.get(unit_text) or next((u for u in TimeframeUnit if u.value == unit_text), None)
        if match is None or unit is None:
            raise InvalidMarketDataRequest(
                f"timeframe must be like 1Min, 5Min, 1Hour, 1Day, 1Week or 1Month, was {text!r}", field="timeframe"
            )
        return cls(int(match.group(1)), unit)

    def __str__(self) -> str:
        return f"{self.amount}{self.unit.value}"

    def start_of(self, moment: datetime) -> datetime:
        """The start (in UTC) of the bar that `moment`, an aware instant, falls in."""
        if self.unit is TimeframeUnit.MINUTE or self.unit is TimeframeUnit.HOUR:
            seconds = self.amount * (60 if self.unit is TimeframeUnit.MINUTE else 3600)
            epoch = int(moment.timestamp())
            return datetime.fromtimestamp(epoch - epoch % seconds, UTC)
        day = moment.astimezone(EASTERN).date()
        if self.unit is TimeframeUnit.WEEK:
            day -= timedelta(days=day.weekday())
        elif self.unit is TimeframeUnit.MONTH:
            day = day.replace(month=(day.month - 1) // self.amount * self.amount + 1, day=1)
        return datetime.combine(day, time(), tzinfo=EASTERN).astimezone(UTC)


ONE_MINUTE: Final = Timeframe(1, TimeframeUnit.MINUTE)
ONE_DAY: Final = Timeframe(1, TimeframeUnit.DAY)


def _shown(allowed: Iterable[int]) -> str:
    values = list(allowed)
    return f"{values[0]}-{values[-1]}" if isinstance(allowed, range) else ", ".join(map(str, values))


@attrs.frozen(kw_only=True)
class Bar:
    """The trades of one interval summed up; `timestamp` is the interval's start.

    Raises:
        ValueError: prices out of order (the low above the open or close, or the high below
            them), or a negative volume or trade count.
    """

    timestamp: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trade_count: int
    vwap: Decimal
    """The volume-weighted average price (to six places)."""

    def __attrs_post_init__(self) -> None:
        if not (self.low <= min(self.open, self.close) and max(self.open, self.close) <= self.high):
            raise ValueError(
                f"a bar's low <= open, close <= high, was o={self.open} h={self.high} l={self.low} c={self.close}"
            )
        if self.volume < ZERO or self.trade_count < 0:
            raise ValueError(f"a bar's volume and trade count are not negative, was {self.volume}, {self.trade_count}")


@attrs.frozen(kw_only=True)
class Trade:
    """One trade on the tape: when, at what price, how many shares."""

    timestamp: datetime
    price: Decimal
    size: Decimal


@attrs.frozen(kw_only=True)
class Snapshot:
    """What is known of a symbol now, as Alpaca's snapshot holds it; each part None when there is none."""

    symbol: Symbol
    latest_trade: Trade | None = None
    latest_quote: Quote | None = None
    minute_bar: Bar | None = None
    """The latest minute bar (of the last minute that traded)."""
    daily_bar: Bar | None = None
    """The latest daily bar (today's, once today has traded)."""
    previous_daily_bar: Bar | None = None
    """The daily bar before `daily_bar`."""


def aggregate(bars: Iterable[Bar], timeframe: Timeframe) -> list[Bar]:
    """Bars of `timeframe` made of shorter ones, given in time order: the first open, the last close,
    the highest high, the lowest low, volumes and trade counts added, the VWAP weighted by volume."""
    merged: list[Bar] = []
    group: list[Bar] = []
    start: datetime | None = None
    for bar in bars:
        bucket = timeframe.start_of(bar.timestamp)
        if bucket != start and group:
            merged.append(_merge(start or bucket, group))
            group = []
        start = bucket
        group.append(bar)
    if group and start is not None:
        merged.append(_merge(start, group))
    return merged


def _merge(start: datetime, group: list[Bar]) -> Bar:
    volume = sum((b.volume for b in group), ZERO)
    weighted = sum((b.vwap * b.volume for b in group), ZERO)
    return Bar(
        timestamp=start,
        open=group[0].open,
        high=max(b.high for b in group),
        low=min(b.low for b in group),
        close=group[-1].close,
        volume=volume,
        trade_count=sum(b.trade_count for b in group),
        vwap=(weighted / volume).quantize(VWAP_PLACES) if volume else group[-1].close,
    )


def check_range(start: datetime, end: datetime) -> None:
    """Refuse a range of bars that cannot be read: no datetime, a naive instant, or an end before the start.

    Raises:
        InvalidMarketDataRequest: naming `start` or `end`.
    """
    for name, moment in (("start", start), ("end", end)):
        if not isinstance(moment, datetime):  # a string or a date from strategy code names no instant
            raise InvalidMarketDataRequest(
                f"{name} must be a datetime, was {type(moment).__name__}: {str(moment)[:80]}", field=name
            )
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise InvalidMarketDataRequest(f"{name} must carry a time zone, was {moment.isoformat()}", field=name)
    if end < start:
        raise InvalidMarketDataRequest(
            f"end must not be before start, was {end.isoformat()} < {start.isoformat()}", field="end"
        )
