"""In doubt is a state, not a refusal: an unanswered submission stays pending until evidence settles it.

Over real sockets against the simulator. A submission answered 5xx (a gateway's 504, say) may
be at the broker: the engine holds it pending with its exposure counted, adopts it when the
stream or a lookup shows it, and refuses it only once the broker's own order list proves it
absent after `in_doubt_window`. An order refused that way which the broker reports later is
adopted all the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from adapters.alpaca.broker import AlpacaBroker
from apps.alpaca_sim import SimServer
from tests.contract.alpaca.support import GENEROUS, assert_same_books, eventually, running_engine, settled
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.enums import OrderStatus, OrderType, Side, SubmitStatus
from trading_core.events import Event
from trading_core.requests import OrderRequest

WINDOW = timedelta(seconds=0.5)
"""The in-doubt window of these tests: short, so that the order list gets to decide."""

LOOKUPS_FAIL = {"kind": "status", "status": 503, "match": "GET /v2/orders:by_client_order_id"}


def buy(quantity: int = 10, client_order_id: str | None = None) -> OrderRequest:
    return OrderRequest.create(
        symbol="AAPL",
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=Decimal(quantity),
        client_order_id=client_order_id,
    )


@pytest.fixture
async def engine(broker: AlpacaBroker) -> AsyncIterator[TradingEngine]:
    async with running_engine(broker, broker, EngineConfig(limits=GENEROUS, in_doubt_window=WINDOW)) as running:
        yield running


@pytest.fixture
def events(engine: TradingEngine) -> list[Event]:
    seen: list[Event] = []
    engine.subscribe(seen.append)
    return seen


async def test_an_unanswered_order_the_broker_never_took_is_pending_not_refused(
    engine: TradingEngine, alpaca_sim: SimServer
) -> None:
    alpaca_sim.set_faults({"kind": "status", "status": 500, "match": "POST /v2/orders", "count": 1})

    result = await engine.submit(buy())

    assert result.status is SubmitStatus.PENDING
    assert (result.order.status, result.order.rejection_code) == (OrderStatus.PENDING_NEW, None)
    assert result.order.id in engine.book.open_orders  # its exposure is held by the risk checks
    assert [o.id for o in (await engine.risk_context(result.order.symbol)).open_orders] == [result.order.id]
    assert await engine.reconcile_orders() == 0  # within the window a miss settles nothing
    assert (await engine.get_order(result.order.id)).status is OrderStatus.PENDING_NEW


async def test_past_the_window_the_broker_order_list_proves_it_absent(
    engine: TradingEngine, alpaca_sim: SimServer, events: list[Event]
) -> None:
    alpaca_sim.set_faults({"kind": "status", "status": 500, "match": "POST /v2/orders", "count": 1})
    result = await engine.submit(buy(client_order_id="absent-1"))
    await asyncio.sleep(WINDOW.total_seconds())

    assert await engine.reconcile_orders() == 1

    refused = await engine.get_order(result.order.id)
    assert (refused.status, refused.rejection_code) == (OrderStatus.REJECTED, "BROKER_ERROR")
    assert "do not include it" in (refused.rejection_reason or "")
    assert [e.TYPE for e in events] == ["trade.order.rejected"]
    assert alpaca_sim.state()["orders"] == 0
    again = await engine.submit(buy(client_order_id="absent-1"))  # a retry gets the same order
    assert again.order.id == result.order.id


async def test_past_the_window_the_list_can_also_find_it(engine: TradingEngine, alpaca_sim: SimServer) -> None:
    """Lookups by client order id keep failing; the order list is evidence too."""
    alpaca_sim.set_faults(
        {"kind": "accept_then_status", "status": 504, "match": "POST /v2/orders", "count": 1},
        {"kind": "partial_fills", "sizes": ["4", "3"], "count": 1},
        {"kind": "stream_silent", "seconds": 2},
        LOOKUPS_FAIL,
    )
    result = await engine.submit(buy())
    assert result.status is SubmitStatus.PENDING
    await asyncio.sleep(WINDOW.total_seconds())

    assert await engine.reconcile_orders() >= 1

    found = await engine.get_order(result.order.id)
    assert found.broker_order_id is not None
    assert found.status is OrderStatus.FILLED
    # Its executions as the broker made them, each under the broker's own id (none made up).
    fills = await engine.store.list_fills(found.id)
    assert [f.quantity for f in fills] == [Decimal(4), Decimal(3), Decimal(3)]
    assert {f.execution_id for f in fills} == await _execution_ids(alpaca_sim)
    alpaca_sim.set_faults()
    await settled(engine, alpaca_sim)
    await assert_same_books(engine, alpaca_sim)


async def test_an_order_in_doubt_is_adopted_when_the_stream_reports_it(
    engine: TradingEngine, alpaca_sim: SimServer, events: list[Event]
) -> None:
    alpaca_sim.set_faults(
        {"kind": "accept_then_status", "status": 504, "match": "POST /v2/orders", "count": 1},
        {"kind": "stream_silent", "seconds": 1.5},  # past the adapter's lookups (1 s here)
        LOOKUPS_FAIL,
    )

    result = await engine.submit(buy())

    assert result.status is SubmitStatus.PENDING  # the broker has it, but nothing has shown it yet
    await eventually(lambda: engine.book.positions.get(result.order.symbol) is not None, what="the fill applied")
    done = await engine.get_order(result.order.id)
    assert (done.status, done.filled_quantity) == (OrderStatus.FILLED, Decimal(10))
    assert [e.TYPE for e in events] == ["trade.order.submitted", "trade.order.filled", "trade.position.opened"]
    assert alpaca_sim.state()["orders"] == 1
    alpaca_sim.set_faults()
    await assert_same_books(engine, alpaca_sim)


async def test_an_order_refused_as_absent_is_adopted_when_the_broker_reports_it_later(
    engine: TradingEngine, alpaca_sim: SimServer, events: list[Event]
) -> None:
    """A gateway delivered it long after its 500: the broker's word outweighs the verdict."""
    alpaca_sim.set_faults({"kind": "status", "status": 500, "match": "POST /v2/orders", "count": 1})
    result = await engine.submit(buy(client_order_id="late-1"))
    await asyncio.sleep(WINDOW.total_seconds())
    await engine.reconcile_orders()
    assert (await engine.get_order(result.order.id)).status is OrderStatus.REJECTED

    async with httpx.AsyncClient(base_url=alpaca_sim.url, headers=_auth(alpaca_sim)) as late_gateway:
        answer = await late_gateway.post(
            "/v2/orders",
            json={
                "symbol": "AAPL",
                "qty": "10",
                "side": "buy",
                "type": "market",
                "time_in_force": "day",
                "client_order_id": "late-1",
            },
        )
        answer.raise_for_status()

    await eventually(lambda: engine.book.positions.get(result.order.symbol) is not None, what="the late fill applied")
    adopted = await engine.get_order(result.order.id)
    assert (adopted.status, adopted.filled_quantity, adopted.rejection_code) == (OrderStatus.FILLED, Decimal(10), None)
    assert [e.TYPE for e in events] == [
        "trade.order.rejected",
        "trade.order.submitted",
        "trade.order.filled",
        "trade.position.opened",
    ]
    await assert_same_books(engine, alpaca_sim)


async def _execution_ids(sim: SimServer) -> set[str]:
    """The execution ids of the simulator's FILL activities (an activity id ends with its execution id)."""
    async with httpx.AsyncClient(base_url=sim.url, headers=_auth(sim)) as http:
        activities = (await http.get("/v2/account/activities/FILL")).json()
    return {a["id"].split("::")[-1] for a in activities}


def _auth(sim: SimServer) -> dict[str, str]:
    return {"APCA-API-KEY-ID": sim.settings.key_id, "APCA-API-SECRET-KEY": sim.settings.secret_key}


async def test_a_gateway_that_answers_504_and_delivers_later_doubles_nothing(
    engine: TradingEngine, alpaca_sim: SimServer
) -> None:
    """The issue's own run: 504 to a share of submissions, each delivered to the broker later.

    The client follows the service's answers only: nothing is resent, every order ends as the
    broker has it, and the position is what the broker holds.
    """
    alpaca_sim.set_faults({"kind": "accept_later", "status": 504, "ms": 1500, "match": "POST /v2/orders", "share": 0.3})
    results = [await engine.submit(buy(1)) for _ in range(30)]
    pending = [r for r in results if r.status is SubmitStatus.PENDING]
    assert pending, "the rule answered no submission 504"
    assert not [r for r in results if r.status is SubmitStatus.REJECTED]

    await eventually(lambda: alpaca_sim.state()["orders"] == 30, within=10, what="every order delivered")
    alpaca_sim.set_faults()
    await engine.reconcile_orders()
    await settled(engine, alpaca_sim)
    for result in results:
        order = await engine.get_order(result.order.id)
        assert (order.status, order.filled_quantity) == (OrderStatus.FILLED, Decimal(1)), order.client_order_id
    assert alpaca_sim.state()["positions"] == {"AAPL": "30"}
    await assert_same_books(engine, alpaca_sim)
