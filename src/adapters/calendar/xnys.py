"""The New York Stock Exchange's calendar (XNYS) from `exchange_calendars`, as the core's `MarketCalendar`.

`exchange_calendars` knows the NYSE's holidays and early closes (13:00 on the day after
Thanksgiving, on Christmas Eve and on July 3rd, when they trade) from its rules, for any year;
it needs pandas, so this adapter lives outside the core and imports it on first use. The extended
session is not in that library: it runs from 04:00 ET to the open and from the close for four
hours (to 20:00 ET, 17:00 after an early close), as Alpaca's calendar shows it.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from trading_core.market import EASTERN
from trading_core.market_hours import TradingDay

FIRST_DAY: Final = date(1970, 1, 1)
LAST_DAY: Final = date(2100, 12, 31)
"""The range the calendar answers for: Alpaca's starts in 1970; the rules carry on to 2100."""

_PRE_MARKET: Final = time(4, 0)
_AFTER_HOURS: Final = timedelta(hours=4)

_lock = threading.Lock()
_built: dict[str, Any] = {}


def _exchange_calendar() -> Any:
    """XNYS from 1970 to 2100, built once per process (about half a second, plus importing pandas)."""
    with _lock:
        calendar = _built.get("XNYS")
        if calendar is None:
            try:
                import exchange_calendars
            except ImportError as e:  # pragma: no cover - the calendar extra is part of the service's
                raise ImportError(
                    "the NYSE calendar needs exchange_calendars: pip install 'trading-engine[calendar]'"
                ) from e
            with warnings.catch_warnings():  # pandas' deprecation notices about the library's own calls
                warnings.simplefilter("ignore")
                calendar = exchange_calendars.get_calendar(
                    "XNYS", start=FIRST_DAY.isoformat(), end=LAST_DAY.isoformat()
                )
            _built["XNYS"] = calendar
        return calendar


class NyseCalendar:
    """The NYSE's trading days and hours: holidays, early closes and the extended session.

    Days before 1970 or after 2100 are outside its range: `trading_days` leaves them out.
    """

    @property
    def name(self) -> str:
        """XNYS, the NYSE's market identifier code."""
        return "XNYS"

    def trading_days(self, start: date, end: date) -> Sequence[TradingDay]:
        """The NYSE's trading days from `start` to `end`, both included, in date order."""
        start, end = max(start, FIRST_DAY), min(end, LAST_DAY)
        if start > end:
            return []
        schedule = _exchange_calendar().schedule.loc[start.isoformat() : end.isoformat()]
        return [
            _trading_day(session.date(), opens.to_pydatetime(), closes.to_pydatetime())
            for session, opens, closes in zip(schedule.index, schedule["open"], schedule["close"], strict=True)
        ]


def _trading_day(day: date, opens: datetime, closes: datetime) -> TradingDay:
    close = closes.astimezone(UTC)
    return TradingDay(
        date=day,
        open=opens.astimezone(UTC),
        close=close,
        session_open=datetime.combine(day, _PRE_MARKET, tzinfo=EASTERN).astimezone(UTC),
        session_close=close + _AFTER_HOURS,
    )
