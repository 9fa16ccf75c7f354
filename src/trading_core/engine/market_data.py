"""The engine's market data for strategy code: bars and snapshots from its MarketData port, checked first."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from trading_core.bars import Bar, Snapshot, Timeframe, check_range
from trading_core.clock import Clock
from trading_core.errors import InvalidMarketDataRequest, InvalidOrder, UnknownSymbol
from trading_core.ports import MarketData
from trading_core.values import Symbol


class MarketReader:
    """Reads bars and snapshots for the engine's callers, with their arguments checked before any request.

    Args:
        market_data: where prices come from (the paper exchange, Alpaca's data API).
        clock: the engine's time (the default end of a range of bars).
    """

    def __init__(self, market_data: MarketData, clock: Clock) -> None:
        self._source = market_data
        self._clock = clock

    async def bars(
        self, symbol: str, timeframe: Timeframe | str, start: datetime, end: datetime | None = None
    ) -> list[Bar]:
        """The bars of `symbol` starting in [start, end] (now by default), oldest first.

        Raises:
            InvalidMarketDataRequest: a malformed symbol or timeframe, an end before the start, a naive instant.
            UnknownSymbol: the source does not list `symbol`.
            BrokerError: the source could not be asked.
        """
        sym = _symbol(symbol)
        frame = timeframe if isinstance(timeframe, Timeframe) else Timeframe.parse(timeframe)
        end = end or self._clock.now()
        check_range(start, end)
        return await self._source.get_bars(sym, frame, start, end)

    async def snapshot(self, symbol: str) -> Snapshot:
        """The snapshot of `symbol`.

        Raises:
            InvalidMarketDataRequest: a malformed symbol.
            UnknownSymbol: the source does not list `symbol`.
            BrokerError: the source could not be asked.
        """
        sym = _symbol(symbol)
        found = await self._source.get_snapshots([sym])
        if sym not in found:
            raise UnknownSymbol(f"{sym} is not listed", details={"symbol": str(sym)})
        return found[sym]

    async def snapshots(self, symbols: Iterable[str]) -> dict[Symbol, Snapshot]:
        """The snapshots of the listed symbols among `symbols` (the others are left out).

        Raises:
            InvalidMarketDataRequest: a malformed symbol, or `symbols` a string rather than a list of them.
            BrokerError: the source could not be asked.
        """
        if isinstance(symbols, str):  # a string is iterable too: its letters would be asked, and none found
            raise InvalidMarketDataRequest(
                f"symbols must be a list of symbols, was the string {symbols[:80]!r} (get_snapshot reads one)",
                field="symbols",
            )
        wanted = list(dict.fromkeys(_symbol(s) for s in symbols))
        return await self._source.get_snapshots(wanted) if wanted else {}


def _symbol(text: str) -> Symbol:
    try:
        return Symbol(text)
    except InvalidOrder as e:
        raise InvalidMarketDataRequest(e.message, field="symbol") from e
