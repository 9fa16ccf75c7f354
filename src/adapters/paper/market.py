"""The paper exchange's side of the MarketData port: quotes, bars and snapshots of its own prices."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from adapters.paper.tape import LOT, Tape
from adapters.paper.venue import Venue
from trading_core.bars import Bar, Snapshot, Timeframe, Trade, check_range
from trading_core.errors import UnknownSymbol
from trading_core.market import Quote
from trading_core.values import Symbol


class PaperMarketData:
    """Quotes, bars and snapshots of the prices a `PaperExchange` (its subclass) trades at; see `tape.py`."""

    _venue: Venue
    _tape: Tape

    def _record_prices(self) -> None:
        """Put every listed symbol's current price on the tape (at the exchange's start)."""
        for symbol, inst in self._venue.instruments.items():
            self._tape.record(symbol, inst.price, inst.priced_at)

    async def latest_quote(self, symbol: Symbol) -> Quote | None:
        """The current price, as a quote with no spread (bid = ask = price)."""
        inst = self._venue.instruments.get(symbol)
        if inst is None:
            return None
        last = inst.price
        return Quote(symbol=symbol, price=last, timestamp=inst.priced_at, bid=last, ask=last)

    async def get_bars(self, symbol: Symbol, timeframe: Timeframe, start: datetime, end: datetime) -> list[Bar]:
        """The bars of the exchange's prices since it started (each move a trade of 100 shares).

        Raises:
            InvalidMarketDataRequest: `end` before `start`, or a naive instant.
            UnknownSymbol: the exchange does not list `symbol`.
        """
        check_range(start, end)
        if symbol not in self._venue.instruments:
            raise UnknownSymbol(f"{symbol} is not listed", details={"symbol": str(symbol)})
        return self._tape.bars(symbol, timeframe, start, end)

    async def get_snapshots(self, symbols: Sequence[Symbol]) -> dict[Symbol, Snapshot]:
        """Each listed symbol's snapshot: its price as the latest trade and quote, and its latest bars."""
        found: dict[Symbol, Snapshot] = {}
        for symbol in symbols:
            inst = self._venue.instruments.get(symbol)
            if inst is None:
                continue
            minute, daily, previous = self._tape.latest(symbol)
            last = inst.price
            found[symbol] = Snapshot(
                symbol=symbol,
                latest_trade=Trade(timestamp=inst.priced_at, price=last, size=Decimal(LOT)),
                latest_quote=Quote(symbol=symbol, price=last, timestamp=inst.priced_at, bid=last, ask=last),
                minute_bar=minute,
                daily_bar=daily,
                previous_daily_bar=previous,
            )
        return found
