"""The stream misbehaves in the middle of partial fills; the engine still ends with the broker's books.

Each test runs the engine on the adapter (in-memory store, trade updates applied as they arrive)
while the simulator drops, silences, repeats or reorders the stream, then compares the engine's
orders (status, filled quantity, average price), fills and positions with the simulator's.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from adapters.alpaca.broker import AlpacaBroker
from apps.alpaca_sim import SimServer
from tests.contract.alpaca.support import assert_same_books, settled
from trading_core.engine import TradingEngine
from trading_core.enums import OrderStatus, OrderType, Side
from trading_core.ports import OrderFilter
from trading_core.requests import OrderRequest

PARTS = {"kind": "partial_fills", "sizes": ["3", "2", "1"]}
"""Every executing order fills 3, 2 and 1 shares, then the rest: five messages with `new`."""


async def _buy(engine: TradingEngine, symbol: str, quantity: str) -> None:
    result = await engine.submit(
        OrderRequest.create(symbol=symbol, side=Side.BUY, type=OrderType.MARKET, quantity=Decimal(quantity))
    )
    assert result.order.status is not OrderStatus.REJECTED, result.order.rejection_reason


@pytest.mark.parametrize("after", [1, 2, 3, 4])
async def test_a_stream_drop_in_the_middle_of_partial_fills_loses_and_doubles_nothing(
    engine: TradingEngine, broker: AlpacaBroker, alpaca_sim: SimServer, after: int
) -> None:
    alpaca_sim.set_faults(PARTS, {"kind": "stream_drop_after", "messages": after, "count": 1})

    await _buy(engine, "AAPL", "10")
    await settled(engine, alpaca_sim)

    assert broker.stream.connections == 2
    assert broker.stream.backfills == 2
    await assert_same_books(engine, alpaca_sim)


async def test_drops_across_many_orders(engine: TradingEngine, broker: AlpacaBroker, alpaca_sim: SimServer) -> None:
    alpaca_sim.set_faults(PARTS, {"kind": "stream_drop_after", "messages": 3})

    for symbol in ("AAPL", "MSFT", "KO", "XOM", "JPM"):
        await _buy(engine, symbol, "10")
    await settled(engine, alpaca_sim, within=20)

    assert broker.stream.connections >= 3
    await assert_same_books(engine, alpaca_sim)


async def test_a_silent_stream_is_found_out_and_what_it_held_is_recovered(
    engine: TradingEngine, broker: AlpacaBroker, alpaca_sim: SimServer
) -> None:
    """The socket stays open and answers pings, but sends no update for 5 seconds."""
    alpaca_sim.set_faults(PARTS, {"kind": "stream_silent", "seconds": 5})

    await _buy(engine, "AAPL", "10")
    await settled(engine, alpaca_sim, within=4)  # well before the silence ends by itself

    assert broker.stream.silences == 1
    await assert_same_books(engine, alpaca_sim)


async def test_silence_while_nothing_is_owed_causes_no_reconnection(
    engine: TradingEngine, broker: AlpacaBroker, alpaca_sim: SimServer
) -> None:
    await _buy(engine, "AAPL", "1")
    await settled(engine, alpaca_sim)
    sent = broker.rest.sent

    await asyncio.sleep(1.5)  # several silence windows with nothing open

    assert broker.stream.connections == 1
    assert broker.rest.sent == sent


async def test_duplicated_updates_are_applied_once(engine: TradingEngine, alpaca_sim: SimServer) -> None:
    alpaca_sim.set_faults(PARTS, {"kind": "duplicate_updates"})

    for symbol in ("AAPL", "MSFT"):
        await _buy(engine, symbol, "10")
    await settled(engine, alpaca_sim)

    await assert_same_books(engine, alpaca_sim)


@pytest.mark.parametrize("window", [2, 3, 5])
async def test_reordered_and_duplicated_updates_are_applied_once_and_in_order(
    engine: TradingEngine, alpaca_sim: SimServer, window: int
) -> None:
    alpaca_sim.set_faults(PARTS, {"kind": "duplicate_updates"}, {"kind": "reorder_updates", "window": window})

    for symbol in ("AAPL", "MSFT", "KO"):
        await _buy(engine, symbol, "10")
    alpaca_sim.set_faults()  # flushes what the reorder rule still holds
    await settled(engine, alpaca_sim)

    await assert_same_books(engine, alpaca_sim)
    for page_order in (await engine.list_orders(status=OrderFilter.ALL, limit=10)).orders:
        fills = await engine.store.list_fills(page_order.id)
        assert len(fills) == 4, "each execution arrives as itself, not merged"
