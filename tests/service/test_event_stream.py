"""`GET /api/v1/events/stream`: the engine's events as server-sent events, over a real socket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from adapters.codec import decode_json
from apps.service.event_stream import EventFanout
from tests.service.live import TOKEN, Api, Live, running_service

pytestmark = [pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    with running_service() as service:
        yield service


def fanout(live: Live) -> EventFanout:
    found: EventFanout = live.app.state.event_fanout
    return found


def frames(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    """(event name, data) of each server-sent event; comments skipped."""
    kind, data = "", ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif line == "" and kind:
            yield kind, decode_json(data.encode())
            kind, data = "", ""


def until(kind: str, stream: Iterator[tuple[str, Any]]) -> Any:
    for name, data in stream:
        if name == kind:
            return data
    raise AssertionError(f"the stream ended before {kind}")


def eventually(condition: Any, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def stream_client(live: Live, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=live.url, headers=headers, timeout=httpx.Timeout(30))


def test_the_stream_needs_the_token(live: Live) -> None:
    with stream_client(live) as client:
        answer = client.get("/api/v1/events/stream")
    with stream_client(live, Authorization="Bearer wrong") as client:
        wrong = client.get("/api/v1/events/stream")

    assert (answer.status_code, answer.json()["code"]) == (401, "UNAUTHORIZED")
    assert wrong.status_code == 401
    assert fanout(live).subscriber_count == 0


def test_an_order_s_events_arrive_as_they_happen(live: Live) -> None:
    api = Api(live.url)
    with (
        stream_client(live, Authorization=f"Bearer {TOKEN}") as client,
        client.stream("GET", "/api/v1/events/stream") as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        events = frames(response)
        until("ready", events)
        order_id = api.submit(symbol="AAPL", side="buy", quantity=2, type="market").json()["orderId"]

        submitted = until("trade.order.submitted", events)
        filled = until("trade.order.filled", events)
        opened = until("trade.position.opened", events)
    api.close()

    assert (submitted["type"], submitted["data"]["orderId"]) == ("trade.order.submitted", order_id)
    assert filled["data"]["fill"]["quantity"] == 2
    assert opened["data"]["symbol"] == "AAPL"


def test_every_client_gets_every_event(live: Live) -> None:
    api = Api(live.url)
    with (
        stream_client(live, Authorization=f"Bearer {TOKEN}") as one,
        stream_client(live, Authorization=f"Bearer {TOKEN}") as two,
        one.stream("GET", "/api/v1/events/stream") as first,
        two.stream("GET", "/api/v1/events/stream") as second,
    ):
        streams = frames(first), frames(second)
        for events in streams:
            until("ready", events)
        order_id = api.submit(symbol="MSFT", side="buy", quantity=1, type="market").json()["orderId"]

        seen = [until("trade.order.filled", events)["data"]["orderId"] for events in streams]
    api.close()

    assert seen == [order_id, order_id]


def test_a_client_that_disconnects_leaves_the_fan_out(live: Live) -> None:
    with (
        stream_client(live, Authorization=f"Bearer {TOKEN}") as client,
        client.stream("GET", "/api/v1/events/stream") as response,
    ):
        events = frames(response)  # kept: a dropped reader closes the response, and with it the stream
        until("ready", events)
        assert fanout(live).subscriber_count == 1

    eventually(lambda: fanout(live).subscriber_count == 0, "the closed stream was still subscribed")
