"""Market data's answers: bars and a symbol's snapshot, amounts as exact JSON numbers."""

from __future__ import annotations

from datetime import datetime

from apps.service.schema_fields import Amount, _Out


class BarBody(_Out):
    timestamp: datetime
    """The start of the bar's interval."""
    open: Amount
    high: Amount
    low: Amount
    close: Amount
    volume: Amount
    trade_count: int
    vwap: Amount
    """The volume-weighted average price."""


class BarListBody(_Out):
    symbol: str
    timeframe: str
    bars: list[BarBody]


class TradeBody(_Out):
    timestamp: datetime
    price: Amount
    size: Amount


class QuoteBody(_Out):
    timestamp: datetime
    bid: Amount
    ask: Amount


class MarketSnapshotBody(_Out):
    symbol: str
    latest_trade: TradeBody | None = None
    latest_quote: QuoteBody | None = None
    minute_bar: BarBody | None = None
    daily_bar: BarBody | None = None
    previous_daily_bar: BarBody | None = None
