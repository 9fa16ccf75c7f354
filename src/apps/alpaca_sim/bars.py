"""Historical bars and snapshots, as Alpaca's market-data API shapes them, from the paper exchange's tape.

    GET /v2/stocks/{symbol}/bars   {"bars": [Bar], "symbol": ..., "next_page_token": ...}
    GET /v2/stocks/bars?symbols=   {"bars": {symbol: [Bar]}, "next_page_token": ...} (alpaca-py's)
    GET /v2/stocks/snapshots       {symbol: Snapshot} (unknown symbols left out)
    GET /v2/stocks/{symbol}/snapshot  Snapshot with its `symbol`

Bars take `timeframe` (required), `start` (default: the start of today in New York), `end`
(default: now), `limit` (1-10000, default 1000), `page_token`, `sort` (asc, desc); `feed`,
`adjustment`, `asof` and `currency` are accepted and change nothing (one feed, no corporate
actions). The page token is the last bar sent (symbol and time), so a bar that forms while a
client pages is not sent twice. An unknown symbol has no bars (as at Alpaca: no error).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime, time
from typing import Any, Final

from apps.alpaca_sim import errors, wire
from apps.alpaca_sim.asgi import Request, Response, encoder, json_response
from apps.alpaca_sim.market_data import Market, quote_json, trade_json
from trading_core.bars import Bar, Snapshot, Timeframe
from trading_core.errors import InvalidMarketDataRequest
from trading_core.market import EASTERN
from trading_core.values import Symbol

_NUMBERS = encoder(decimals_as_numbers=True)
_MAX_LIMIT: Final = 10_000
_Key = tuple[str, int]
"""A bar's place in a listing: its symbol and its time in microseconds (negated when descending)."""


async def symbol_bars(sim: Market, request: Request, symbol: str) -> Response:
    """`GET /v2/stocks/{symbol}/bars`."""
    page, token = await _page(sim, request, [symbol])
    return json_response({"bars": page.get(symbol, []), "symbol": symbol, "next_page_token": token}, encoder=_NUMBERS)


async def many_bars(sim: Market, request: Request) -> Response:
    """`GET /v2/stocks/bars?symbols=...`."""
    symbols = request.query.symbols("symbols")
    if not symbols:
        raise errors.AlpacaError(400, 40010001, "missing symbols")
    page, token = await _page(sim, request, symbols)
    return json_response({"bars": page, "next_page_token": token}, encoder=_NUMBERS)


async def snapshots(sim: Market, request: Request) -> Response:
    """`GET /v2/stocks/snapshots?symbols=...`: unknown symbols are left out."""
    symbols = request.query.symbols("symbols")
    if not symbols:
        raise errors.AlpacaError(400, 40010001, "missing symbols")
    found = await sim.exchange.get_snapshots([Symbol(s) for s in symbols if s in sim.assets])
    return json_response({s: _snapshot_json(sim, snap) for s, snap in found.items()}, encoder=_NUMBERS)


async def snapshot(sim: Market, request: Request, symbol: str) -> Response:
    """`GET /v2/stocks/{symbol}/snapshot`."""
    found = await sim.exchange.get_snapshots([Symbol(symbol)] if symbol in sim.assets else [])
    if symbol not in found:
        raise errors.not_found(f"symbol not found: {symbol}")
    return json_response({"symbol": symbol, **_snapshot_json(sim, found[Symbol(symbol)])}, encoder=_NUMBERS)


def bar_json(bar: Bar) -> dict[str, Any]:
    """A Bar: `t` its start, `o h l c`, `v` volume, `n` trades, `vw` VWAP (numbers)."""
    volume = int(bar.volume) if bar.volume == bar.volume.to_integral_value() else bar.volume
    return {
        "t": wire.ts(bar.timestamp).replace(".000000Z", "Z"),
        "o": bar.open,
        "h": bar.high,
        "l": bar.low,
        "c": bar.close,
        "v": volume,
        "n": bar.trade_count,
        "vw": bar.vwap,
    }


def _snapshot_json(sim: Market, snap: Snapshot) -> dict[str, Any]:
    asset = sim.assets[snap.symbol]
    quote, trade = snap.latest_quote, snap.latest_trade
    return {
        "latestTrade": trade_json(asset, quote) if quote is not None and trade is not None else None,
        "latestQuote": quote_json(asset, quote) if quote is not None else None,
        "minuteBar": bar_json(snap.minute_bar) if snap.minute_bar else None,
        "dailyBar": bar_json(snap.daily_bar) if snap.daily_bar else None,
        "prevDailyBar": bar_json(snap.previous_daily_bar) if snap.previous_daily_bar else None,
    }


async def _page(sim: Market, request: Request, symbols: Sequence[str]) -> tuple[dict[str, list[Any]], str | None]:
    """One page of the bars asked for, by symbol, and the token of the next page (None on the last)."""
    query = request.query
    timeframe = _timeframe(query.get("timeframe"))
    now = sim.clock.now()
    start = query.timestamp("start") or datetime.combine(now.astimezone(EASTERN).date(), time(), EASTERN)
    end = query.timestamp("end") or now
    if end < start:
        raise errors.unprocessable("end should not be before start")
    limit = query.integer("limit", default=1000, low=1, high=_MAX_LIMIT)
    descending = (query.get("sort") or "asc") == "desc"
    after = _read_token(query.get("page_token"))
    listed: list[tuple[_Key, str, Bar]] = []
    for symbol in sorted(set(symbols)):
        if symbol not in sim.assets:
            continue
        bars = await sim.exchange.get_bars(Symbol(symbol), timeframe, start.astimezone(UTC), end.astimezone(UTC))
        listed.extend((_key(symbol, bar, descending), symbol, bar) for bar in (reversed(bars) if descending else bars))
    remaining = [entry for entry in listed if after is None or entry[0] > after]
    page: dict[str, list[Any]] = {}
    for _, symbol, bar in remaining[:limit]:
        page.setdefault(symbol, []).append(bar_json(bar))
    token = _write_token(remaining[limit - 1][0]) if len(remaining) > limit else None
    return page, token


def _timeframe(text: str | None) -> Timeframe:
    if not text:
        raise errors.AlpacaError(400, 40010001, "missing timeframe")
    try:
        return Timeframe.parse(text)
    except InvalidMarketDataRequest as e:
        raise errors.AlpacaError(400, 40010001, f"invalid timeframe: {text}") from e


def _key(symbol: str, bar: Bar, descending: bool) -> _Key:
    micros = int(bar.timestamp.timestamp() * 1_000_000)
    return symbol, -micros if descending else micros


def _write_token(key: _Key) -> str:
    return base64.urlsafe_b64encode(f"{key[0]}|{key[1]}".encode()).decode()


def _read_token(token: str | None) -> _Key | None:
    if not token:
        return None
    try:
        symbol, _, micros = base64.urlsafe_b64decode(token.encode()).decode().partition("|")
        return symbol, int(micros)
    except ValueError as e:
        raise errors.AlpacaError(400, 40010001, "invalid page_token") from e
