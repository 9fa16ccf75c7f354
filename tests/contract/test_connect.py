"""`connect`: one entry point whatever the broker. The same strategy function runs on the paper
exchange and on the Alpaca simulator (over real sockets), in memory and on PostgreSQL, and gets
the same answers; leaving the block closes everything."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from adapters.inprocess import connect
from adapters.nats import NatsSettings
from tests.contract.nats_support import read_stream
from trading_core import OrderRequest
from trading_core.engine import TradingEngine
from trading_core.history import Timeframe

if TYPE_CHECKING:
    from apps.alpaca_sim import SimServer

STRATEGY = "0190a0e0-0000-7000-8000-0000000000aa"


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait for the broker's updates to reach the engine (they come by themselves, from its task)."""
    async with asyncio.timeout(10):
        while not await check():  # noqa: ASYNC110  # polling the engine, as a strategy would
            await asyncio.sleep(0.01)


async def buy_then_sell(engine: TradingEngine) -> dict[str, Any]:
    """A strategy: buy 10 AAPL, wait until held, sell them, wait until flat; what did it realize?"""

    async def held() -> bool:
        return await engine.find_position("AAPL") is not None

    async def flat() -> bool:
        return await engine.find_position("AAPL") is None

    for side, reached in (("buy", held), ("sell", flat)):
        request = OrderRequest.create(symbol="AAPL", side=side, type="market", quantity=10, strategy_id=STRATEGY)
        await engine.submit(request)
        await until(reached)
    fills = (await engine.list_fills(strategy_id=STRATEGY)).fills
    closed = (await engine.history.closed_positions(None, None, None, 10, None)).positions
    return {
        "realized": (await engine.realized_pnl(strategy_id=STRATEGY)).total,
        "by_fills": (fills[0].price - fills[1].price) * 10,
        "fills": [(f.side.value, f.quantity) for f in fills],
        "closed": [c.realized_pnl for c in closed],
        "snapshots": len(await engine.history.portfolio_history(None, None, Timeframe.ALL)),
    }


def check(result: dict[str, Any]) -> None:
    assert result["fills"] == [("sell", 10), ("buy", 10)]
    assert result["realized"] == result["by_fills"]
    assert result["closed"] == [result["realized"]]
    assert result["snapshots"] >= 2  # one at each fill at least


@pytest.mark.parametrize("stored", ["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_the_strategy_runs_on_the_paper_exchange(stored: str, request: pytest.FixtureRequest) -> None:
    database_url = request.getfixturevalue("postgres_url") if stored == "postgres" else None
    async with connect("paper", database_url=database_url) as engine:
        engine.broker.set_price("AAPL", Decimal("190.00"))  # type: ignore[attr-defined]
        result = await buy_then_sell(engine)
    check(result)
    assert result["realized"] == 0  # the paper price did not move


@pytest.mark.parametrize("stored", ["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_the_same_strategy_runs_on_the_simulator(
    stored: str, alpaca_sim: SimServer, request: pytest.FixtureRequest
) -> None:
    database_url = request.getfixturevalue("postgres_url") if stored == "postgres" else None
    alpaca_sim.set_price("AAPL", "190.00")
    sim = alpaca_sim.settings
    async with connect(
        alpaca_sim.url, key_id=sim.key_id, secret_key=sim.secret_key, database_url=database_url
    ) as engine:
        result = await buy_then_sell(engine)
    check(result)


async def test_leaving_the_block_stops_its_tasks_and_closes_the_simulators_stream(alpaca_sim: SimServer) -> None:
    sim = alpaca_sim.settings
    before = {t.get_name() for t in asyncio.all_tasks()}
    async with connect(alpaca_sim.url, key_id=sim.key_id, secret_key=sim.secret_key) as engine:
        assert (await engine.broker.health())["websocket"] == "connected"
        running = {t.get_name() for t in asyncio.all_tasks()} - before
        assert {"trade-updates", "portfolio-snapshots"} <= running
    await asyncio.sleep(0)
    assert {t.get_name() for t in asyncio.all_tasks() if not t.done()} - before == set()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"broker": "ibkr"}, "broker must be paper, alpaca-paper, alpaca-live or an http"),
        ({"broker": "alpaca-paper"}, "alpaca-paper needs key_id and secret_key"),
        ({"broker": "paper", "key_id": "k", "secret_key": "s"}, "the paper exchange takes no keys"),
        ({"broker": "paper", "snapshot_interval": 0}, "snapshot_interval must be more than 0"),
        ({"broker": "paper", "snapshot_interval": -1.5}, "snapshot_interval must be more than 0"),
    ],
)
def test_a_broker_it_cannot_connect_to_is_refused_at_once(args: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        connect(**args)


@pytest.mark.parametrize("stored", ["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_with_nats_the_events_are_published(
    stored: str, nats_settings: NatsSettings, request: pytest.FixtureRequest
) -> None:
    import nats

    database_url = request.getfixturevalue("postgres_url") if stored == "postgres" else None
    async with connect("paper", database_url=database_url, nats_url=nats_settings) as engine:
        engine.broker.set_price("AAPL", Decimal("190.00"))  # type: ignore[attr-defined]
        placed = await engine.submit(OrderRequest.create(symbol="AAPL", side="buy", type="market", quantity=1))
    # Left: whatever was committed has been flushed to the stream on the way out.
    client = await nats.connect(nats_settings.url)
    try:
        stored_events = await read_stream(client, nats_settings.events_stream)
    finally:
        await client.close()
    mine = [m.envelope["type"] for m in stored_events if m.envelope["data"].get("orderId") == placed.order.id]
    assert mine == ["trade.order.submitted", "trade.order.filled"]


async def test_a_listing_asked_for_a_status_it_does_not_know_is_refused() -> None:
    async with connect("paper") as engine:
        await engine.submit(OrderRequest.create(symbol="AAPL", side="buy", type="market", quantity=1))

        with pytest.raises(ValueError, match="status must be open, closed or all, was 'filled'"):
            await engine.list_orders(status="filled")  # type: ignore[arg-type]
        assert len((await engine.list_orders(status="closed")).orders) == 1  # type: ignore[arg-type]


def test_the_simulators_price_is_set_from_a_decimal_as_the_paper_exchanges_is(alpaca_sim: SimServer) -> None:
    alpaca_sim.set_price("AAPL", Decimal("101.25"))  # the same call a strategy makes on engine.broker
    assert alpaca_sim.state()["positions"] == {}
    assert alpaca_sim.control("GET", "state")["market_open"] is True

    with pytest.raises(TypeError, match="price must be a Decimal or a str, was float"):
        alpaca_sim.set_price("AAPL", 101.5)  # type: ignore[arg-type]  # a float would not be read exactly
