"""The order poll and fills on their way: the poll applies Alpaca's own executions, never made-up ones.

Found by the chaos run (`benchmarks/chaos.py`): with the poll every second, it often read an order
as filled while the stream's updates for it were still in the inbox, and applied one fill of the
whole quantity under a made-up id (`<order id>:<quantity>`); the stream's real executions, arriving
next, were then dropped as already counted. The fills table and the events carried ids the broker
never gave. Here the engine's update task is not running, so the stream's updates wait in the
inbox exactly as they did then.
"""

from __future__ import annotations

from decimal import Decimal

import httpx

from adapters.alpaca.broker import AlpacaBroker
from adapters.codec.events import event_payload
from adapters.memory.store import InMemoryOrderStore
from apps.alpaca_sim import SimServer
from tests.contract.alpaca.support import GENEROUS, eventually
from trading_core import SystemClock
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.enums import OrderStatus, OrderType, Side
from trading_core.requests import OrderRequest


def _broker_executions(sim: SimServer) -> list[tuple[str, Decimal]]:
    headers = {"APCA-API-KEY-ID": "test", "APCA-API-SECRET-KEY": "test"}
    with httpx.Client(base_url=sim.url, headers=headers) as http:
        listed = http.get("/v2/account/activities/FILL", params={"direction": "asc"}).json()
    return [(a["id"].split("::", 1)[1], Decimal(a["qty"])) for a in listed]


async def test_the_poll_applies_the_executions_the_stream_has_not_delivered_yet_under_their_own_ids(
    broker: AlpacaBroker, alpaca_sim: SimServer
) -> None:
    store = InMemoryOrderStore(payload_of=event_payload)
    engine = TradingEngine(
        broker=broker, market_data=broker, store=store, clock=SystemClock(), config=EngineConfig(limits=GENEROUS)
    )
    await engine.start()  # no update task: the stream's updates stay in the inbox
    alpaca_sim.set_faults({"kind": "partial_fills", "sizes": ["3"], "count": 1})
    result = await engine.submit(
        OrderRequest.create(symbol="AAPL", side=Side.BUY, type=OrderType.MARKET, quantity=Decimal(10))
    )
    await eventually(lambda: len(_broker_executions(alpaca_sim)) == 2, what="the broker made two executions")

    await engine.reconcile_orders()

    order = await engine.get_order(result.order.id)
    assert (order.status, order.filled_quantity) == (OrderStatus.FILLED, Decimal(10))
    stored = [(f.execution_id, f.quantity) for f in await store.list_fills(order.id)]
    assert stored == _broker_executions(alpaca_sim)
    for update in broker.drain_updates():  # the stream's copies, arriving after the poll's
        await engine.apply_trade_update(update)
    assert [(f.execution_id, f.quantity) for f in await store.list_fills(order.id)] == stored
