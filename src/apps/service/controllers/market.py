"""Market data for operators and scripts: a symbol's bars of a timeframe, and its snapshot (issue #19)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Final

from litestar import Controller, get
from litestar.params import Parameter, QueryParameter

from apps.service.controllers.docs import Engine, errors
from apps.service.controllers.history import INSTANT_PATTERN, aware
from apps.service.market_schemas import BarBody, BarListBody, MarketSnapshotBody, QuoteBody, TradeBody
from apps.service.schema_fields import TICKER_PATTERN
from trading_core.bars import ONE_DAY, Bar, Snapshot

TIMEFRAME_PATTERN: Final = r"^(([1-9]|[1-5][0-9])Min|([1-9]|1[0-9]|2[0-3])Hour|1Day|1Week|(1|2|3|4|6|12)Month)$"
"""Alpaca's timeframes: 1-59 minutes, 1-23 hours, one day, one week, or 1, 2, 3, 4, 6 or 12 months
(Alpaca's data API takes 4 months, which alpaca-py's `TimeFrame` refuses)."""

SymbolPath = Annotated[str, Parameter(pattern=TICKER_PATTERN, max_length=10, description="A ticker (AAPL).")]
TimeframeQuery = Annotated[
    str, QueryParameter(pattern=TIMEFRAME_PATTERN, description="1Min..59Min, 1Hour..23Hour, 1Day, 1Week, 1Month.")
]
InstantQuery = Annotated[str | None, QueryParameter(pattern=INSTANT_PATTERN, description="RFC 3339, with its offset.")]


class MarketController(Controller):
    path = "/api/v1/market/{symbol:str}"
    tags = ["market"]  # noqa: RUF012  # Litestar's declared class attribute

    @get("/bars", responses=errors(404, 422, 502), summary="Bars of a timeframe")
    async def bars(
        self,
        engine: Engine,
        symbol: SymbolPath,
        timeframe: Annotated[
            str,
            QueryParameter(pattern=TIMEFRAME_PATTERN, description="1Min..59Min, 1Hour..23Hour, 1Day, 1Week, 1Month."),
        ] = "1Min",
        start: InstantQuery = None,
        end: InstantQuery = None,
    ) -> BarListBody:
        """The bars that start in [start, end] (today in New York to now by default), oldest first,
        from the broker's market data (the paper exchange's own prices, or Alpaca's data API)."""
        now = engine.now()
        since = aware("start", start) or ONE_DAY.start_of(now)
        bars = await engine.get_bars(symbol, timeframe, since, aware("end", end) or now)
        return BarListBody(symbol=symbol, timeframe=timeframe, bars=[bar_body(b) for b in bars])

    @get("/snapshot", responses=errors(404, 502), summary="A symbol's snapshot")
    async def snapshot(self, engine: Engine, symbol: SymbolPath) -> MarketSnapshotBody:
        """The latest trade and quote, the latest minute bar, the latest daily bar and the one before."""
        return snapshot_body(await engine.get_snapshot(symbol))


def bar_body(bar: Bar) -> BarBody:
    """A bar as the API shows it: its exact figures."""
    return BarBody(
        timestamp=bar.timestamp,
        open=bar.open,
        high=bar.high,
        low=bar.low,
        close=bar.close,
        volume=bar.volume,
        trade_count=bar.trade_count,
        vwap=bar.vwap,
    )


def snapshot_body(snap: Snapshot) -> MarketSnapshotBody:
    """A snapshot, each part left out when there is none."""
    trade, quote = snap.latest_trade, snap.latest_quote
    return MarketSnapshotBody(
        symbol=snap.symbol,
        latest_trade=None
        if trade is None
        else TradeBody(timestamp=trade.timestamp, price=trade.price, size=trade.size),
        latest_quote=None if quote is None else QuoteBody(timestamp=quote.timestamp, bid=quote.bid, ask=quote.ask),
        minute_bar=None if snap.minute_bar is None else bar_body(snap.minute_bar),
        daily_bar=None if snap.daily_bar is None else bar_body(snap.daily_bar),
        previous_daily_bar=None if snap.previous_daily_bar is None else bar_body(snap.previous_daily_bar),
    )


def _trade_body(timestamp: datetime, price: Decimal, size: Decimal) -> TradeBody:
    return TradeBody(timestamp=timestamp, price=price, size=size)
