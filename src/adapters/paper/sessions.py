"""The paper exchange's sessions: opened and closed by hand, or following its calendar."""

from __future__ import annotations

from datetime import date

from adapters.paper.config import PaperConfig
from adapters.paper.venue import Venue
from trading_core.clock import Clock
from trading_core.market import Session, eastern_date
from trading_core.market_hours import market_clock


class SessionControls:
    """How a `PaperExchange` (its base class) moves between sessions."""

    config: PaperConfig
    _clock: Clock
    _venue: Venue
    _session_day: date | None
    """The New York date of the last session followed: a later one means a close came between."""

    def open_market(self) -> None:
        """Open the session: route the orders accepted while closed, then match every book.

        Raises:
            RuntimeError: The exchange follows a calendar, which alone opens and closes it.
        """
        self._manual_session()
        self._venue.open()

    def close_market(self) -> None:
        """Close the session: execute `cls` orders, expire day orders, roll `last_equity`.

        Raises:
            RuntimeError: The exchange follows a calendar, which alone opens and closes it.
        """
        self._manual_session()
        self._venue.close()

    @property
    def calendar_name(self) -> str | None:
        """The calendar the sessions follow (XNYS), None in the always-open mode."""
        calendar = self.config.calendar
        return None if calendar is None else calendar.name

    def follow_calendar(self) -> bool | None:
        """Move to the session the calendar says at the clock's time: pre-market, regular, after-hours, closed.

        In the pre-market (04:00-09:30 ET) and after-hours (to 20:00 ET) sessions only orders with
        `extended_hours` (day limit orders) execute; the others wait for the regular session. A
        day order expires at the regular close, one with `extended_hours` at the after-hours' end.

        A machine suspended over a close (or a timer that woke late) finds another day's session:
        every session ends by 20:00 New York time, so the day's close came between, and it is made
        first (the day's orders expire now, as they would have then).

        Returns True when this opened the regular session, False when it closed it (`cls` orders
        executed, day orders expired), None when the regular session did not change (an extended
        one may have) or there is no calendar. After a close slept through, the answer is the new
        session's: True in a regular one, else False.
        """
        calendar = self.config.calendar
        if calendar is None:
            return None
        now = self._clock.now()
        clock = market_clock(calendar, now)
        venue = self._venue
        day, last_day = eastern_date(now), self._session_day
        slept_through_close = last_day is not None and day != last_day and (venue.is_open or venue.extended)
        if slept_through_close:
            venue.enter(Session.CLOSED)
        was_open = venue.is_open
        venue.enter(clock.session)
        if clock.session is not Session.CLOSED:
            self._session_day = day
        if slept_through_close:
            return clock.is_open
        return None if clock.is_open == was_open else clock.is_open

    def _manual_session(self) -> None:
        if self.config.calendar is not None:
            raise RuntimeError(f"the session follows the {self.config.calendar.name} calendar; it cannot be set")
