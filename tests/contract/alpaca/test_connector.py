"""The WebSocket connector both Alpaca streams use, over real sockets against the simulator.

A small client speaks each of the simulator's two streams (trade_updates: `authenticate` and
`authorization`; market data: the greeting, `auth` and `authenticated`) so the connector is seen
on its own: it connects, lets the client authenticate, records why each connection ended,
releases it, and reconnects with growing, jittered delays that a connection which held resets.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidURI

from adapters.alpaca.config import StreamSettings
from adapters.alpaca.connector import StreamEnded, StreamRefused, WebSocketConnector
from apps.alpaca_sim import SimServer
from tests.contract.alpaca.support import eventually

log = logging.getLogger("tests.connector")

TIMING = StreamSettings(reconnect_min_delay=0.05, reconnect_max_delay=0.4, stable_after=30, open_timeout=2)


class TradeClient:
    """Authenticates on the trade_updates stream and reads until the socket ends."""

    def __init__(self, *, secret: str = "test", held: bool = False, fail_in_serve: bool = False) -> None:
        self.secret = secret
        self.authenticated = 0
        self.released = 0
        self.frames: list[object] = []
        self._held = held
        self._fail_in_serve = fail_in_serve

    async def authenticate(self, ws: ClientConnection) -> None:
        await ws.send(json.dumps({"action": "authenticate", "data": {"key_id": "test", "secret_key": self.secret}}))
        reply = json.loads(await ws.recv())
        if reply["data"]["status"] != "authorized":
            raise StreamRefused(f"answered {reply['data']['status']}")
        self.authenticated += 1

    async def serve(self, ws: ClientConnection) -> None:
        if self._fail_in_serve:
            raise KeyError("a bug in the client")
        async for frame in ws:
            self.frames.append(json.loads(frame))

    async def release(self) -> None:
        self.released += 1

    def held(self, now: float) -> bool:
        return self._held


class DataClient(TradeClient):
    """Authenticates on the market-data stream (greeting first) and reads until the socket ends."""

    async def authenticate(self, ws: ClientConnection) -> None:
        greeting = json.loads(await ws.recv())
        assert greeting[0]["msg"] == "connected"
        await ws.send(json.dumps({"action": "auth", "key": "test", "secret": self.secret}))
        reply = json.loads(await ws.recv())[0]
        if reply.get("msg") != "authenticated":
            raise StreamRefused(f"answered {reply.get('code')} {reply.get('msg')}")
        self.authenticated += 1


@contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port bound but not listening: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@asynccontextmanager
async def running(url: str, client: TradeClient, **timing: float) -> AsyncIterator[WebSocketConnector]:
    connector = WebSocketConnector(
        url, StreamSettings(**{**_as_dict(TIMING), **timing}), name="test", log=log, rng=random.Random(5)
    )
    task = asyncio.create_task(connector.run(client))
    try:
        yield connector
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert connector.state == "closed"


def _as_dict(timing: StreamSettings) -> dict[str, float]:
    return {
        "reconnect_min_delay": timing.reconnect_min_delay,
        "reconnect_max_delay": timing.reconnect_max_delay,
        "stable_after": timing.stable_after,
        "open_timeout": timing.open_timeout,
    }


async def test_it_connects_authenticates_and_reconnects_after_the_server_drops_the_trade_stream(
    alpaca_sim: SimServer,
) -> None:
    client = TradeClient()
    async with running(alpaca_sim.stream_url, client) as connector:
        await eventually(lambda: client.authenticated == 1, what="authenticated")
        await asyncio.to_thread(alpaca_sim.drop_stream)
        await eventually(lambda: client.authenticated == 2, what="authenticated again")

        assert connector.connections == 2
        assert client.released == 1
        assert connector.state.startswith("reconnecting: connection closed")


async def test_it_reconnects_the_market_data_stream_the_same_way(alpaca_sim: SimServer) -> None:
    client = DataClient()
    async with running(alpaca_sim.data_stream_url(), client) as connector:
        await eventually(lambda: client.authenticated == 1, what="authenticated")
        await asyncio.to_thread(alpaca_sim.drop_data_stream)
        await eventually(lambda: client.authenticated == 2, what="authenticated again")

        assert connector.connections == 2
        assert client.released == 1


async def test_a_refusal_is_recorded_with_the_exceptions_status_and_retried_with_growing_delays(
    alpaca_sim: SimServer,
) -> None:
    class Unauthorized(StreamRefused):
        status = "unauthorized"

    class WrongKey(TradeClient):
        async def authenticate(self, ws: ClientConnection) -> None:
            try:
                await super().authenticate(ws)
            except StreamRefused as e:
                raise Unauthorized(str(e)) from None

    client = WrongKey(secret="wrong")
    async with running(alpaca_sim.stream_url, client, reconnect_max_delay=10) as connector:
        await eventually(lambda: connector.connections >= 4, within=10, what="four refused connections")
        assert connector.state.startswith("unauthorized: answered")
        assert client.authenticated == 0
        assert client.released >= 3  # every connection is released, refused ones too
        assert connector.backoff.attempt >= 3  # nothing held: the delays keep growing


async def test_a_connection_the_client_says_held_resets_the_delays(alpaca_sim: SimServer) -> None:
    client = TradeClient(held=True)
    async with running(alpaca_sim.stream_url, client) as connector:
        for dropped in range(1, 4):
            await eventually(lambda n=dropped: client.authenticated == n, what=f"connection {dropped}")
            await asyncio.to_thread(alpaca_sim.drop_stream)
        await eventually(lambda: client.authenticated == 4, what="connection 4")

        assert connector.backoff.attempt == 1  # reset after each drop, then one delay drawn


async def test_a_bug_in_the_client_is_logged_and_the_stream_reconnects(
    alpaca_sim: SimServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = TradeClient(fail_in_serve=True)
    with caplog.at_level(logging.ERROR, logger="tests.connector"):
        async with running(alpaca_sim.stream_url, client) as connector:
            await eventually(lambda: client.authenticated >= 2, what="a second connection")
            assert connector.state == "reconnecting: internal error (KeyError)"
    assert "test: unexpected failure; reconnecting" in caplog.text


async def test_a_reason_of_the_clients_own_ends_the_connection_with_its_text(alpaca_sim: SimServer) -> None:
    class Bored(TradeClient):
        async def serve(self, ws: ClientConnection) -> None:
            raise StreamEnded("silent: nothing came")

    client = Bored()
    async with running(alpaca_sim.stream_url, client) as connector:
        await eventually(lambda: client.released >= 1, what="a connection ended")
        assert connector.state == "reconnecting: silent: nothing came"


async def test_a_server_that_does_not_answer_the_handshake_times_out(alpaca_sim: SimServer) -> None:
    class Mute(TradeClient):
        async def authenticate(self, ws: ClientConnection) -> None:
            await asyncio.sleep(5)  # longer than open_timeout

    client = Mute()
    started = time.monotonic()
    async with running(alpaca_sim.stream_url, client, open_timeout=0.2) as connector:
        await eventually(lambda: client.released >= 1, what="the handshake given up")
        assert connector.state == "reconnecting: TimeoutError"
    assert time.monotonic() - started < 3


async def test_a_server_that_cannot_be_reached_is_retried_until_it_can() -> None:
    with refused_port() as port:
        client = TradeClient()
        async with running(f"ws://127.0.0.1:{port}/stream", client) as connector:
            await eventually(lambda: connector.state == "reconnecting: cannot connect", what="a refused connect")
            assert connector.backoff.attempt >= 1
            assert client.authenticated == 0


async def test_a_url_that_cannot_work_ends_the_run() -> None:
    connector = WebSocketConnector("not a url", TIMING, name="test", log=log)
    with pytest.raises(InvalidURI):
        await connector.run(TradeClient())
    assert connector.connections == 0
