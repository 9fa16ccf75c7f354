"""The outbox relay sends what was committed as soon as it is told (`wake()`), not at its next look;
the service tells it for every change the engine commits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adapters.codec import event_payload
from adapters.memory import InMemoryEventBus, InMemoryOrderStore
from adapters.paper import PaperExchange
from apps.bootstrap import build
from tests.contract.builders import new_order, submitted
from tests.service.conftest import settings_with
from trading_core.clock import SystemClock
from trading_core.relay import OutboxRelay
from trading_core.requests import OrderRequest

AN_HOUR = 3600.0
"""The relay's look in these tests: only a wake-up can send anything while they run."""


@asynccontextmanager
async def running(relay: OutboxRelay) -> AsyncIterator[None]:
    task = asyncio.create_task(relay.run(idle_seconds=AN_HOUR))
    await asyncio.sleep(0.05)  # its first look found nothing: it waits
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def published(bus: InMemoryEventBus, count: int) -> list[str]:
    """The types of the first `count` messages, once they are on the bus."""
    enough = asyncio.Event()

    def seen(_: object) -> None:
        if len(bus.messages) >= count:
            enough.set()

    unsubscribe = bus.subscribe(seen)
    seen(None)  # they may be there already
    try:
        await enough.wait()
    finally:
        unsubscribe()
    return bus.types()


async def test_a_woken_relay_sends_what_was_committed_at_once() -> None:
    store = InMemoryOrderStore(payload_of=event_payload)
    bus = InMemoryEventBus()
    relay = OutboxRelay(store, bus)

    async with running(relay):
        sent = asyncio.create_task(published(bus, 3))
        await store.add_orders([], [submitted(new_order()) for _ in range(3)])
        relay.wake()
        types = await asyncio.wait_for(sent, 5)

    assert types == ["trade.order.submitted"] * 3


async def test_the_service_wakes_its_relay_for_every_change_the_engine_commits() -> None:
    bus = InMemoryEventBus()
    container = build(
        settings_with(),
        store=InMemoryOrderStore(payload_of=event_payload),
        broker=PaperExchange(SystemClock()),
        bus=bus,
    )
    await container.open()
    try:
        await container.background.stop("outbox-relay")  # its own relay looks every 0.1 s
        assert container.relay is not None
        async with running(container.relay):
            sent = asyncio.create_task(published(bus, 3))
            await container.engine.submit(OrderRequest.create(symbol="AAPL", side="buy", type="market", quantity="1"))
            types = await asyncio.wait_for(sent, 5)
    finally:
        await container.close()

    assert types == ["trade.order.submitted", "trade.order.filled", "trade.position.opened"]
