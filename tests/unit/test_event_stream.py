"""The event fan-out behind `GET /api/v1/events/stream`: one bounded queue per client."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.codec import decode_json
from apps.service.event_stream import EventFanout, stream
from tests.unit.builders import order
from trading_core.events import OrderSubmitted
from trading_core.values import new_event_id

NOW = datetime(2026, 3, 2, 15, tzinfo=UTC)


def submitted() -> OrderSubmitted:
    return OrderSubmitted(event_id=new_event_id(), ts_event=NOW, ts_init=NOW, order=order())


def data_of(frame: bytes) -> object:
    return decode_json(frame.split(b"\ndata: ", 1)[1].strip())


async def test_a_subscriber_gets_each_event_as_a_named_cloud_event() -> None:
    fanout = EventFanout()
    frames = stream(fanout)
    ready = await anext(frames)
    event = submitted()

    fanout(event)
    frame = await anext(frames)

    assert ready.startswith(b"event: ready\n")
    assert frame.startswith(b"event: trade.order.submitted\ndata: ")
    assert frame.endswith(b"\n\n")
    assert data_of(frame)["id"] == str(event.event_id)  # type: ignore[index]
    await frames.aclose()


async def test_a_slow_client_is_told_what_it_missed_and_let_go_without_growing_memory() -> None:
    fanout = EventFanout(queue_size=2)
    frames = stream(fanout)
    await anext(frames)

    for _ in range(5):
        fanout(submitted())
    overflow = await anext(frames)

    assert overflow.startswith(b"event: overflow\n")
    assert data_of(overflow) == {"missed": 5}
    assert [frame async for frame in frames] == []  # the stream ended
    assert fanout.subscriber_count == 0


async def test_a_closed_stream_unsubscribes() -> None:
    fanout = EventFanout()
    frames = stream(fanout)
    await anext(frames)
    assert fanout.subscriber_count == 1

    await frames.aclose()

    assert fanout.subscriber_count == 0


async def test_a_quiet_stream_sends_keepalive_comments() -> None:
    fanout = EventFanout()
    frames = stream(fanout, keepalive=0.01)
    await anext(frames)

    assert await anext(frames) == b": keepalive\n\n"
    await frames.aclose()


def test_events_with_no_subscriber_cost_nothing() -> None:
    fanout = EventFanout()

    fanout(submitted())

    assert fanout.subscriber_count == 0


async def test_closing_the_fan_out_ends_every_stream_and_refuses_new_ones() -> None:
    fanout = EventFanout()
    frames = stream(fanout)
    await anext(frames)
    fanout(submitted())

    fanout.close()

    assert [frame async for frame in frames] == []  # what was queued is dropped: the server stops
    assert fanout.subscriber_count == 0
    assert [frame async for frame in stream(fanout)] == []
