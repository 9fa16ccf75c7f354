"""The server loses our streams or consumer: they are set up again, delivery resumes, and health says so meanwhile.

A server restarted with an empty store (on a server of the test's own, `private_nats`), or streams
and consumers deleted through the JetStream API with the connection up (the test's own names on
the shared server).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import attrs
import nats.errors
import pytest
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig

from adapters.codec import EncodedEvent, encode_json
from adapters.nats import NatsCommandConsumer, NatsEventBus, NatsSettings, connect
from tests.contract.lifecycle import lifecycle_events
from tests.contract.nats_support import read_stream
from tests.contract.recording_handler import RecordingHandler
from tests.contract.test_nats_consumer import DECISION, Rig, decision
from tests.fixtures.nats import EmbeddedNatsServer, isolated_settings

pytestmark = pytest.mark.nats

NEVER = timedelta(hours=1)
"""A watch interval that leaves re-declaration to the test (or to a reconnection)."""
OFTEN = timedelta(milliseconds=300)


async def state_becomes(check: Callable[[], Awaitable[str]], wanted: str, within: float = 10.0) -> str:
    """The check's answer once it is `wanted` (a good answer may be kept a couple of seconds).

    A check that raises (a server just started, not answering yet) is asked again.
    """
    answers: list[str] = []
    try:
        async with asyncio.timeout(within):
            while not answers or answers[-1] != wanted:
                try:
                    answers.append(await check())
                except nats.errors.Error as e:
                    answers.append(repr(e))
                await asyncio.sleep(0.05)  # polling the server is the point
    except TimeoutError:
        raise AssertionError(f"still {answers[-3:]} after {within:g}s") from None
    return answers[-1]


@pytest.fixture
async def client(nats_settings: NatsSettings) -> AsyncIterator[Client]:
    nc = await connect(nats_settings)
    yield nc
    await nc.close()


@pytest.fixture
async def consumer(client: Client, nats_settings: NatsSettings) -> AsyncIterator[NatsCommandConsumer]:
    consumer = NatsCommandConsumer(client, RecordingHandler(), attrs.evolve(nats_settings, watch_interval=NEVER))
    await consumer.start()
    yield consumer
    await consumer.stop()


async def test_health_names_a_missing_consumer_or_stream_until_they_are_declared_again(
    client: Client, nats_settings: NatsSettings, consumer: NatsCommandConsumer
) -> None:
    js = client.jetstream()
    bus = NatsEventBus(client, nats_settings)
    await bus.ensure_stream()
    healthy = (await bus.health(), await consumer.health())

    await js.delete_consumer(nats_settings.commands_stream, nats_settings.consumer)
    consumer_missing = await state_becomes(consumer.health, f"consumer {nats_settings.consumer} missing")
    await consumer.declare()
    redeclared = await consumer.health()
    await js.delete_stream(nats_settings.commands_stream)
    stream_missing = await state_becomes(consumer.health, f"stream {nats_settings.commands_stream} missing")
    await js.delete_stream(nats_settings.events_stream)
    events_missing = await state_becomes(bus.health, f"stream {nats_settings.events_stream} missing")
    await consumer.declare()
    await bus.publish(EncodedEvent(lifecycle_events()[0]))  # finds no stream: sets it up and publishes

    assert healthy == ("connected", "connected")
    assert consumer_missing == f"consumer {nats_settings.consumer} missing"
    assert redeclared == "connected"
    assert stream_missing == f"stream {nats_settings.commands_stream} missing"
    assert events_missing == f"stream {nats_settings.events_stream} missing"
    assert (await bus.health(), await consumer.health()) == ("connected", "connected")
    await bus.close()


async def test_commands_sent_while_the_consumer_was_missing_are_delivered_once_it_is_made_again(
    client: Client, nats_settings: NatsSettings
) -> None:
    rig = Rig(client, RecordingHandler(), nats_settings)
    handler = RecordingHandler()
    consumer = NatsCommandConsumer(client, handler, attrs.evolve(nats_settings, watch_interval=NEVER))
    await consumer.start()
    try:
        await client.jetstream().delete_consumer(nats_settings.commands_stream, nats_settings.consumer)
        sent = decision()
        await rig.send(DECISION, encode_json(sent))  # stored, with no consumer to deliver it

        await consumer.declare()
        await handler.wait_for(1)
        await rig.settled()
    finally:
        await consumer.stop()

    assert [d.decision_id for d in handler.decisions] == [sent["decisionId"]]


async def test_a_consumer_and_stream_deleted_with_the_connection_up_are_made_again_and_deliver(
    client: Client, nats_settings: NatsSettings
) -> None:
    """No reconnection tells the consumer: its periodic check finds them gone."""
    rig = Rig(client, RecordingHandler(), nats_settings)
    handler = RecordingHandler()
    consumer = NatsCommandConsumer(client, handler, attrs.evolve(nats_settings, watch_interval=OFTEN))
    await consumer.start()
    try:
        await client.jetstream().delete_stream(nats_settings.commands_stream)
        await state_becomes(consumer.health, "connected")
        sent = decision()
        await rig.send(DECISION, encode_json(sent))
        await handler.wait_for(1)
    finally:
        await consumer.stop()

    assert [d.decision_id for d in handler.decisions] == [sent["decisionId"]]


async def test_a_replica_subscribes_again_when_the_consumer_was_made_again_on_another_subject(
    client: Client, nats_settings: NatsSettings
) -> None:
    """Another replica (or an operator) made the durable again with a deliver subject of its own."""
    settings = attrs.evolve(nats_settings, watch_interval=OFTEN)
    rig = Rig(client, RecordingHandler(), settings)
    handler = RecordingHandler()
    consumer = NatsCommandConsumer(client, handler, settings)
    await consumer.start()
    js = client.jetstream()
    try:
        await js.delete_consumer(settings.commands_stream, settings.consumer)
        elsewhere = client.new_inbox()
        await js.add_consumer(
            settings.commands_stream,
            ConsumerConfig(
                durable_name=settings.consumer,
                deliver_group=settings.consumer,
                deliver_subject=elsewhere,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=settings.ack_wait.total_seconds(),
            ),
        )
        sent = decision()
        await rig.send(DECISION, encode_json(sent))
        await handler.wait_for(1)
        await rig.settled()
    finally:
        await consumer.stop()

    assert [d.decision_id for d in handler.decisions] == [sent["decisionId"]]


async def test_after_a_restart_without_its_store_both_streams_and_the_consumer_are_back_before_any_publish(
    private_nats: EmbeddedNatsServer,
) -> None:
    settings = isolated_settings(private_nats.url, watch_interval=NEVER)  # only the reconnection may do it
    handler = RecordingHandler()
    bus = await NatsEventBus.open(settings)
    consumer = NatsCommandConsumer(bus.client, handler, settings)
    await consumer.start()
    rig = Rig(bus.client, RecordingHandler(), settings)
    try:
        private_nats.stop()
        shutil.rmtree(private_nats.store_dir / "js")
        private_nats.start()
        await state_becomes(consumer.health, "connected", within=15)
        await state_becomes(bus.health, "connected", within=15)
        js = bus.client.jetstream()
        names = (settings.events_stream, settings.commands_stream)
        streams = sorted([(await js.stream_info(name)).config.name for name in names])

        sent = decision()
        await rig.send(DECISION, encode_json(sent))
        await handler.wait_for(1)
        event = EncodedEvent(lifecycle_events()[0])
        await bus.publish(event)
        stored = await read_stream(bus.client, settings.events_stream)
    finally:
        await consumer.stop()
        await bus.close()

    assert streams == sorted(names)
    assert [d.decision_id for d in handler.decisions] == [sent["decisionId"]]
    assert [s.envelope["id"] for s in stored] == [str(event.event_id)]
