"""Alpaca's market data, as `AlpacaBroker` serves it: the MarketData and PushesMarks ports, and assets.

`AlpacaBroker` inherits these reads: quotes come from the market-data stream (`quotes.py`), and
REST is asked only when the cached quote is not current; bars and snapshots are read from the
data API (`bars.py`) under the data host's own request budget (`rest.data_budget`); an asset is
looked up on the trading API, and so is a symbol whose bars are empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote as quote_path

from adapters.alpaca import codec
from adapters.alpaca.bars import read_bars, read_snapshots
from adapters.alpaca.budget import Priority
from adapters.alpaca.config import AlpacaSettings
from adapters.alpaca.errors import Operation
from adapters.alpaca.quotes import QuoteStream
from adapters.alpaca.reading import parsed
from adapters.alpaca.rest import AlpacaRestClient, Host, Request
from trading_core.bars import Bar, Snapshot, Timeframe, check_range
from trading_core.errors import BrokerError, NotFound, UnknownSymbol
from trading_core.market import Asset, Quote
from trading_core.ports import MarkListener
from trading_core.values import Symbol

__all__ = ["AlpacaMarketData"]


class AlpacaMarketData:
    """The broker's market data, over the clients the broker builds (`AlpacaBroker` sets the attributes)."""

    settings: AlpacaSettings
    rest: AlpacaRestClient
    quotes: QuoteStream
    _known_assets: set[Symbol]

    async def get_asset(self, symbol: Symbol) -> Asset | None:
        """The asset, or None when Alpaca has no such symbol (or it is none Alpaca can look up)."""
        try:
            data = await self._read(f"/v2/assets/{quote_path(str(symbol), safe='')}")
        except NotFound:
            return None
        except BrokerError as e:
            if e.status == 422:  # not a symbol Alpaca can look up
                return None
            raise
        return parsed(codec.asset, data)

    def watch_marks(self, listener: MarkListener) -> None:
        """Call `listener(symbol, price)` with each quote the market-data stream delivers (the mid)."""
        self.quotes.listeners.append(listener)

    def pushing(self, symbol: Symbol) -> bool:
        """While the stream keeps the symbol's quote live (subscribed, connected): `quotes.py`."""
        return self.quotes.live(symbol)

    async def latest_quote(self, symbol: Symbol) -> Quote | None:
        """The market-data stream's quote while it is current (see `quotes.py`), else REST's.

        The symbol is subscribed on the stream from its first request on.
        """
        cached = self.quotes.current(symbol, self.settings.quote_max_age)
        await self.quotes.want((symbol,))
        if cached is not None:
            return cached
        asked_at = self.quotes.now()
        quote = await self._rest_quote(symbol)
        if quote is not None:
            self.quotes.remember(quote, asked_at)
        return quote

    async def _rest_quote(self, symbol: Symbol) -> Quote | None:
        params = {"feed": self.settings.feed} if self.settings.feed else None
        path = f"/v2/stocks/{quote_path(str(symbol), safe='')}/quotes/latest"
        try:
            data = await self.rest.call(
                Request("GET", path, Operation.READ, Priority.SYNC, params=params, host=Host.DATA)
            )
        except NotFound:
            return None
        return parsed(lambda d: codec.quote(symbol, d), data)

    async def get_bars(self, symbol: Symbol, timeframe: Timeframe, start: datetime, end: datetime) -> list[Bar]:
        """Every bar in [start, end] from the data API (`bars.py`), page after page, each a request of
        the data host's budget.

        Raises:
            InvalidMarketDataRequest: `end` before `start`, or a naive instant.
            UnknownSymbol: Alpaca has no bars and no asset of that symbol.
            BrokerError: Alpaca could not be asked.
        """
        check_range(start, end)
        found = await read_bars(self._read_data, symbol, timeframe, start, end, feed=self.settings.feed)
        if found or symbol in self._known_assets:
            return found
        if await self.get_asset(symbol) is None:  # the data API answers an unknown symbol with no bars
            raise UnknownSymbol(f"{symbol} is not an asset Alpaca knows", details={"symbol": str(symbol)})
        self._known_assets.add(symbol)  # asked once: a quiet range polled again costs no trading request
        return found

    async def get_snapshots(self, symbols: Sequence[Symbol]) -> dict[Symbol, Snapshot]:
        """The data API's snapshots of `symbols` (one request of the data host's budget); unknown ones left out."""
        if not symbols:
            return {}
        return await read_snapshots(self._read_data, symbols, feed=self.settings.feed)

    # The two hosts' reads: the trading API's (the broker's reads go through it too) and the data API's.

    async def _read(
        self, path: str, params: Mapping[str, str] | None = None, *, priority: Priority = Priority.SYNC
    ) -> Any:
        return await self.rest.call(Request("GET", path, Operation.READ, priority, params=params))

    async def _read_data(self, path: str, params: Mapping[str, str]) -> Any:
        request = Request("GET", path, Operation.READ, Priority.SYNC, params=params, host=Host.DATA, patient=True)
        return await self.rest.call(request)
