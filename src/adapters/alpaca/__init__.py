"""Alpaca: the Broker and MarketData ports over Alpaca's REST API and trade_updates stream.

`AlpacaBroker(client, settings)` is the adapter; `open()` starts its stream, `close()` stops it.
The modules, outside in: `config` (settings), `codec` (Alpaca JSON), `errors` (Alpaca's answers
as our errors), `budget` (the account's request budget), `rest` (retries), `sequencer` (fills
once and in order), `stream` (trade_updates, watchdog, backfill), `market_data` (quotes, bars,
snapshots, assets), `broker` (the ports).
"""

from adapters.alpaca.broker import AlpacaBroker
from adapters.alpaca.budget import Priority, RequestBudget
from adapters.alpaca.config import AlpacaSettings, RateLimit, RetryPolicy, StreamSettings

__all__ = ["AlpacaBroker", "AlpacaSettings", "Priority", "RateLimit", "RequestBudget", "RetryPolicy", "StreamSettings"]
