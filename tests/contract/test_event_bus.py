"""The EventBus contract, over the in-memory bus and NATS JetStream alike, plus what only NATS shows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

import pytest

from adapters.codec import EncodedEvent, decode_json, encode_envelope
from adapters.memory.bus import InMemoryEventBus
from adapters.nats import NatsEventBus, NatsSettings
from tests.contract import schemas
from tests.contract.lifecycle import lifecycle_events
from tests.contract.nats_support import exact, read_stream
from tests.fixtures.nats import delete_streams, isolated_settings
from trading_core.errors import EventBusError
from trading_core.ports import EventBus


class Harness(Protocol):
    bus: EventBus

    async def envelopes(self) -> list[dict[str, Any]]:
        """What subscribers of the bus would read, in order."""


class MemoryHarness:
    def __init__(self) -> None:
        self.bus = InMemoryEventBus()

    async def envelopes(self) -> list[dict[str, Any]]:
        return [decode_json(encode_envelope(m)) for m in self.bus.messages]


class NatsHarness:
    def __init__(self, bus: NatsEventBus, settings: NatsSettings) -> None:
        self.bus = bus
        self.settings = settings

    async def envelopes(self) -> list[dict[str, Any]]:
        return [s.envelope for s in await read_stream(self.bus.client, self.settings.events_stream)]


@pytest.fixture(params=["memory", pytest.param("nats", marks=pytest.mark.nats)])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        yield MemoryHarness()
        return
    settings = isolated_settings(request.getfixturevalue("nats_url"))
    bus = await NatsEventBus.open(settings)
    try:
        yield NatsHarness(bus, settings)
    finally:
        await bus.close()
        await delete_streams(settings)


EVENTS = lifecycle_events()


async def test_a_published_event_arrives_in_its_envelope(harness: Harness) -> None:
    event = EVENTS[3]

    await harness.bus.publish(EncodedEvent(event))

    (actual,) = await harness.envelopes()
    assert actual["id"] == str(event.event_id)
    assert actual["type"] == event.TYPE == "trade.order.filled"
    assert actual["source"] == "trading-engine"
    assert actual["specversion"] == "1.0"
    assert actual["data"] == exact(EncodedEvent(event).payload)


async def test_order_is_preserved(harness: Harness) -> None:
    for event in EVENTS:
        await harness.bus.publish(EncodedEvent(event))

    actual = [e["id"] for e in await harness.envelopes()]

    assert actual == [str(e.event_id) for e in EVENTS]


async def test_a_duplicate_event_id_is_delivered_once(harness: Harness) -> None:
    first, second = EVENTS[0], EVENTS[1]

    await harness.bus.publish(EncodedEvent(first))
    await harness.bus.publish(EncodedEvent(second))
    await harness.bus.publish(EncodedEvent(first))  # a relay's retry after a lost acknowledgement

    actual = [e["id"] for e in await harness.envelopes()]
    assert actual == [str(first.event_id), str(second.event_id)]


async def test_what_arrives_keeps_the_schemas(harness: Harness) -> None:
    for event in EVENTS:
        await harness.bus.publish(EncodedEvent(event))

    arrived = await harness.envelopes()

    assert {e["type"] for e in arrived} == {e.TYPE for e in EVENTS}
    for envelope in arrived:
        assert schemas.errors(envelope["type"], envelope) == [], envelope["type"]


@pytest.fixture
async def nats_bus(nats_settings: NatsSettings) -> AsyncIterator[NatsEventBus]:
    bus = await NatsEventBus.open(nats_settings)
    yield bus
    await bus.close()


async def test_each_event_goes_to_its_subject_with_its_id_as_message_id(
    nats_bus: NatsEventBus, nats_settings: NatsSettings
) -> None:
    for event in EVENTS:
        await nats_bus.publish(EncodedEvent(event))

    stored = await read_stream(nats_bus.client, nats_settings.events_stream)

    prefix = nats_settings.publish_prefix
    assert [s.subject for s in stored] == [prefix + e.TYPE.removeprefix("trade") for e in EVENTS]
    assert [s.headers["Nats-Msg-Id"] for s in stored] == [str(e.event_id) for e in EVENTS]
    assert {s.headers["Content-Type"] for s in stored} == {"application/cloudevents+json"}


async def test_a_subscriber_on_the_spec_subject_receives_the_event(
    nats_bus: NatsEventBus, nats_settings: NatsSettings
) -> None:
    """Another service subscribes to `<prefix>.order.filled` with plain NATS and reads the envelope."""
    subject = f"{nats_settings.publish_prefix}.order.filled"
    sub = await nats_bus.client.subscribe(subject)
    filled = next(e for e in EVENTS if e.TYPE == "trade.order.filled")

    await nats_bus.publish(EncodedEvent(filled))
    msg = await sub.next_msg(timeout=5)

    assert msg.subject == subject
    assert decode_json(msg.data)["id"] == str(filled.event_id)
    await sub.unsubscribe()


async def test_a_publish_no_stream_captures_fails(nats_settings: NatsSettings) -> None:
    """Without a stream (and not allowed to create one) a publish raises instead of vanishing."""
    from attrs import evolve

    settings = evolve(nats_settings, create_streams=False)
    bus = await NatsEventBus.open(settings)
    try:
        with pytest.raises(EventBusError, match="no stream"):
            await bus.publish(EncodedEvent(EVENTS[0]))
    finally:
        await bus.close()


async def test_a_lost_stream_is_set_up_again(nats_bus: NatsEventBus, nats_settings: NatsSettings) -> None:
    await nats_bus.client.jetstream().delete_stream(nats_settings.events_stream)

    await nats_bus.publish(EncodedEvent(EVENTS[0]))

    assert len(await read_stream(nats_bus.client, nats_settings.events_stream)) == 1


async def test_open_fails_promptly_without_a_server() -> None:
    settings = isolated_settings("nats://127.0.0.1:1")

    with pytest.raises(EventBusError, match="cannot connect"):
        await NatsEventBus.open(settings)


async def test_health_tells_connected_then_closed(nats_settings: NatsSettings) -> None:
    bus = await NatsEventBus.open(nats_settings)
    before = await bus.health()

    await bus.close()

    assert (before, await bus.health()) == ("connected", "closed")
