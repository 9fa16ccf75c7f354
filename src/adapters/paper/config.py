"""The paper exchange's configuration: the account, the listed assets (`listings`), prices and fill behaviour."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import attrs

from adapters.paper.listings import DEFAULT_LISTINGS, Listing
from trading_core.market_hours import MarketCalendar


class AccountType(StrEnum):
    """A cash account trades with its cash only and cannot short; a margin account borrows."""

    CASH = "cash"
    MARGIN = "margin"


_DEFAULT_MULTIPLIER = {AccountType.CASH: Decimal(1), AccountType.MARGIN: Decimal(2)}


def _positive_or_none(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"{attribute.name} must be positive or None, was {value!r}")


def _cash(value: object) -> Decimal:
    """An amount of cash from an int, a numeric string or a Decimal; floats are refused as inexact."""
    if isinstance(value, bool | float) or not isinstance(value, int | str | Decimal):
        raise TypeError(f"starting_cash must be a Decimal, an int or a numeric string, was {type(value).__name__}")
    try:
        cash = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation as e:
        raise ValueError(f"starting_cash must be a number, was {value!r}") from e
    if not cash.is_finite():
        raise ValueError(f"starting_cash must be finite, was {value!r}")
    if cash < 0:
        raise ValueError(f"starting_cash must not be negative, was {value!r}")
    return cash


def _whole(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{attribute.name} must be an int, was {type(value).__name__} {value!r}")


def _count_or_none(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _whole(instance, attribute, value)
    _positive_or_none(instance, attribute, value)


def _calendar(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    # A name ("XNYS", "always-open") is what the service's config takes; here the object is wanted.
    if value is not None and not callable(getattr(value, "trading_days", None)):
        raise TypeError(
            "calendar must be a MarketCalendar such as adapters.calendar.NyseCalendar(), or None for a "
            f"market that is always open; was {type(value).__name__} {value!r}"
        )


@attrs.frozen(kw_only=True)
class PaperConfig:
    """How the paper exchange behaves.

    Attributes:
        starting_cash: The account's cash before any trade (and its first `last_equity`).
        account_type: `cash` (multiplier 1, no shorting) or `margin`.
        multiplier: Buying power multiplier; None means 1 for a cash account and 2 for a margin
            account (Regulation T overnight). Alpaca gives margin accounts over $25,000 4x intraday;
            set 4 for that. Buying power is `max(equity * multiplier - gross position value, 0)`
            less what open orders hold.
        shorting_enabled: Whether the account may sell short; None means: margin accounts may.
        seed: Seed of the random walk of prices (ids are random UUIDs, not seeded).
        listings: The assets and their starting prices.
        volatility_bp: The largest move of one `step_prices` step, in basis points of the price
            (at least one cent).
        fill_parts: An order that executes is filled in this many parts (`partial_fill` events
            then `fill`), split in whole shares when its quantity is whole.
        max_fill_quantity: The most shares one order takes at one price; the rest keeps working
            and fills on later price moves (ioc cancels it, fok refuses to start). None: no limit.
        reject_flips: Refuse an order that could take a position through zero in one fill, as
            Alpaca does (code INVALID_ORDER): a sale beyond the long position, a buy beyond the
            short one, or opening one side while orders of the other side are open when flat.
        market_open: Whether the market is open when the exchange starts, without a `calendar`.
        calendar: The exchange's calendar (`adapters.calendar.NyseCalendar`): the session opens and
            closes by it, at the clock's time (`follow_calendar`, `adapters.paper.timers.run_sessions`),
            and `open_market`/`close_market` are refused. None: the always-open mode, where the
            session is opened and closed only by those two calls (demos and tests).
        max_pending_updates: Trade updates kept for a consumer that does not drain them; beyond
            it the oldest are dropped (counted in `dropped_updates`). None: unbounded.
        account_id: The account's id; None: a new random UUID. The service derives it from its
            database, which also keeps the account's cash and positions across restarts.
        minute_bars_kept: Minute bars kept per symbol for `get_bars` (two days of a market that
            moves round the clock, about 90 bytes each: 21 MB for the 82 default listings when
            every one moves every minute); daily bars are all kept. None keeps all.
        history_days: Trading days of made-up history before the start day (`prehistory.py`): the
            walk run backward from the listing prices over that many regular sessions of the
            calendar (the NYSE's without one), so that bars of the past exist from the start.
            0: history starts with the exchange.
        closed_order_retention: How many closed orders to remember (about 500 bytes each), so
            that memory stays bounded over a long run: beyond it the oldest closed orders are
            forgotten, and their client order ids with them. Open orders are always kept. None
            keeps every order, as a real broker does.
    """

    starting_cash: Decimal = attrs.field(default=Decimal(100_000), converter=_cash)
    account_type: AccountType = attrs.field(default=AccountType.MARGIN, converter=AccountType)
    multiplier: Decimal | None = attrs.field(default=None, validator=_positive_or_none)
    shorting_enabled: bool | None = None
    seed: int = attrs.field(default=0, validator=_whole)
    listings: tuple[Listing, ...] = DEFAULT_LISTINGS
    volatility_bp: int = attrs.field(default=10, validator=_whole)
    fill_parts: int = attrs.field(default=1, validator=_whole)
    max_fill_quantity: Decimal | None = attrs.field(default=None, validator=_positive_or_none)
    reject_flips: bool = True
    market_open: bool = True
    calendar: MarketCalendar | None = attrs.field(default=None, eq=False, validator=_calendar)
    max_pending_updates: int | None = attrs.field(default=100_000, validator=_positive_or_none)
    minute_bars_kept: int | None = attrs.field(default=2 * 24 * 60, validator=_count_or_none)
    history_days: int = attrs.field(default=0, validator=_whole)
    closed_order_retention: int | None = attrs.field(default=100_000, validator=_positive_or_none)
    account_id: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.fill_parts < 1:
            raise ValueError(f"fill_parts must be at least 1, was {self.fill_parts}")
        if self.history_days < 0:
            raise ValueError(f"history_days must not be negative, was {self.history_days}")
        if self.volatility_bp < 0:
            raise ValueError(f"volatility_bp must not be negative, was {self.volatility_bp}")
        if self.account_type is AccountType.CASH and self.multiplier not in (None, Decimal(1)):
            raise ValueError(f"a cash account has multiplier 1, was {self.multiplier}")
        if self.account_type is AccountType.CASH and self.shorting_enabled:
            raise ValueError("a cash account cannot sell short")
        symbols = [listing.symbol for listing in self.listings]
        if len(set(symbols)) != len(symbols):
            raise ValueError("listings name a symbol more than once")

    @property
    def effective_multiplier(self) -> Decimal:
        """The buying-power multiplier: the configured one, else the account type's (Alpaca's rule)."""
        return self.multiplier if self.multiplier is not None else _DEFAULT_MULTIPLIER[self.account_type]

    @property
    def can_short(self) -> bool:
        """Whether the account may sell short (a margin account with shorting enabled)."""
        if self.shorting_enabled is not None:
            return self.shorting_enabled
        return self.account_type is AccountType.MARGIN
