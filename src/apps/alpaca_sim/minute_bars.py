"""Minute bars of the simulator's trades, as the market-data stream sends them (`{"T": "b", ...}`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs


@attrs.define
class _Bar:
    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    trades: int
    notional: Decimal


class MinuteBars:
    """The open bar of each symbol; a trade in a later minute finishes it.

    Alpaca sends a minute's bar just after the minute ends. The simulator has no timer: a bar is
    finished (and sent) by the symbol's first trade of a later minute.
    """

    def __init__(self) -> None:
        self._open: dict[str, _Bar] = {}

    def clear(self) -> None:
        self._open.clear()

    def record(self, symbol: str, price: Decimal, size: int, at: datetime) -> dict[str, Any] | None:
        """Count a trade; the finished bar's message when the trade opens a new minute."""
        start = at.replace(second=0, microsecond=0)
        bar = self._open.get(symbol)
        finished = None
        if bar is not None and bar.start != start:
            finished = _message(symbol, bar)
            bar = None
        if bar is None:
            self._open[symbol] = _Bar(start, price, price, price, price, size, 1, price * size)
            return finished
        bar.high, bar.low, bar.close = max(bar.high, price), min(bar.low, price), price
        bar.volume += size
        bar.trades += 1
        bar.notional += price * size
        return finished


def _message(symbol: str, bar: _Bar) -> dict[str, Any]:
    vwap = (bar.notional / bar.volume).quantize(Decimal("0.000001"))
    return {
        "T": "b",
        "S": symbol,
        "o": bar.open,
        "h": bar.high,
        "l": bar.low,
        "c": bar.close,
        "v": bar.volume,
        "t": bar.start,
        "n": bar.trades,
        "vw": vwap,
    }
