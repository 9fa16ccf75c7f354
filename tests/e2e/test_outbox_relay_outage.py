"""NATS goes down while orders fill: the engine keeps trading, the outbox fills, and when NATS returns
every event goes out exactly once, in commit order. A server of this test's own is stopped, never a
shared one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from adapters.codec.events import event_payload
from adapters.memory.store import InMemoryOrderStore
from adapters.nats import NatsEventBus, NatsSettings
from adapters.paper import PaperConfig, PaperExchange
from tests.contract.nats_support import read_stream
from tests.fixtures.nats import EmbeddedNatsServer, isolated_settings
from trading_core import Event, OrderRequest, SubmitStatus, SystemClock
from trading_core.engine import TradingEngine
from trading_core.relay import OutboxRelay

pytestmark = [pytest.mark.nats, pytest.mark.slow]


@pytest.fixture
def settings(private_nats: EmbeddedNatsServer) -> NatsSettings:
    return isolated_settings(private_nats.url)


@pytest.fixture
async def bus(settings: NatsSettings) -> AsyncIterator[NatsEventBus]:
    bus = await NatsEventBus.open(settings)
    yield bus
    await bus.close()


async def reconnected(bus: NatsEventBus) -> None:
    while True:
        if bus.client.is_connected:
            return
        await asyncio.sleep(0.05)


async def buy(engine: TradingEngine, symbol: str, quantity: int) -> None:
    request = OrderRequest.create(symbol=symbol, side="buy", type="market", quantity=quantity)
    assert (await engine.submit(request)).status is SubmitStatus.ACCEPTED


async def test_events_committed_during_an_outage_go_out_once_in_order(
    bus: NatsEventBus, settings: NatsSettings, private_nats: EmbeddedNatsServer
) -> None:
    clock = SystemClock()
    exchange = PaperExchange(clock, config=PaperConfig(starting_cash=Decimal(1_000_000)))
    store = InMemoryOrderStore(payload_of=event_payload)
    engine = TradingEngine(broker=exchange, store=store, clock=clock, market_data=exchange)
    await engine.start()
    committed: list[Event] = []
    engine.subscribe(committed.append)
    relay = OutboxRelay(store, bus)

    await buy(engine, "AAPL", 1)
    await relay.flush()
    private_nats.stop()
    for symbol in ("MSFT", "AAPL", "JPM"):
        await buy(engine, symbol, 2)  # trading goes on without the bus
    async with asyncio.timeout(20):
        assert await relay.relay_once() == 0
    assert relay.last_error is not None

    private_nats.start()
    async with asyncio.timeout(30):
        await reconnected(bus)
        while await relay.flush():
            pass

    stored = await read_stream(bus.client, settings.events_stream)
    assert [s.envelope["id"] for s in stored] == [str(e.event_id) for e in committed]
    assert [s.envelope["type"] for s in stored][:3] == [
        "trade.order.submitted",
        "trade.order.filled",
        "trade.position.opened",
    ]
    assert await relay.flush() == 0
