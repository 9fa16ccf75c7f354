"""The simulator's session by its calendar: opened and closed at the calendar's instants, by the clock.

Outside the always-open mode the exchange follows the NYSE calendar (`adapters.calendar`). The
session changes at the instant the calendar says, whether or not a request comes: a timer
(`run`, started with the server) sleeps until the next open or close, and every request first
catches up (`SessionFollower.follow`), which costs one comparison of instants until a change is
due, so a test's clock moved by hand is followed at its next request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

from adapters.paper import PaperExchange
from trading_core.clock import Clock
from trading_core.market_hours import MarketCalendar, NoSession, next_session_change

_log = logging.getLogger(__name__)
_NEVER = datetime.max.replace(tzinfo=UTC)


class SessionFollower:
    """When the calendar next changes the session (the extended ones too), and the exchange taken there when it comes.

    Args:
        calendar: The calendar the session follows.
        clock: The simulator's clock.
    """

    def __init__(self, calendar: MarketCalendar, clock: Clock) -> None:
        self.calendar = calendar
        self._clock = clock
        self._due: datetime | None = None

    def forget(self) -> None:
        """Look at the calendar again at the next `follow` (a new exchange was made)."""
        self._due = None

    def follow(self, exchange: PaperExchange) -> bool | None:
        """Open or close `exchange` if the calendar's next instant has come: True opened, False closed,
        None nothing changed."""
        now = self._clock.now()
        if self._due is not None and now < self._due:
            return None
        changed = exchange.follow_calendar()
        try:
            self._due = next_session_change(self.calendar, now)
        except NoSession as e:  # past the calendar's range: the session stays as it is
            _log.error("the simulator's session stops following the calendar: %s", e)
            self._due = _NEVER
        return changed

    def seconds_left(self) -> float:
        """Seconds until the next open or close (0 when it is due or unknown, infinite past the calendar)."""
        if self._due is None:
            return 0.0
        if self._due is _NEVER:
            return float("inf")
        return max(0.0, (self._due - self._clock.now()).total_seconds())


class FollowsCalendar(Protocol):
    """What the timer drives: the simulation, which rolls its closing prices and publishes what changed."""

    sessions: SessionFollower | None

    def follow_calendar(self) -> None: ...

    def publish(self) -> None: ...


async def run(sim: FollowsCalendar, *, sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
    """Follow the calendar until cancelled: at each open and close the session changes and its trade
    updates (day orders expired at the close) go out on the stream. Returns at once in the always-open mode."""
    sessions = sim.sessions
    if sessions is None:
        return
    while True:
        sim.follow_calendar()
        sim.publish()
        left = sessions.seconds_left()
        if left == float("inf"):
            return
        await sleep(left)
