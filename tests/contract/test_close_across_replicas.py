"""Two engines on one database (two replicas, each with its own pool) take turns closing a position.

Only the store's lock in PostgreSQL stands between them: each engine has its own book and its
own process-local locks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.codec.events import event_payload
from adapters.paper import PaperExchange
from adapters.postgres import PostgresOrderStore
from trading_core import OrderRequest
from trading_core.clock import SystemClock
from trading_core.engine import TradingEngine
from trading_core.enums import Side
from trading_core.ports import OrderFilter
from trading_core.values import Symbol

FIVE = ("AAPL", "AMZN", "KO", "MSFT", "NVDA")


@pytest.fixture
async def stores(postgres_url: str) -> AsyncIterator[tuple[PostgresOrderStore, PostgresOrderStore]]:
    first = await PostgresOrderStore.open(postgres_url, payload_of=event_payload)
    second = await PostgresOrderStore.open(postgres_url, payload_of=event_payload)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_two_engines_closing_the_same_positions_send_one_close_each_to_the_broker(
    stores: tuple[PostgresOrderStore, PostgresOrderStore],
) -> None:
    exchange = PaperExchange(SystemClock())
    first, second = (
        TradingEngine(broker=exchange, store=store, clock=SystemClock(), market_data=exchange) for store in stores
    )
    await first.start()
    for symbol in FIVE:
        await first.submit(OrderRequest.create(symbol=symbol, side="buy", type="market", quantity=4))
    await second.start()  # its book holds the positions too

    results = await asyncio.gather(
        *(engine.close_position(symbol) for symbol in FIVE for engine in (first, second)), return_exceptions=True
    )

    sent = [o for o in await exchange.list_orders(status=OrderFilter.ALL) if o.side is Side.SELL]
    assert sorted((o.symbol, o.quantity) for o in sent) == [(s, 4) for s in FIVE]
    assert await exchange.list_positions() == []
    assert sorted(type(r).__name__ for r in results) == ["PositionNotFound"] * 5 + ["SubmitResult"] * 5


async def test_a_symbol_held_through_one_store_waits_for_the_other(
    stores: tuple[PostgresOrderStore, PostgresOrderStore],
) -> None:
    first, second = stores
    async with first.symbol_lock(Symbol("AAPL")):
        waiting = asyncio.create_task(_hold(second, "AAPL"))
        async with asyncio.timeout(5):
            await _hold(second, "MSFT")  # another symbol does not wait
        await asyncio.sleep(0.2)
        assert not waiting.done()
    async with asyncio.timeout(5):
        await waiting


async def test_a_holder_that_fails_lets_the_symbol_go(stores: tuple[PostgresOrderStore, PostgresOrderStore]) -> None:
    first, second = stores
    with pytest.raises(RuntimeError):
        async with first.symbol_lock(Symbol("AAPL")):
            raise RuntimeError("the close failed")

    async with asyncio.timeout(5):
        await _hold(second, "AAPL")


async def _hold(store: PostgresOrderStore, symbol: str) -> None:
    async with store.symbol_lock(Symbol(symbol)):
        pass
