"""What moves the paper market with time: the price walk on an interval, and the sessions by the calendar.

Both are coroutines that run until cancelled (the service runs them as background jobs). The
sleep is injectable so that a test's clock can be moved by exactly the time waited.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from adapters.paper.exchange import PaperExchange
from trading_core.clock import Clock
from trading_core.market_hours import next_session_change

Sleep = Callable[[float], Awaitable[object]]
SessionListener = Callable[[bool], Awaitable[object]]
"""Told True when the session opened, False when it closed."""


async def run_walk(exchange: PaperExchange, interval: timedelta, *, sleep: Sleep = asyncio.sleep) -> None:
    """Move every price one step of the exchange's random walk every `interval`, until cancelled.

    Raises:
        ValueError: `interval` is not positive.
    """
    seconds = interval.total_seconds()
    if seconds <= 0:
        raise ValueError(f"the walk's interval must be positive, was {interval}")
    while True:
        await sleep(seconds)
        exchange.step_prices()


async def run_sessions(
    exchange: PaperExchange, clock: Clock, *, on_change: SessionListener | None = None, sleep: Sleep = asyncio.sleep
) -> None:
    """Move the exchange's sessions at the calendar's instants, by the clock, until cancelled.

    It wakes at each start and end of the pre-market, regular and after-hours sessions. At a close
    the day orders expire then and there (extended-hours ones at the after-hours' end), whether or
    not anything asks the exchange anything. `on_change` hears each open and close of the regular
    session (the service tells its engine).

    Raises:
        ValueError: The exchange has no calendar (it is in the always-open mode).
        NoSession: The calendar has no session within a year (past its range): nothing is left to follow.
    """
    calendar = exchange.config.calendar
    if calendar is None:
        raise ValueError("the paper exchange has no calendar: its sessions are set by hand")
    while True:
        changed = exchange.follow_calendar()
        if changed is not None and on_change is not None:
            await on_change(changed)
        now = clock.now()
        at = next_session_change(calendar, now)
        await sleep(max(0.0, (at - now).total_seconds()))
