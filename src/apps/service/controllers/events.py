"""The live feed: the engine's events pushed to the client as server-sent events."""

from __future__ import annotations

from typing import Final

from litestar import Controller, get
from litestar.datastructures import State
from litestar.response import Stream

from apps.service.controllers.docs import errors
from apps.service.event_stream import EventFanout, stream

EVENT_STREAM: Final = "text/event-stream"


class EventsController(Controller):
    path = "/api/v1/events"
    tags = ["events"]  # noqa: RUF012  # Litestar's declared class attribute

    @get("/stream", media_type=EVENT_STREAM, responses=errors(), summary="The engine's events, as they happen (SSE)")
    async def event_stream(self, state: State) -> Stream:
        """Server-sent events: `ready` once subscribed, then each event the engine commits from then on.

        Each event's name is its type (`trade.order.filled`, ...) and its data the CloudEvent that
        NATS carries (docs/events). A comment line every 15 s keeps the connection open. A client
        that falls 1,000 events behind gets an `overflow` event (`{"missed": n}`) and the stream
        ends: reload what is shown, then connect again. Authenticate with the `Authorization`
        header, as every endpoint (a browser reads it with `fetch()`; `EventSource` cannot send it).
        """
        fanout: EventFanout = state.event_fanout
        return Stream(
            stream(fanout),
            media_type=EVENT_STREAM,
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},  # no proxy may hold events back
        )
