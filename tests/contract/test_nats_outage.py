"""NATS goes away and comes back: publishing fails fast meanwhile, then everything goes out once, in order.

These tests stop and restart a server of their own (`private_nats`), never a shared one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable

import pytest

from adapters.codec import EncodedEvent, encode_json
from adapters.nats import NatsCommandConsumer, NatsEventBus, NatsSettings, connect
from tests.contract.lifecycle import lifecycle_events
from tests.contract.nats_support import read_stream
from tests.contract.recording_handler import RecordingHandler
from tests.fixtures.nats import EmbeddedNatsServer, isolated_settings
from trading_core.errors import EventBusError
from trading_core.ports import EventMessage

pytestmark = [pytest.mark.nats, pytest.mark.slow]


@pytest.fixture
def settings(private_nats: EmbeddedNatsServer) -> NatsSettings:
    return isolated_settings(private_nats.url)


@pytest.fixture
async def bus(settings: NatsSettings) -> AsyncIterator[NatsEventBus]:
    bus = await NatsEventBus.open(settings)
    yield bus
    await bus.close()


async def until(condition: Callable[[], bool], within: float = 15.0) -> None:
    async with asyncio.timeout(within):
        while True:
            if condition():
                return
            await asyncio.sleep(0.05)


async def reconnected(bus: NatsEventBus) -> None:
    await until(lambda: bus.client.is_connected)


def bound(settings: NatsSettings) -> float:
    """A generous ceiling for "promptly": a few publish timeouts, far below a relay's patience."""
    return settings.publish_timeout.total_seconds() * 3


class Relay:
    """The relay's loop in miniature: publish the oldest unsent first, stop at the first failure."""

    def __init__(self, bus: NatsEventBus) -> None:
        self.bus = bus
        self.unsent: deque[EventMessage] = deque()

    async def run_once(self) -> None:
        while self.unsent:
            try:
                await self.bus.publish(self.unsent[0])
            except EventBusError:
                return
            self.unsent.popleft()


async def test_publishing_fails_promptly_while_nats_is_down_and_works_when_it_returns(
    bus: NatsEventBus, settings: NatsSettings, private_nats: EmbeddedNatsServer
) -> None:
    first, second = (EncodedEvent(e) for e in lifecycle_events()[:2])
    await bus.publish(first)

    private_nats.stop()
    async with asyncio.timeout(bound(settings)):
        with pytest.raises(EventBusError):
            await bus.publish(second)
        assert await bus.health() == "reconnecting"

    private_nats.start()
    await reconnected(bus)
    await bus.publish(second)
    await bus.publish(first)  # re-sent after an acknowledgement that never came: dropped by JetStream

    stored = await read_stream(bus.client, settings.events_stream)
    assert [s.envelope["id"] for s in stored] == [str(first.event_id), str(second.event_id)]


async def test_a_relay_catches_up_in_order_and_once_after_an_outage(
    bus: NatsEventBus, settings: NatsSettings, private_nats: EmbeddedNatsServer
) -> None:
    events = [EncodedEvent(e) for e in lifecycle_events()]
    relay = Relay(bus)
    relay.unsent.extend(events[:3])
    await relay.run_once()

    private_nats.stop()
    relay.unsent.extend(events[3:])
    async with asyncio.timeout(bound(settings)):
        await relay.run_once()  # the engine keeps trading; the outbox fills
    assert list(relay.unsent) == events[3:]

    private_nats.start()
    await reconnected(bus)
    relay.unsent.appendleft(events[2])  # marked sent or not, a retry of the last one is harmless
    await relay.run_once()

    stored = await read_stream(bus.client, settings.events_stream)
    assert [s.envelope["id"] for s in stored] == [str(e.event_id) for e in events]
    assert relay.unsent == deque()


async def test_the_command_consumer_carries_on_after_a_restart(
    settings: NatsSettings, private_nats: EmbeddedNatsServer
) -> None:
    handler = RecordingHandler()
    client = await connect(settings)
    consumer = NatsCommandConsumer(client, handler, settings)
    await consumer.start()
    try:
        private_nats.stop()
        await until(lambda: not client.is_connected)
        private_nats.start()
        await until(lambda: client.is_connected)

        decision_id = str(uuid.uuid4())
        body = encode_json({"decisionId": decision_id, "approved": False})
        root = settings.publish_prefix.removesuffix(".trade")
        await client.jetstream().publish(f"{root}.ai.decision.generated", body, timeout=5)
        await handler.wait_for(1, within=15)

        assert [d.decision_id for d in handler.decisions] == [decision_id]
    finally:
        await consumer.stop()
        await client.close()
