"""What the broker tells us about the account, the assets and the market session."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

import attrs

from trading_core.values import ZERO, Symbol

EASTERN = ZoneInfo("America/New_York")
"""US equity sessions are defined in New York time."""


class _EasternDay:
    """The New York day last asked about, as the UTC instants it runs between, and its date."""

    __slots__ = ("span",)

    def __init__(self) -> None:
        never = datetime.min.replace(tzinfo=UTC)
        self.span = (never, never, date.min)  # one tuple, replaced whole: no reader sees half of it


_last_day = _EasternDay()


def eastern_date(moment: datetime) -> date:
    """The New York calendar date of an instant: `moment.astimezone(EASTERN).date()`.

    Converting through the zone costs a few thousand instructions; fills and orders come in time
    order, so most fall in the day of the previous call, which two comparisons confirm.
    """
    start, end, day = _last_day.span
    if moment.tzinfo is not None and start <= moment < end:
        return day
    local = moment.astimezone(EASTERN)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)  # never in a DST gap: those are at 2am
    _last_day.span = (midnight.astimezone(UTC), (midnight + timedelta(days=1)).astimezone(UTC), local.date())
    return local.date()


@attrs.frozen(kw_only=True)
class Account:
    """The broker account's balances and flags."""

    account_id: str
    cash: Decimal
    equity: Decimal
    buying_power: Decimal
    last_equity: Decimal
    """Equity at the previous close: today's P&L is measured from it."""
    multiplier: Decimal = Decimal(1)
    shorting_enabled: bool = True
    trading_blocked: bool = False
    account_blocked: bool = False
    currency: str = "USD"

    @property
    def daily_pnl(self) -> Decimal:
        """Equity gained (or lost, negative) since the previous close."""
        return self.equity - self.last_equity


@attrs.frozen(kw_only=True)
class Asset:
    """A tradable instrument as the broker lists it."""

    symbol: Symbol
    tradable: bool = True
    shortable: bool = True
    fractionable: bool = True
    sector: str | None = None
    name: str = ""
    asset_id: str = ""
    exchange: str = "NASDAQ"


class Session(StrEnum):
    """Where the US equity day is."""

    CLOSED = "closed"
    PRE_MARKET = "pre_market"
    REGULAR = "regular"
    AFTER_HOURS = "after_hours"


@attrs.frozen(kw_only=True)
class MarketClock:
    """The market clock as the broker reports it, plus the extended-hours session."""

    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime
    session: Session = Session.CLOSED

    @property
    def eastern_time(self) -> time:
        """The clock's time of day in New York, where the sessions are defined."""
        return self.timestamp.astimezone(EASTERN).time()


@attrs.frozen(kw_only=True)
class Quote:
    """The latest price of a symbol."""

    symbol: Symbol
    price: Decimal
    timestamp: datetime
    bid: Decimal = ZERO
    ask: Decimal = ZERO
