"""Server-sent events: the engine's events pushed to each connected client (the console's live feed).

`EventFanout` is an engine listener: each committed event is encoded once (the CloudEvent that
NATS carries, `adapters.codec.envelope`) and put on every subscriber's queue. The queues are
bounded: a client that reads too slowly to keep up is not allowed to grow the server's memory;
its queue is dropped, and its stream ends with an `overflow` event saying how many events it
missed, so it reloads what it shows and connects again. A client that goes away leaves the
fan-out when its stream is cancelled (`subscribe` is a context manager).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Final

from adapters.codec import encode_envelope, encode_json
from trading_core.events import Event

QUEUE_SIZE: Final = 1000
"""Events kept for one client before it counts as too slow (a burst of fills is a few hundred)."""
KEEPALIVE_SECONDS: Final = 15.0
"""A comment line this often when nothing happens: proxies keep the connection, and a client
that vanished without a word is found by the failed write."""


_WAKE: Final = ("", b"")
_END: Final = ("end", b"")


class Subscription:
    """One client's bounded queue of encoded events; `overflowed` once it fell too far behind."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(size)
        self.missed = 0

    @property
    def overflowed(self) -> bool:
        return self.missed > 0

    def offer(self, kind: str, data: bytes) -> None:
        """Queue one event, or count it missed (and drop the backlog: the client reloads anyway)."""
        if self.overflowed:
            self.missed += 1
            return
        try:
            self.queue.put_nowait((kind, data))
        except asyncio.QueueFull:
            self.missed = self.queue.qsize() + 1
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(_WAKE)  # the stream is waiting on the queue: it must see the overflow now

    def end(self) -> None:
        """End the stream (the server is stopping), whatever it still had to send."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(_END)


class EventFanout:
    """The engine's events to every subscribed client, each through a bounded queue."""

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._subscriptions: set[Subscription] = set()
        self.closed = False

    def close(self) -> None:
        """End every stream, and any opened from now on: the server is stopping, and would
        otherwise wait its whole shutdown bound for clients that never hang up."""
        self.closed = True
        for subscription in self._subscriptions:
            subscription.end()

    @property
    def subscriber_count(self) -> int:
        """How many clients are connected now."""
        return len(self._subscriptions)

    def __call__(self, event: Event) -> None:
        """The engine listener: called in the engine's task, it never blocks."""
        if not self._subscriptions:
            return
        kind, data = event.TYPE, encode_envelope(event)
        for subscription in self._subscriptions:
            subscription.offer(kind, data)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        """A client's subscription for as long as the block runs."""
        subscription = Subscription(self._queue_size)
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)


def sse_frame(kind: str, data: bytes) -> bytes:
    """One server-sent event: its name and its data (JSON, on one line)."""
    return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"


async def stream(fanout: EventFanout, *, keepalive: float = KEEPALIVE_SECONDS) -> AsyncIterator[bytes]:
    """The frames of one client's stream: `ready` once subscribed, then each event as it comes.

    Ends after an `overflow` event when the client fell `QUEUE_SIZE` events behind, and when the
    fan-out closes (the server stops).
    """
    if fanout.closed:
        return
    with fanout.subscribe() as subscription:
        yield sse_frame("ready", encode_json({"subscribers": fanout.subscriber_count}))
        while True:
            try:
                item = await asyncio.wait_for(subscription.queue.get(), keepalive)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            if item is _END:
                return
            kind, data = item
            if subscription.overflowed:
                yield sse_frame("overflow", encode_json({"missed": subscription.missed}))
                return
            yield sse_frame(kind, data)
