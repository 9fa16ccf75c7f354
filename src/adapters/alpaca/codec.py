"""Alpaca's JSON and the core's broker models, both ways, through one private cattrs converter.

JSON is decoded with numbers exact (a JSON number with a fraction becomes a `Decimal`, never a
float), and the converter refuses a float wherever a `Decimal` is expected. What Alpaca may add,
drop or rename is tolerated: unknown members are ignored, members that may be missing or null
(`updated_at`, `qty` of a notional order, the account's `daytrade_count` and
`pattern_day_trader`, which the core does not read) fall back to a stated value, and an order
status we do not know reads as `new` (open) with a warning rather than failing the message.

Alpaca takes and reports share quantities to nine decimal places; the core keeps four (and refuses
finer input of its own). A broker quantity finer than four places is read rounded toward zero:
never more shares than the broker holds. A fill's own quantity is the step between its rounded
cumulative quantities, so an order's fills add up to its rounded filled quantity exactly
(docs/alpaca-adapter.md).

The pieces live in `wire.py` (JSON and the converter), `decoders.py` (Alpaca -> core) and
`bodies.py` (core -> Alpaca); this module is the one the adapter and its tests import.
"""

from __future__ import annotations

from adapters.alpaca.bodies import order_body, replace_body
from adapters.alpaca.decoders import (
    FillActivity,
    LastTrade,
    account,
    asset,
    broker_order,
    clock,
    fill_activity,
    last_trade,
    position,
    quote,
    trade_update,
)
from adapters.alpaca.wire import WireError, decode, encode

__all__ = [
    "FillActivity",
    "LastTrade",
    "WireError",
    "account",
    "asset",
    "broker_order",
    "clock",
    "decode",
    "encode",
    "fill_activity",
    "last_trade",
    "order_body",
    "position",
    "quote",
    "replace_body",
    "trade_update",
]
