"""Time as a port: the core never reads the wall clock itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the current time, timezone-aware, in UTC."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """The wall clock's time, in UTC."""
        return datetime.now(UTC)


class TestClock:
    """A clock that moves only when told to: for tests and simulations."""

    __test__ = False  # not a pytest test class

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("TestClock needs a timezone-aware start")
        self._now = start

    def now(self) -> datetime:
        """The time the test set."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock on by `delta`; returns the new time."""
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        """Set the clock to `moment`."""
        self._now = moment
