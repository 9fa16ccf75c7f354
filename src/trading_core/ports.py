"""The ports: what the engine needs from the outside world, as `typing.Protocol`s.

Adapters implement them (in-memory, paper exchange, Alpaca, PostgreSQL, NATS); the engine only
ever talks to these. The store's ports live in `store_ports` and the broker's in `broker_ports`;
this module holds the market data and the event bus, and names them all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from trading_core.bars import Bar, Snapshot, Timeframe
from trading_core.broker_ports import Broker, RecoversFills, ReportsReconnects
from trading_core.clock import Clock
from trading_core.market import Quote
from trading_core.store_ports import (
    EventMessage,
    FillTotals,
    OrderFilter,
    OrderPage,
    OrderStore,
    OutboxBatch,
    TradingStateRecord,
    UnitOfWork,
)
from trading_core.values import Symbol

__all__ = [
    "Broker",
    "Clock",
    "EventBus",
    "EventMessage",
    "FillTotals",
    "MarkListener",
    "MarketData",
    "OrderFilter",
    "OrderPage",
    "OrderStore",
    "OutboxBatch",
    "PushesMarks",
    "RecoversFills",
    "ReportsReconnects",
    "TradingStateRecord",
    "UnitOfWork",
]


class MarketData(Protocol):
    """Prices: the latest quote, bars of a timeframe, and snapshots (`trading_core.bars`)."""

    async def latest_quote(self, symbol: Symbol) -> Quote | None:
        """The latest quote for `symbol`; None when there is no price for it."""

    async def get_bars(self, symbol: Symbol, timeframe: Timeframe, start: datetime, end: datetime) -> list[Bar]:
        """Every bar of `symbol` in `timeframe` that starts in [start, end] (both inclusive, as at
        Alpaca), oldest first; intervals without a trade have no bar.

        Raises:
            InvalidMarketDataRequest: `end` before `start`, or an instant without a time zone.
            UnknownSymbol: the source does not list `symbol`.
            BrokerError: the source could not be asked.
        """

    async def get_snapshots(self, symbols: Sequence[Symbol]) -> dict[Symbol, Snapshot]:
        """The snapshot of each listed symbol among `symbols`; those the source does not list are left out.

        Raises:
            BrokerError: the source could not be asked.
        """


MarkListener = Callable[[Symbol, Decimal], None]
"""Called with a symbol and its new price; a plain function that must not block."""


@runtime_checkable
class PushesMarks(Protocol):
    """Market data that tells whenever a price changes (the paper exchange, Alpaca's quote stream).

    The engine values what it holds at these prices as they come, so that the account's equity
    follows every symbol's price without a request (or a loop over the symbols) per order; and
    takes a pushed price as the mark of a symbol while `pushing` says it is current.
    """

    def watch_marks(self, listener: MarkListener) -> None:
        """Call `listener(symbol, price)` with every price change from now on."""

    def pushing(self, symbol: Symbol) -> bool:
        """Whether every change of `symbol`'s price is pushed now: then the last one pushed is its
        latest price, and the engine does not ask `latest_quote` for it."""


class EventBus(Protocol):
    """Where events go out to other services."""

    async def publish(self, message: EventMessage) -> None:
        """Publish one message; return only once the bus has it (duplicates by id are dropped)."""
