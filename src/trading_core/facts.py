"""Broker facts the engine reads often and the broker changes rarely: the clock, assets and marks.

The account is kept apart (`account_sync`, `account_book`): read once, then moved by our own
fills, holds and marks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs

from trading_core.book import Book
from trading_core.clock import Clock
from trading_core.market import Asset, MarketClock
from trading_core.ports import Broker, MarketData, PushesMarks
from trading_core.values import Symbol


class BrokerFacts:
    """The market clock, assets and marks, fetched when stale.

    The clock is fetched every `clock_ttl`, overridden by session signals in between.
    """

    def __init__(
        self,
        *,
        broker: Broker,
        market_data: MarketData | None,
        clock: Clock,
        book: Book,
        clock_ttl: timedelta,
    ) -> None:
        self._broker = broker
        self._market_data = market_data
        # `is not None` first: mypy takes isinstance on an optional protocol for unreachable
        self._pushes = market_data if market_data is not None and isinstance(market_data, PushesMarks) else None
        self._clock = clock
        self._book = book
        self._clock_ttl = clock_ttl
        self._clock_due_at = datetime.min.replace(tzinfo=UTC)
        self._session_open: bool | None = None

    def fresh_clock(self) -> MarketClock | None:
        """The market clock while the one kept is fresh; None when it is due (`market_clock()` reads it).

        The risk checks ask before every order: answered without a coroutine when it can be.
        """
        clock = self._book.clock
        if clock is None or self._clock.now() >= self._clock_due_at:
            return None
        if self._session_open is not None and clock.is_open != self._session_open:
            return None
        return clock

    async def market_clock(self) -> MarketClock:
        """The broker's market clock, read again every `clock_ttl` or after a session signal."""
        now = self._clock.now()
        book = self._book
        if book.clock is None or now >= self._clock_due_at:
            book.clock = await self._broker.get_clock()
            self._clock_due_at = now + self._clock_ttl
        if self._session_open is not None and book.clock.is_open != self._session_open:
            book.clock = attrs.evolve(book.clock, is_open=self._session_open, timestamp=now)
        return book.clock

    def session_changed(self, is_open: bool) -> None:
        """A session signal arrived: trust it over the cached clock until the next fetch, and read
        the account again (a close rolls its `last_equity`, expires day orders)."""
        self._session_open = is_open
        self._clock_due_at = datetime.min.replace(tzinfo=UTC)
        self._book.account.reread = True

    async def asset(self, symbol: Symbol) -> Asset | None:
        """What the broker knows of `symbol`, read once and kept."""
        asset = self._book.assets.get(symbol)
        if asset is None:
            asset = await self._broker.get_asset(symbol)
            if asset is not None:
                self._book.assets[symbol] = asset
        return asset

    async def mark(self, symbol: Symbol) -> Decimal | None:
        """The latest price: the one pushed while the market data pushes every change of it, else
        asked of the market data when there is a source, else the last fill's."""
        pushes = self._pushes
        if pushes is not None:
            pushed = self._book.pushed_mark(symbol)
            if pushed is not None and pushes.pushing(symbol):
                return pushed
        if self._market_data is not None:
            quote = await self._market_data.latest_quote(symbol)
            if quote is not None:
                self._book.set_mark(symbol, quote.price)
        return self._book.marks.get(symbol)

    async def refresh_marks(self) -> None:
        """The latest price of every symbol held (before the account is read)."""
        for symbol in list(self._book.positions):
            await self.mark(symbol)
