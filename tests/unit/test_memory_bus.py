"""The in-process event bus: what it keeps, what it drops, whom it tells."""

from __future__ import annotations

from adapters.codec import EncodedEvent
from adapters.memory.bus import InMemoryEventBus
from tests.contract.lifecycle import lifecycle_events
from trading_core.ports import EventMessage

EVENTS = [EncodedEvent(e) for e in lifecycle_events()]


async def test_subscribers_hear_each_new_message_once_in_order() -> None:
    bus = InMemoryEventBus()
    heard: list[str] = []
    bus.subscribe(lambda m: heard.append(m.type))

    for message in [*EVENTS, EVENTS[0]]:
        await bus.publish(message)

    assert heard == [m.type for m in EVENTS]
    assert bus.duplicates == 1


async def test_async_subscribers_and_type_filters() -> None:
    bus = InMemoryEventBus()
    fills: list[EventMessage] = []

    async def on_fill(message: EventMessage) -> None:
        fills.append(message)

    bus.subscribe(on_fill, types={"trade.order.filled"})
    for message in EVENTS:
        await bus.publish(message)

    assert [m.type for m in fills] == ["trade.order.filled"] * 3


async def test_a_failing_subscriber_does_not_stop_publishing() -> None:
    bus = InMemoryEventBus()
    heard: list[str] = []

    def broken(_: EventMessage) -> None:
        raise RuntimeError("boom")

    bus.subscribe(broken)
    bus.subscribe(lambda m: heard.append(m.type))
    await bus.publish(EVENTS[0])

    assert heard == [EVENTS[0].type]
    assert list(bus.messages) == [EVENTS[0]]


async def test_unsubscribe() -> None:
    bus = InMemoryEventBus()
    heard: list[str] = []
    unsubscribe = bus.subscribe(lambda m: heard.append(m.type))

    await bus.publish(EVENTS[0])
    unsubscribe()
    await bus.publish(EVENTS[1])

    assert heard == [EVENTS[0].type]


async def test_maxlen_bounds_what_is_kept() -> None:
    bus = InMemoryEventBus(maxlen=3)

    for message in EVENTS:
        await bus.publish(message)

    assert list(bus.messages) == EVENTS[-3:]
    # Only the ids kept are remembered: one that left is new again, one kept is a duplicate.
    await bus.publish(EVENTS[-1])
    assert bus.duplicates == 1
    await bus.publish(EVENTS[0])
    assert bus.duplicates == 1
    assert list(bus.messages) == [*EVENTS[-2:], EVENTS[0]]


async def test_an_id_is_remembered_as_long_as_its_message_is_kept() -> None:
    bus = InMemoryEventBus(maxlen=2)
    first, second, third = EVENTS[:3]

    for message in [first, second, third, second, first]:
        await bus.publish(message)

    assert list(bus.messages) == [third, first]  # the first one had left: new again
    assert bus.duplicates == 1


async def test_a_bus_that_keeps_nothing_drops_no_duplicates() -> None:
    bus = InMemoryEventBus(maxlen=0)
    heard: list[str] = []
    bus.subscribe(lambda m: heard.append(m.event_id))

    for message in [EVENTS[0], EVENTS[0]]:
        await bus.publish(message)

    assert heard == [EVENTS[0].event_id] * 2
    assert list(bus.messages) == []
    assert bus.duplicates == 0


async def test_clear_forgets_messages_and_ids() -> None:
    bus = InMemoryEventBus()
    await bus.publish(EVENTS[0])

    bus.clear()
    await bus.publish(EVENTS[0])

    assert bus.types() == [EVENTS[0].type]
