"""Broker facts the engine reads often and the broker changes rarely, cached with a time to live."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import attrs

from trading_core.book import Book
from trading_core.clock import Clock
from trading_core.market import Account, Asset, MarketClock
from trading_core.ports import Broker, MarketData
from trading_core.values import Symbol


class BrokerFacts:
    """The account, the market clock, assets and marks, fetched when stale.

    The account is refetched after anything fills (the book marks it stale) or when older than
    `account_ttl`; the clock every `clock_ttl`, overridden by session signals in between.
    """

    def __init__(
        self,
        *,
        broker: Broker,
        market_data: MarketData | None,
        clock: Clock,
        book: Book,
        account_ttl: timedelta,
        clock_ttl: timedelta,
    ) -> None:
        self._broker = broker
        self._market_data = market_data
        self._clock = clock
        self._book = book
        self._account_ttl = account_ttl
        self._clock_ttl = clock_ttl
        self._account_at: datetime | None = None
        self._clock_at: datetime | None = None
        self._session_open: bool | None = None

    async def account(self, *, fresh: bool = False) -> Account:
        book = self._book
        now = self._clock.now()
        at = self._account_at
        # Its age is worked out last: after a fill (most orders follow one) it is stale whatever its age.
        if fresh or book.account is None or book.account_stale or at is None or now - at > self._account_ttl:
            book.account = await self._broker.get_account()
            book.account_stale = False
            self._account_at = now
        return book.account

    async def market_clock(self) -> MarketClock:
        now = self._clock.now()
        book = self._book
        if book.clock is None or self._clock_at is None or now - self._clock_at > self._clock_ttl:
            book.clock = await self._broker.get_clock()
            self._clock_at = now
        if self._session_open is not None and book.clock.is_open != self._session_open:
            book.clock = attrs.evolve(book.clock, is_open=self._session_open, timestamp=now)
        return book.clock

    def session_changed(self, is_open: bool) -> None:
        """A session signal arrived: trust it over the cached clock until the next fetch."""
        self._session_open = is_open
        self._clock_at = None

    async def asset(self, symbol: Symbol) -> Asset | None:
        asset = self._book.assets.get(symbol)
        if asset is None:
            asset = await self._broker.get_asset(symbol)
            if asset is not None:
                self._book.assets[symbol] = asset
        return asset

    async def mark(self, symbol: Symbol) -> Decimal | None:
        """The latest price: from market data when there is a source, else the last fill."""
        if self._market_data is not None:
            quote = await self._market_data.latest_quote(symbol)
            if quote is not None:
                self._book.marks[symbol] = quote.price
        return self._book.marks.get(symbol)
