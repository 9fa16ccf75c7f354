"""The stream against a scripted loopback WebSocket server: what the simulator cannot be made to do.

Frames that do not parse (the simulator only sends good ones) and a server that drops every
connection as soon as it is made (the reconnection pace).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal

from websockets.asyncio.server import ServerConnection, serve

from adapters.alpaca.config import AlpacaSettings, StreamSettings
from adapters.alpaca.sequencer import UpdateSequencer
from adapters.alpaca.stream import TradeUpdatesStream, UpdateInbox
from trading_core.broker_models import BrokerOrder
from trading_core.ports import OrderFilter
from trading_core.values import BrokerOrderId

from .wire import fill_json, order_json

Script = Callable[[ServerConnection], Awaitable[None]]


class NoOrders:
    """A REST side with nothing to backfill."""

    async def list_orders(
        self, *, status: OrderFilter = OrderFilter.OPEN, after: datetime | None = None, limit: int = 500
    ) -> list[BrokerOrder]:
        return []

    async def get_order(self, broker_order_id: BrokerOrderId) -> BrokerOrder:
        raise AssertionError("nothing to look up")


@asynccontextmanager
async def scripted(script: Script, inbox: UpdateInbox | None = None) -> AsyncIterator[TradeUpdatesStream]:
    async with serve(script, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        settings = AlpacaSettings(
            key_id="k",
            secret_key="s",
            stream_url=f"ws://127.0.0.1:{port}/stream",
            stream=StreamSettings(reconnect_min_delay=0.05, reconnect_max_delay=0.4, stable_after=5, silence_window=5),
        )
        stream = TradeUpdatesStream(
            settings, reader=NoOrders(), inbox=inbox or UpdateInbox(), sequencer=UpdateSequencer(), rng=random.Random(3)
        )
        task = asyncio.create_task(stream.run())
        try:
            yield stream
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def _handshake(ws: ServerConnection) -> None:
    auth = json.loads(await ws.recv())
    assert auth == {"action": "authenticate", "data": {"key_id": "k", "secret_key": "s"}}
    await ws.send(json.dumps({"stream": "authorization", "data": {"status": "authorized", "action": "authenticate"}}))
    assert json.loads(await ws.recv())["action"] == "listen"
    await ws.send(json.dumps({"stream": "listening", "data": {"streams": ["trade_updates"]}}).encode())


def _update(filled: str, qty: str) -> dict[str, object]:
    order = order_json(status="partially_filled", filled_qty=filled, filled_avg_price="172")
    return {"stream": "trade_updates", "data": fill_json(order, event="partial_fill", qty=qty, price="172")}


async def test_frames_that_do_not_parse_are_skipped_and_the_stream_goes_on() -> None:
    async def script(ws: ServerConnection) -> None:
        await _handshake(ws)
        await ws.send(b"\x00 not json")
        await ws.send("[1, 2]")
        await ws.send(json.dumps({"stream": "trade_updates", "data": {"event": "fill"}}))  # no order
        await ws.send(json.dumps({"stream": "trade_updates", "data": _update("2", "2")["data"] | {"qty": "two"}}))
        await ws.send(json.dumps({"stream": "something_new", "data": {}}))
        await ws.send(json.dumps(_update("3", "3")).encode())  # binary, as Alpaca's paper host sends
        await ws.send(json.dumps(_update("5", "2")))  # text
        await ws.wait_closed()

    inbox = UpdateInbox()
    async with scripted(script, inbox) as stream:
        await asyncio.wait_for(stream.ready.wait(), 5)
        updates = []
        async with asyncio.timeout(5):
            while len(updates) < 2:
                updates.extend(await inbox.next())

    assert [u.order.filled_quantity for u in updates] == [Decimal(3), Decimal(5)]
    assert stream.skipped_messages == 4
    assert stream.connections == 1


async def test_a_server_that_drops_every_connection_is_not_hammered() -> None:
    """Reconnections back off (jittered, doubling to 0.4 s here) even though each one opened."""

    async def script(ws: ServerConnection) -> None:
        await _handshake(ws)
        await ws.close(1011)

    async with scripted(script) as stream:
        await asyncio.sleep(2)
        connections = stream.connections

    # Ceilings 0.05, 0.1, 0.2, 0.4, 0.4...; each wait is at least half its ceiling.
    assert 3 <= connections <= 12


async def test_withdrawn_authorisation_ends_the_connection() -> None:
    async def script(ws: ServerConnection) -> None:
        await _handshake(ws)
        await ws.send(json.dumps({"stream": "authorization", "data": {"status": "unauthorized"}}))
        await ws.wait_closed()

    async with scripted(script) as stream:
        await asyncio.sleep(0.5)
        state = stream.state

    assert state.startswith("unauthorized")


async def test_a_stream_dropped_after_working_a_while_reconnects_at_once_every_time() -> None:
    """Found by the chaos run: a stream dropped every few seconds waited longer after each drop (up to
    `reconnect_max_delay`, 30 s), and submissions, which wait for it, were refused meanwhile."""
    opened: list[float] = []
    closed: list[float] = []
    seventh = asyncio.Event()

    async def script(ws: ServerConnection) -> None:
        opened.append(time.monotonic())
        if len(opened) >= 7:
            seventh.set()
        await _handshake(ws)
        await asyncio.sleep(0.3)  # ready for longer than `ready_stable_after`
        closed.append(time.monotonic())
        await ws.close(1011)

    async with serve(script, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        settings = AlpacaSettings(
            key_id="k",
            secret_key="s",
            stream_url=f"ws://127.0.0.1:{port}/stream",
            stream=StreamSettings(
                reconnect_min_delay=0.05, reconnect_max_delay=3, stable_after=5, ready_stable_after=0.2
            ),
        )
        stream = TradeUpdatesStream(
            settings, reader=NoOrders(), inbox=UpdateInbox(), sequencer=UpdateSequencer(), rng=random.Random(3)
        )
        task = asyncio.create_task(stream.run())
        try:
            await asyncio.wait_for(seventh.wait(), 10)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    gaps = [again - before for before, again in zip(closed, opened[1:], strict=False)]
    assert max(gaps) < 0.2, gaps  # each wait the first step's (at most 0.05 s), never the doubled ones
