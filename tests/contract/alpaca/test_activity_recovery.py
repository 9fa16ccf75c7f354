"""Fills the stream missed come back from the account's FILL activities, each as Alpaca executed it.

A private simulator where an order takes at most 3 shares at one price, so a market order of 10
fills in four executions at four prices as the price moves. The stream delivers the first one and
then goes silent; the adapter's watchdog reconnects and the backfill recovers the other three.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from adapters.alpaca.broker import AlpacaBroker
from adapters.paper import PaperConfig
from apps.alpaca_sim import SimServer
from tests.contract.alpaca.support import eventually, opened_broker, order, running_engine, settled
from trading_core.engine import TradingEngine
from trading_core.enums import OrderType, Side
from trading_core.requests import OrderRequest

PRICES = ("190.5", "191", "191.25")


@asynccontextmanager
async def _engine_on(sim: SimServer) -> AsyncIterator[tuple[TradingEngine, AlpacaBroker]]:
    async with opened_broker(sim) as broker, running_engine(broker, broker) as engine:
        yield engine, broker


def _executions(sim: SimServer, pages: int = 1) -> list[tuple[str, Decimal, Decimal]]:
    """The simulator's own record: (execution id, quantity, price) of each execution, oldest first."""
    listed: list[dict[str, Any]] = []
    with httpx.Client(base_url=sim.url, headers={"APCA-API-KEY-ID": "test", "APCA-API-SECRET-KEY": "test"}) as http:
        for _ in range(pages):
            token = {"page_token": listed[-1]["id"]} if listed else {}
            listed += http.get("/v2/account/activities/FILL", params={"direction": "asc", **token}).json()
    return [(a["id"].split("::")[1], Decimal(a["qty"]), Decimal(a["price"])) for a in listed]


async def _buy_ten_while_the_stream_is_silent(engine: TradingEngine, sim: SimServer) -> Any:
    """The first execution reaches the engine by the stream; the three after it happen in silence."""
    placed = await engine.submit(
        OrderRequest.create(symbol="AAPL", side=Side.BUY, type=OrderType.MARKET, quantity=Decimal(10))
    )
    order_id = placed.order.id

    async def first_fill_in() -> bool:
        return len(await engine.store.list_fills(order_id)) == 1

    await eventually(first_fill_in, what="the first execution, by the stream")
    sim.set_faults({"kind": "stream_silent", "seconds": 60})
    for moved in PRICES:
        sim.set_price("AAPL", moved)
    return order_id


async def test_fills_missed_by_the_stream_are_recovered_with_their_own_ids_quantities_and_prices(
    alpaca_sim_factory: Callable[..., SimServer],
) -> None:
    sim = alpaca_sim_factory(paper=PaperConfig(max_fill_quantity=Decimal(3)))
    async with _engine_on(sim) as (engine, broker):
        order_id = await _buy_ten_while_the_stream_is_silent(engine, sim)
        await settled(engine, sim)
        fills = await engine.store.list_fills(order_id)

    assert broker.stream.connections >= 2, "the watchdog did not reconnect the silent stream"
    assert [(f.execution_id, f.quantity, f.price) for f in fills] == _executions(sim)
    assert [f.quantity for f in fills] == [3, 3, 3, 1]
    assert [f.price for f in fills] == [Decimal(190), *map(Decimal, PRICES)]
    assert engine.book.positions["AAPL"].quantity == 10


async def test_when_the_activities_cannot_be_read_the_missed_fills_are_made_up_as_one_averaged_fill(
    alpaca_sim_factory: Callable[..., SimServer], caplog: pytest.LogCaptureFixture
) -> None:
    sim = alpaca_sim_factory(paper=PaperConfig(max_fill_quantity=Decimal(3)))
    async with _engine_on(sim) as (engine, _):
        order_id = await _buy_ten_while_the_stream_is_silent(engine, sim)
        sim.set_faults(
            {"kind": "stream_silent", "seconds": 60},
            {"kind": "status", "status": 503, "match": "GET /v2/account/activities"},
        )
        with caplog.at_level(logging.WARNING, logger="adapters.alpaca"):
            await settled(engine, sim)
        fills = await engine.store.list_fills(order_id)
    sim.set_faults()

    first, made_up = fills
    assert (first.execution_id, first.quantity) == (_executions(sim)[0][0], 3)
    assert made_up.quantity == 7
    missed = sum(q * p for _, q, p in _executions(sim)[1:])
    assert made_up.price == (missed / 7).quantize(Decimal("0.0001"))  # the three averaged, at four places
    assert "activities could not be read" in caplog.text
    assert "delivered as one averaged fill" in caplog.text


async def test_the_executions_are_read_across_pages_oldest_first(broker: AlpacaBroker, alpaca_sim: SimServer) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    for _ in range(105):
        await broker.submit_order(order("KO", "buy", "1"))

    read = await broker.list_fill_activities(after=started)

    assert [(a.execution_id, a.qty, a.price) for a in read] == _executions(alpaca_sim, pages=2)
    assert len({a.execution_id for a in read}) == 105
    assert await broker.list_fill_activities(after=datetime.now(UTC) + timedelta(seconds=1)) == []


async def test_a_fill_lost_while_the_stream_stays_up_is_read_from_the_activities(
    engine: TradingEngine, alpaca_sim: SimServer
) -> None:
    """The connection stays up but one partial fill never arrives: the fills after it wait for it,
    then the gap is read from the activities, and every execution is stored under its own id."""
    alpaca_sim.set_faults(
        {"kind": "partial_fills", "sizes": ["3", "3"], "count": 1},
        {"kind": "drop_updates", "events": ["partial_fill"], "count": 1},
    )
    placed = await engine.submit(
        OrderRequest.create(symbol="AAPL", side=Side.BUY, type=OrderType.MARKET, quantity=Decimal(10))
    )

    async def all_filled() -> bool:
        return (await engine.get_order(placed.order.id)).filled_quantity == Decimal(10)

    await eventually(all_filled, what="every execution applied")
    stored = sorted((f.execution_id, f.quantity, f.price) for f in await engine.store.list_fills(placed.order.id))
    assert stored == sorted(_executions(alpaca_sim))
    await settled(engine, alpaca_sim)
