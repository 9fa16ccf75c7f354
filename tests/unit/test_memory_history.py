"""The in-memory store keeps history by default and, bounded (`history=N`), only the N orders that
ended last with their fills: memory stays level however long an in-process engine runs."""

from __future__ import annotations

import gc
import tracemalloc
from datetime import timedelta
from decimal import Decimal

import pytest

from adapters.codec.events import event_payload
from adapters.memory.store import InMemoryOrderStore
from adapters.paper import PaperConfig, PaperExchange
from tests.unit.engine.conftest import GENEROUS, MONDAY_10AM_ET, limit, market
from trading_core import TestClock
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.ports import OrderFilter
from trading_core.relay import OutboxRelay


async def engine_on(store: InMemoryOrderStore) -> tuple[TradingEngine, PaperExchange, TestClock]:
    clock = TestClock(MONDAY_10AM_ET)
    exchange = PaperExchange(clock, config=PaperConfig(starting_cash=Decimal(10**9), closed_order_retention=100))
    engine = TradingEngine(
        broker=exchange, store=store, clock=clock, market_data=exchange, config=EngineConfig(limits=GENEROUS)
    )
    await engine.start()
    exchange.set_price("AAPL", Decimal("100.00"))
    return engine, exchange, clock


async def round_trips(engine: TradingEngine, exchange: PaperExchange, clock: TestClock, count: int) -> None:
    """`count` round trips in AAPL, each buying at 100.00 and selling at 100.50 (+5.00 each)."""
    for _ in range(count):
        exchange.set_price("AAPL", Decimal("100.00"))
        await engine.submit(market("AAPL", "buy", 10))
        exchange.set_price("AAPL", Decimal("100.50"))
        await engine.submit(market("AAPL", "sell", 10))
        clock.advance(timedelta(milliseconds=10))


async def test_by_default_every_order_and_fill_is_kept() -> None:
    store = InMemoryOrderStore(payload_of=event_payload, outbox=False)
    engine, exchange, clock = await engine_on(store)
    await round_trips(engine, exchange, clock, 150)
    assert len(store.tables.orders) == 300
    assert len((await engine.list_fills(limit=500)).fills) == 300


async def test_a_bounded_store_keeps_the_last_orders_that_ended_and_the_days_pnl_whole() -> None:
    store = InMemoryOrderStore(payload_of=event_payload, outbox=False, history=40)
    engine, exchange, clock = await engine_on(store)
    await round_trips(engine, exchange, clock, 150)
    await engine.submit(market("AAPL", "buy", 1))

    kept = await engine.list_orders(status=OrderFilter.ALL, limit=500)
    assert 40 <= len(kept.orders) <= 44  # trimmed a tenth of the bound at a time
    assert kept.orders[0].created_at == engine.now()  # the newest are kept
    fills = (await engine.list_fills(limit=500)).fills
    assert {f.order_id for f in fills} == {o.id for o in kept.orders}
    assert len(store.tables.timeline) == len(store.tables.orders) == len(store.tables.by_client)
    assert len((await engine.history.closed_positions(None, None, None, 500, None)).positions) <= 44
    assert (await engine.realized_pnl()).total == Decimal("750.00")  # 150 round trips of +5.00, all counted


async def test_open_orders_are_never_forgotten() -> None:
    store = InMemoryOrderStore(payload_of=event_payload, outbox=False, history=5)
    engine, exchange, clock = await engine_on(store)
    resting = await engine.submit(limit("AAPL", "buy", 1, "50.00"))
    await round_trips(engine, exchange, clock, 30)
    assert (await engine.get_order(resting.order.id)).status.is_open
    assert [o.id for o in (await engine.list_orders()).orders] == [resting.order.id]


def test_a_bound_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="history must be at least 1"):
        InMemoryOrderStore(payload_of=event_payload, history=0)


async def test_memory_stays_level_with_a_bounded_history() -> None:
    """An engine with a relay: what 300 more round trips add is what 300 first ones left, not more."""
    store = InMemoryOrderStore(payload_of=event_payload, history=50)
    engine, exchange, clock = await engine_on(store)
    relay = OutboxRelay(store, _Sink())
    engine.subscribe(lambda _: relay.wake())

    async def trade(count: int) -> int:
        for _ in range(count // 10):
            await round_trips(engine, exchange, clock, 10)
            await relay.flush()
        gc.collect()
        return tracemalloc.get_traced_memory()[0]

    await trade(300)  # fills every bound: store, exchange, caches
    tracemalloc.start()
    try:
        first = await trade(300)
        second = await trade(300)
    finally:
        tracemalloc.stop()
    assert second - first < 150_000  # ~1.5 MB without the bound (600 orders, their fills, events, snapshots)


class _Sink:
    """A bus that takes every message and keeps none."""

    async def publish(self, message: object) -> None:
        return None
