"""The simulator's market-data stream (`/v2/{feed}`) on Alpaca's wire, read by a raw WebSocket client.

Shapes from Alpaca's "Real-time Stock Data" and "WebSocket Stream" pages: JSON arrays in TEXT
frames, `success`/`error`/`subscription` control messages, `t`/`q` data messages.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import msgpack
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from adapters.paper.listings import DEFAULT_LISTINGS
from apps.alpaca_sim import SimServer
from tests.contract.alpaca_sim_support import TIMESTAMP, WAIT, api, nothing_within

QUOTE_MEMBERS = {"T", "S", "bx", "bp", "bs", "ax", "ap", "as", "c", "z", "t"}
TRADE_MEMBERS = {"T", "S", "i", "x", "p", "s", "c", "z", "t"}


async def frame(ws: ClientConnection, within: float = WAIT) -> list[dict[str, Any]]:
    """The next message, which must be a TEXT frame holding a JSON array."""
    received = await asyncio.wait_for(ws.recv(), within)
    assert isinstance(received, str), f"a binary frame: {received!r}"
    messages: list[dict[str, Any]] = json.loads(received)
    assert isinstance(messages, list)
    return messages


async def ask(ws: ClientConnection, message: dict[str, Any]) -> list[dict[str, Any]]:
    await ws.send(json.dumps(message))
    return await frame(ws)


async def data(ws: ClientConnection, n: int) -> list[dict[str, Any]]:
    """The next `n` data messages (frames may hold several)."""
    found: list[dict[str, Any]] = []
    while len(found) < n:
        found.extend(await frame(ws))
    return found


@asynccontextmanager
async def connected(sim: SimServer, feed: str = "iex") -> AsyncIterator[ClientConnection]:
    async with connect(sim.data_stream_url(feed), open_timeout=WAIT, close_timeout=1) as ws:
        assert await frame(ws) == [{"T": "success", "msg": "connected"}]
        yield ws


@asynccontextmanager
async def authenticated(sim: SimServer, feed: str = "iex") -> AsyncIterator[ClientConnection]:
    async with connected(sim, feed) as ws:
        assert await ask(ws, {"action": "auth", "key": "test", "secret": "test"}) == [
            {"T": "success", "msg": "authenticated"}
        ]
        yield ws


class TestHandshake:
    @pytest.mark.parametrize("feed", ["iex", "sip", "test"])
    async def test_connected_then_authenticated_on_each_feed(self, alpaca_sim: SimServer, feed: str) -> None:
        async with authenticated(alpaca_sim, feed):
            connections = alpaca_sim.state()["data_connections"]

        assert connections == 1

    async def test_wrong_keys_are_answered_402_and_a_retry_may_succeed(self, alpaca_sim: SimServer) -> None:
        async with connected(alpaca_sim) as ws:
            refused = await ask(ws, {"action": "auth", "key": "test", "secret": "wrong"})
            connections = alpaca_sim.state()["data_connections"]
            accepted = await ask(ws, {"action": "auth", "key": "test", "secret": "test"})
            again = await ask(ws, {"action": "auth", "key": "test", "secret": "test"})

        assert refused == [{"T": "error", "code": 402, "msg": "auth failed"}]
        assert connections == 0
        assert accepted == [{"T": "success", "msg": "authenticated"}]
        assert again == [{"T": "error", "code": 403, "msg": "already authenticated"}]

    async def test_subscribing_before_authenticating_is_answered_401(self, alpaca_sim: SimServer) -> None:
        async with connected(alpaca_sim) as ws:
            reply = await ask(ws, {"action": "subscribe", "quotes": ["AAPL"]})

        assert reply == [{"T": "error", "code": 401, "msg": "not authenticated"}]

    async def test_what_is_not_a_known_action_is_invalid_syntax(self, alpaca_sim: SimServer) -> None:
        async with authenticated(alpaca_sim) as ws:
            not_json = await ask_raw(ws, "{nope")
            unknown = await ask(ws, {"action": "listen"})
            bad_list = await ask(ws, {"action": "subscribe", "quotes": "AAPL"})

        assert not_json == unknown == bad_list == [{"T": "error", "code": 400, "msg": "invalid syntax"}]

    async def test_a_second_connection_on_the_key_is_refused_406_and_closed_the_first_kept(
        self, alpaca_sim: SimServer
    ) -> None:
        async with authenticated(alpaca_sim) as first:
            await ask(first, {"action": "subscribe", "quotes": ["AAPL"]})
            async with connected(alpaca_sim) as second:
                refused = await ask(second, {"action": "auth", "key": "test", "secret": "test"})
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(second.recv(), WAIT)
            alpaca_sim.set_price("AAPL", "191.00")
            still = await data(first, 1)

        assert refused == [{"T": "error", "code": 406, "msg": "connection limit exceeded"}]
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008
        assert [(m["T"], m["ap"]) for m in still] == [("q", 191.0)]

    async def test_another_feed_is_another_endpoint_with_its_own_connection(self, alpaca_sim: SimServer) -> None:
        async with authenticated(alpaca_sim, "iex"), authenticated(alpaca_sim, "sip"):
            connections = alpaca_sim.state()["data_connections"]

        assert connections == 2


async def ask_raw(ws: ClientConnection, text: str) -> list[dict[str, Any]]:
    await ws.send(text)
    return await frame(ws)


class TestSubscriptions:
    async def test_subscribe_adds_and_unsubscribe_removes_and_each_reply_is_the_whole_subscription(
        self, alpaca_sim: SimServer
    ) -> None:
        async with authenticated(alpaca_sim) as ws:
            first = await ask(ws, {"action": "subscribe", "trades": ["AAPL"], "quotes": ["AAPL", "MSFT"]})
            second = await ask(ws, {"action": "subscribe", "quotes": ["NVDA"], "bars": ["*"]})
            third = await ask(ws, {"action": "unsubscribe", "quotes": ["AAPL"], "trades": ["AAPL"]})
            subscribed = alpaca_sim.state()["data_subscribed"]

        empty: list[str] = []
        rest = {"updatedBars": empty, "dailyBars": empty, "statuses": empty, "lulds": empty}
        assert first == [
            {
                "T": "subscription",
                "trades": ["AAPL"],
                "quotes": ["AAPL", "MSFT"],
                "bars": empty,
                **rest,
                "corrections": ["AAPL"],
                "cancelErrors": ["AAPL"],
            }
        ]
        assert second[0]["quotes"] == ["AAPL", "MSFT", "NVDA"]
        assert (second[0]["bars"], second[0]["trades"]) == (["*"], ["AAPL"])
        assert (third[0]["quotes"], third[0]["trades"], third[0]["corrections"]) == (["MSFT", "NVDA"], empty, empty)
        assert subscribed == {"trades": empty, "quotes": ["MSFT", "NVDA"], "bars": ["*"]}


class TestMessages:
    async def test_a_price_change_sends_the_subscribed_trade_and_quote_in_alpacas_shapes(
        self, alpaca_sim: SimServer
    ) -> None:
        async with authenticated(alpaca_sim) as ws:
            await ask(ws, {"action": "subscribe", "trades": ["AAPL"], "quotes": ["AAPL"]})
            alpaca_sim.set_price("AAPL", "191.25")
            trade, quote = await data(ws, 2)

        assert set(trade) == TRADE_MEMBERS
        assert set(quote) == QUOTE_MEMBERS
        assert (trade["T"], trade["S"], trade["p"], trade["s"]) == ("t", "AAPL", 191.25, 100)
        assert isinstance(trade["i"], int)
        assert (quote["T"], quote["S"], quote["bp"], quote["ap"], quote["bs"], quote["as"]) == (
            "q",
            "AAPL",
            191.25,
            191.25,
            1,
            1,
        )
        assert TIMESTAMP.match(trade["t"])
        assert quote["t"] == trade["t"]

    async def test_only_what_is_subscribed_is_sent(self, alpaca_sim: SimServer) -> None:
        async with authenticated(alpaca_sim) as ws:
            await ask(ws, {"action": "subscribe", "quotes": ["MSFT"]})
            alpaca_sim.set_price("AAPL", "191.25")
            quiet = await nothing_within(ws, 0.2)
            alpaca_sim.set_price("MSFT", "401.50")
            messages = await data(ws, 1)

        assert quiet
        assert [(m["T"], m["S"], m["ap"]) for m in messages] == [("q", "MSFT", 401.5)]

    async def test_a_step_of_the_walk_sends_a_quote_for_every_symbol_that_moved(self, alpaca_sim: SimServer) -> None:
        async with authenticated(alpaca_sim) as ws:
            await ask(ws, {"action": "subscribe", "quotes": ["*"]})
            prices = alpaca_sim.step(1)["prices"]
            moved = {s for s, p in prices.items() if Decimal(p) != listing_price(s)}
            messages = await data(ws, len(moved))

        assert {m["S"]: m["ap"] for m in messages} == {s: float(prices[s]) for s in moved}

    async def test_a_connection_asking_for_msgpack_gets_binary_frames_with_timestamp_extensions(
        self, alpaca_sim: SimServer
    ) -> None:
        headers = {"Content-Type": "application/msgpack"}
        async with connect(alpaca_sim.data_stream_url(), additional_headers=headers, open_timeout=WAIT) as ws:
            hello = msgpack.unpackb(await ws.recv())
            await ws.send(msgpack.packb({"action": "auth", "key": "test", "secret": "test"}))
            authed = msgpack.unpackb(await ws.recv())
            await ws.send(msgpack.packb({"action": "subscribe", "quotes": ["AAPL"]}))
            msgpack.unpackb(await ws.recv())
            alpaca_sim.set_price("AAPL", "189.50")
            (quote,) = msgpack.unpackb(await asyncio.wait_for(ws.recv(), WAIT))

        assert hello == [{"T": "success", "msg": "connected"}]
        assert authed == [{"T": "success", "msg": "authenticated"}]
        assert (quote["T"], quote["S"], quote["ap"]) == ("q", "AAPL", 189.5)
        assert isinstance(quote["t"], msgpack.Timestamp)


def listing_price(symbol: str) -> Decimal:
    return next(listing.price for listing in DEFAULT_LISTINGS if listing.symbol == symbol)


class TestControlsAndLimits:
    async def test_the_drop_control_closes_with_1011_and_refuses_new_connections_for_a_while(
        self, alpaca_sim: SimServer
    ) -> None:
        async with authenticated(alpaca_sim) as ws:
            dropped = alpaca_sim.drop_data_stream(refuse=0.5)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), WAIT)
        with pytest.raises(InvalidStatus):
            await connect(alpaca_sim.data_stream_url(), open_timeout=WAIT)
        await asyncio.sleep(0.6)
        async with authenticated(alpaca_sim):
            connections = alpaca_sim.state()["data_connections"]

        assert dropped["closed"] == 1
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1011
        assert connections == 1

    async def test_data_requests_have_their_own_rate_limit_and_count(
        self, alpaca_sim_factory: Callable[..., SimServer]
    ) -> None:
        sim = alpaca_sim_factory(rate_limit=2)
        async with api(sim) as http:
            data_answers = [(await http.get("/v2/stocks/AAPL/quotes/latest")).status_code for _ in range(3)]
            trading_answers = [(await http.get("/v2/clock")).status_code for _ in range(2)]
        state = sim.state()

        assert data_answers == [200, 200, 429]
        assert trading_answers == [200, 200]
        assert (state["requests"], state["data_requests"]) == (5, 3)
