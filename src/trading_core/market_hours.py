"""The exchange's calendar as a port, and the market clock worked out from it.

The core knows no holiday: a `MarketCalendar` adapter (the NYSE's, from `exchange_calendars`,
in `adapters.calendar`) says which days trade and when. From it `market_clock` tells whether the
regular session is open, the next open and close and which session (pre-market, regular,
after-hours) an instant falls in, as Alpaca's `/v2/clock` does; `next_change` says when the
regular session next opens or closes, and `next_session_change` when any session (the extended
ones included) starts or ends, for a timer that acts at those instants.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Protocol

import attrs

from trading_core.market import MarketClock, Session, eastern_date

_LOOK_AHEAD_DAYS = 14
"""Days looked at past today for the next session; the NYSE never closes this long, 2001 included."""
_MAX_LOOK_AHEAD_DAYS = 366


class NoSession(ValueError):  # named for what is missing, as LookupError's kin are
    """The calendar has no regular session within a year of the instant asked about (past its range)."""


@attrs.frozen(kw_only=True)
class TradingDay:
    """One day the exchange trades, its instants timezone-aware (UTC).

    Attributes:
        date: The New York date.
        open: The regular session's open (09:30 ET).
        close: The regular session's close (16:00 ET; 13:00 on an early close).
        session_open: The extended session's start (04:00 ET, pre-market).
        session_close: The extended session's end (20:00 ET; four hours after an early close).
    """

    date: date
    open: datetime
    close: datetime
    session_open: datetime
    session_close: datetime

    def session_at(self, moment: datetime) -> Session:
        """Where `moment` falls in this day: pre-market, regular, after-hours, or closed."""
        if self.open <= moment < self.close:
            return Session.REGULAR
        if self.session_open <= moment < self.open:
            return Session.PRE_MARKET
        if self.close <= moment < self.session_close:
            return Session.AFTER_HOURS
        return Session.CLOSED


class MarketCalendar(Protocol):
    """The days an exchange trades and their hours."""

    @property
    def name(self) -> str:
        """The calendar's name, as shown to operators (an ISO 10383 MIC such as XNYS)."""

    def trading_days(self, start: date, end: date) -> Sequence[TradingDay]:
        """The trading days from `start` to `end`, both included, in date order (none outside its range)."""


def market_clock(calendar: MarketCalendar, now: datetime) -> MarketClock:
    """The market clock at `now`: open or not, the next open and close, and the session.

    `next_open` is the first regular open after `now`; `next_close` the close of the session that
    is open, else of the next one (Alpaca's meaning).

    Raises:
        NoSession: The calendar has no session within a year after `now` (a ValueError).
    """
    today, days = _days_around(calendar, now)
    session = Session.CLOSED
    current: TradingDay | None = None
    for day in days:
        if day.date == today:
            session = day.session_at(now)
        if day.open <= now < day.close:
            current = day
    upcoming = next(day for day in days if day.open > now)
    next_close = current.close if current is not None else upcoming.close
    return MarketClock(
        timestamp=now,
        is_open=current is not None,
        next_open=upcoming.open,
        next_close=next_close,
        session=session,
    )


def day_order_expiry(calendar: MarketCalendar, placed_at: datetime, *, extended_hours: bool) -> datetime:
    """When a day order placed at `placed_at` expires: the close of the regular session it trades in
    (the one under way, else the next); with `extended_hours`, the end of that day's after-hours.

    Raises:
        NoSession: The calendar has no session within a year after `placed_at` (a ValueError).
    """
    _, days = _days_around(calendar, placed_at)
    for day in days:
        ends = day.session_close if extended_hours else day.close
        if ends > placed_at:
            return ends
    raise NoSession(f"the {calendar.name} calendar has no session after {placed_at.isoformat()}")


def next_change(calendar: MarketCalendar, now: datetime) -> tuple[datetime, bool]:
    """When the regular session next opens or closes after `now`, and whether that is an open.

    Raises:
        NoSession: The calendar has no session within a year after `now` (a ValueError).
    """
    clock = market_clock(calendar, now)
    if clock.is_open:
        return clock.next_close, False
    return clock.next_open, True


def next_session_change(calendar: MarketCalendar, now: datetime) -> datetime:
    """The next instant after `now` at which the session changes: the pre-market's start, the regular
    open or close, or the after-hours' end.

    Raises:
        NoSession: The calendar has no session within a year after `now` (a ValueError).
    """
    _, days = _days_around(calendar, now)
    return min(
        instant
        for day in days
        for instant in (day.session_open, day.open, day.close, day.session_close)
        if instant > now
    )


def _days_around(calendar: MarketCalendar, now: datetime) -> tuple[date, Sequence[TradingDay]]:
    """Today's New York date, and the trading days from yesterday to at least one opening after `now`."""
    today = eastern_date(now)
    ahead = _LOOK_AHEAD_DAYS
    while True:
        days = calendar.trading_days(today - timedelta(days=1), today + timedelta(days=ahead))
        if any(day.open > now for day in days):
            return today, days
        if ahead >= _MAX_LOOK_AHEAD_DAYS:
            raise NoSession(f"the {calendar.name} calendar has no session in the year after {now.isoformat()}")
        ahead = _MAX_LOOK_AHEAD_DAYS
