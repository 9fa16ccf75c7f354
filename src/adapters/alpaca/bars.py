"""Bars and snapshots from Alpaca's market-data API, every page of them, under the data host's own budget.

    GET /v2/stocks/{symbol}/bars?timeframe&start&end&limit&page_token&feed&adjustment
        {"bars": [Bar] | null, "symbol": ..., "next_page_token": str | null}
    GET /v2/stocks/snapshots?symbols=A,B&feed
        {"A": Snapshot, ...}   (a symbol Alpaca has nothing for is left out, or null)

A Bar is `{"t", "o", "h", "l", "c", "v", "n", "vw"}` and its prices are JSON numbers (read
exactly, never through a float); a Snapshot holds `latestTrade`, `latestQuote`, `minuteBar`,
`dailyBar` and `prevDailyBar`. Bars are asked `adjustment=raw`: the prices as traded, as fills are.
A page token is followed until Alpaca sends none; each page is one request of the data budget.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any, Final
from urllib.parse import quote as quote_path

import attrs

from adapters.alpaca import codec
from adapters.alpaca.reading import parsed
from adapters.alpaca.wire import WireError, structure
from trading_core.bars import Bar, Snapshot, Timeframe, Trade
from trading_core.errors import BrokerError
from trading_core.values import ZERO, Symbol

__all__ = ["DataRead", "read_bars", "read_snapshots"]

log = logging.getLogger("adapters.alpaca.bars")

DataRead = Callable[[str, Mapping[str, str]], Awaitable[Any]]
"""A GET of the market-data host under its budget: the decoded JSON answer."""

PAGE: Final = 10_000
"""Alpaca's largest page of bars."""
_MAX_PAGES: Final = 1_000
"""A listing of more pages than this (ten million bars) is refused rather than read for ever."""


@attrs.frozen(kw_only=True)
class _BarFields:
    t: datetime
    o: Decimal
    h: Decimal
    l: Decimal  # noqa: E741  # Alpaca's name
    c: Decimal
    v: Decimal = ZERO
    n: int = 0
    vw: Decimal | None = None


def bar(data: Any) -> Bar:
    """One Bar object.

    Raises:
        WireError: it does not have a bar's shape, or its prices are out of order.
    """
    raw = structure(data, _BarFields, "bar")
    try:
        return Bar(
            timestamp=raw.t.astimezone(UTC),
            open=raw.o,
            high=raw.h,
            low=raw.l,
            close=raw.c,
            volume=raw.v,
            trade_count=raw.n,
            vwap=raw.vw if raw.vw is not None else raw.c,
        )
    except ValueError as e:
        raise WireError(f"unreadable bar: {e}") from e


async def read_bars(
    read: DataRead,
    symbol: Symbol,
    timeframe: Timeframe,
    start: datetime,
    end: datetime,
    *,
    feed: str | None,
    page_size: int = PAGE,
) -> list[Bar]:
    """Every bar in [start, end], oldest first, `page_size` a page.

    Raises:
        BrokerError: Alpaca could not be asked, or answered what is not a page of bars.
    """
    params = {
        "timeframe": str(timeframe),
        "start": _instant(start),
        "end": _instant(end),
        "limit": str(page_size),
        "adjustment": "raw",
        "sort": "asc",
    }
    if feed:
        params["feed"] = feed
    path = f"/v2/stocks/{quote_path(str(symbol), safe='')}/bars"
    bars: list[Bar] = []
    for _ in range(_MAX_PAGES):
        page = await read(path, params)
        if not isinstance(page, Mapping):
            raise BrokerError(f"Alpaca answered a {type(page).__name__} where a page of bars belongs")
        bars.extend(parsed(bar, element) for element in page.get("bars") or ())
        token = page.get("next_page_token")
        if not token:
            return bars
        params = {**params, "page_token": str(token)}
    raise BrokerError(f"{symbol}'s bars ran past {_MAX_PAGES} pages; ask a shorter range")


async def read_snapshots(read: DataRead, symbols: Sequence[Symbol], *, feed: str | None) -> dict[Symbol, Snapshot]:
    """The snapshots Alpaca has of `symbols` (one request).

    Raises:
        BrokerError: Alpaca could not be asked, or answered what is not a map of snapshots.
    """
    params = {"symbols": ",".join(dict.fromkeys(str(s) for s in symbols))}
    if feed:
        params["feed"] = feed
    answer = await read("/v2/stocks/snapshots", params)
    if not isinstance(answer, Mapping):
        raise BrokerError(f"Alpaca answered a {type(answer).__name__} where snapshots belong")
    wanted = {str(s): s for s in symbols}
    found: dict[Symbol, Snapshot] = {}
    for name, data in answer.items():
        symbol = wanted.get(name)
        if symbol is not None and data is not None:
            found[symbol] = parsed(partial(_snapshot, symbol), data)
    return found


def _snapshot(symbol: Symbol, data: Any) -> Snapshot:
    if not isinstance(data, Mapping):
        raise WireError(f"a snapshot must be a JSON object, was {type(data).__name__}")
    trade = data.get("latestTrade")
    quote = data.get("latestQuote")
    last = codec.last_trade(symbol, trade) if trade else None
    return Snapshot(
        symbol=symbol,
        latest_trade=Trade(timestamp=last.timestamp, price=last.price, size=last.size) if last else None,
        latest_quote=codec.quote(symbol, {"quote": quote}) if quote else None,
        minute_bar=_optional_bar(data.get("minuteBar")),
        daily_bar=_optional_bar(data.get("dailyBar")),
        previous_daily_bar=_optional_bar(data.get("prevDailyBar")),
    )


def _optional_bar(data: Any) -> Bar | None:
    return bar(data) if data else None


def _instant(moment: datetime) -> str:
    """RFC 3339 in UTC with `Z` (a `+` offset would need escaping in a query)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
