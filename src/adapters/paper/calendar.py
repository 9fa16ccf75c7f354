"""When the regular session next opens and closes: weekdays, 9:30 to 16:00 New York time.

Holidays and early closes are not modelled; the exchange's own open/closed flag, moved by
`open_market()` and `close_market()`, is what decides whether orders execute.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from trading_core.market import EASTERN

OPEN = time(9, 30)
CLOSE = time(16, 0)
_SATURDAY = 5


def _next_weekday_at(moment: datetime, at: time, *, strictly_after: bool) -> datetime:
    local = moment.astimezone(EASTERN)
    day = local.date()
    while True:
        candidate = datetime.combine(day, at, tzinfo=EASTERN)
        later = candidate > local if strictly_after else candidate >= local
        if day.weekday() < _SATURDAY and later:
            return candidate.astimezone(UTC)
        day += timedelta(days=1)


def next_open_and_close(now: datetime, *, is_open: bool) -> tuple[datetime, datetime]:
    """The next open after `now`, and the close of the session that is open or opens next."""
    next_open = _next_weekday_at(now, OPEN, strictly_after=True)
    if is_open:
        next_close = _next_weekday_at(now, CLOSE, strictly_after=False)
    else:
        next_close = _next_weekday_at(next_open, CLOSE, strictly_after=False)
    return next_open, next_close
