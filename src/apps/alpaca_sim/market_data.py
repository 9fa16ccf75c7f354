"""Latest trades and quotes, as Alpaca's market-data API (`/v2/stocks/...`) shapes them.

Prices and sizes are JSON numbers here, unlike the trading API. The paper exchange has one price
per symbol, so its quote has no spread (bid = ask = price).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from adapters.paper import PaperExchange
from adapters.paper.tape import LOT as TAPE_LOT
from apps.alpaca_sim import errors, wire
from apps.alpaca_sim.asgi import Request, Response, encoder, json_response
from trading_core.clock import Clock
from trading_core.market import Asset, Quote
from trading_core.values import Symbol


class Market(Protocol):
    """What the market-data endpoints read of the simulation (its `Simulation`)."""

    @property
    def assets(self) -> Mapping[str, Asset]: ...
    @property
    def exchange(self) -> PaperExchange: ...
    @property
    def clock(self) -> Clock: ...


_NUMBERS = encoder(decimals_as_numbers=True)
_TAPES = {"NYSE": "A", "NASDAQ": "C"}
LOT = TAPE_LOT
"""Shares of each simulated trade."""


async def latest_trade(sim: Market, request: Request, symbol: str) -> Response:
    """`GET /v2/stocks/{symbol}/trades/latest`."""
    asset = _one(sim, symbol)
    trade = trade_json(asset, await _quote_of(sim, asset))
    return json_response({"symbol": asset.symbol, "trade": trade}, encoder=_NUMBERS)


async def latest_quote(sim: Market, request: Request, symbol: str) -> Response:
    """`GET /v2/stocks/{symbol}/quotes/latest`."""
    asset = _one(sim, symbol)
    quote = quote_json(asset, await _quote_of(sim, asset))
    return json_response({"symbol": asset.symbol, "quote": quote}, encoder=_NUMBERS)


async def latest_trades(sim: Market, request: Request) -> Response:
    """`GET /v2/stocks/trades/latest?symbols=...`: unknown symbols are left out."""
    trades = {a.symbol: trade_json(a, await _quote_of(sim, a)) for a in _many(sim, request)}
    return json_response({"trades": trades}, encoder=_NUMBERS)


async def latest_quotes(sim: Market, request: Request) -> Response:
    """`GET /v2/stocks/quotes/latest?symbols=...`: unknown symbols are left out."""
    quotes = {a.symbol: quote_json(a, await _quote_of(sim, a)) for a in _many(sim, request)}
    return json_response({"quotes": quotes}, encoder=_NUMBERS)


def trade_json(asset: Asset, quote: Quote) -> dict[str, Any]:
    """A Trade at the quote's price (REST and the market-data stream share it)."""
    return {
        "t": wire.ts(quote.timestamp),
        "x": "V",
        "p": quote.price,
        "s": LOT,
        "c": ["@"],
        "i": int(quote.timestamp.timestamp() * 1_000_000),
        "z": _TAPES.get(asset.exchange, "B"),
    }


def quote_json(asset: Asset, quote: Quote) -> dict[str, Any]:
    """A Quote (REST and the market-data stream share it)."""
    return {
        "t": wire.ts(quote.timestamp),
        "ax": "V",
        "ap": quote.ask,
        "as": 1,
        "bx": "V",
        "bp": quote.bid,
        "bs": 1,
        "c": ["R"],
        "z": _TAPES.get(asset.exchange, "B"),
    }


async def _quote_of(sim: Market, asset: Asset) -> Quote:
    quote = await sim.exchange.latest_quote(Symbol(asset.symbol))
    if quote is None:  # every listed asset is given a price when it is listed
        raise RuntimeError(f"the simulator lists {asset.symbol} but has no price for it")
    return quote


def _one(sim: Market, symbol: str) -> Asset:
    asset = sim.assets.get(symbol)
    if asset is None:
        raise errors.not_found(f"symbol not found: {symbol}")
    return asset


def _many(sim: Market, request: Request) -> list[Asset]:
    symbols = request.query.symbols("symbols")
    if not symbols:
        raise errors.AlpacaError(400, 40010001, "missing symbols")
    return [sim.assets[s] for s in symbols if s in sim.assets]
