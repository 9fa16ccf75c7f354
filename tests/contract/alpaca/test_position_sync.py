"""The position sync never copies a broker position over fills that are still on their way.

The stream is silent and the order reads fail: the broker's position already holds a fill we have
not applied. Copying it and then applying the fill when it arrives counted the fill twice (the
service showed MSFT 20 against the broker's 10 and refused a close).
"""

from __future__ import annotations

from decimal import Decimal

from apps.alpaca_sim import SimServer
from tests.contract.alpaca.support import assert_same_books, eventually, settled
from trading_core.engine import TradingEngine
from trading_core.enums import OrderType, Side, TimeInForce
from trading_core.requests import OrderRequest


async def test_the_sync_waits_for_fills_it_has_not_seen(engine: TradingEngine, alpaca_sim: SimServer) -> None:
    alpaca_sim.set_price("MSFT", "400")
    await engine.submit(OrderRequest.create(symbol="MSFT", side=Side.BUY, type=OrderType.MARKET, quantity=Decimal(10)))
    await eventually(lambda: "MSFT" in engine.book.positions, what="the first fill applied")
    resting = await engine.submit(
        OrderRequest.create(
            symbol="MSFT",
            side=Side.BUY,
            type=OrderType.LIMIT,
            quantity=Decimal(10),
            limit_price=Decimal(390),
            time_in_force=TimeInForce.GTC,
        )
    )
    alpaca_sim.set_faults(
        {"kind": "stream_silent", "seconds": 3},
        {"kind": "status", "status": 503, "match": "GET /v2/orders"},
    )
    alpaca_sim.set_price("MSFT", "389")  # it fills at the broker; we hear nothing of it yet

    assert await engine.reconcile_positions() == 0
    assert engine.book.positions["MSFT"].quantity == Decimal(10)

    alpaca_sim.set_faults()
    await settled(engine, alpaca_sim)
    assert (await engine.get_order(resting.order.id)).filled_quantity == Decimal(10)
    assert engine.book.positions["MSFT"].quantity == Decimal(20)
    assert await engine.reconcile_positions() == 0
    await assert_same_books(engine, alpaca_sim)
