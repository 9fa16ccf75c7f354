"""The replace race: the old order fills while `pending_replace`, or the broker refuses the replace.

Alpaca answers a replace at once with the proposed replacement, then may refuse it on the stream
(`order_replace_rejected`): the old order filled first, or could not be replaced. The replacement
never existed there, so it must not stay open here (a phantom the risk checks would count).
"""

from __future__ import annotations

from decimal import Decimal

from apps.alpaca_sim import SimServer
from apps.service.convert import order_body
from tests.contract.alpaca.support import eventually
from trading_core.engine import TradingEngine
from trading_core.enums import OrderStatus, OrderType, Side, TimeInForce
from trading_core.requests import OrderRequest


async def _resting_buy(engine: TradingEngine, alpaca_sim: SimServer) -> str:
    alpaca_sim.set_price("AAPL", "185")
    result = await engine.submit(
        OrderRequest.create(
            symbol="AAPL",
            side=Side.BUY,
            type=OrderType.LIMIT,
            quantity=Decimal(5),
            limit_price=Decimal(180),
            time_in_force=TimeInForce.GTC,
        )
    )
    return result.order.id


async def test_the_old_order_fills_while_pending_replace(engine: TradingEngine, alpaca_sim: SimServer) -> None:
    old_id = await _resting_buy(engine, alpaca_sim)
    alpaca_sim.set_faults({"kind": "fill_on_replace", "ms": 1000})

    replacement = (await engine.replace(old_id, limit_price=Decimal("180.50"))).order

    await eventually(lambda: _status(engine, old_id) is OrderStatus.PENDING_REPLACE, what="pending_replace shown")
    assert order_body(await engine.get_order(old_id)).broker_status == "pending_replace"  # as the API shows it
    await eventually(lambda: old_id not in engine.book.open_orders, what="the old order filled")
    await eventually(lambda: replacement.id not in engine.book.open_orders, what="the replacement closed")
    old = await engine.get_order(old_id)
    new = await engine.get_order(replacement.id)
    assert (old.status, old.filled_quantity) == (OrderStatus.FILLED, Decimal(5))
    assert (new.status, new.filled_quantity) == (OrderStatus.CANCELED, Decimal(0))
    assert engine.book.positions["AAPL"].quantity == Decimal(5)


def _status(engine: TradingEngine, order_id: str) -> OrderStatus | None:
    order = engine.book.open_orders.get(order_id)  # type: ignore[call-overload]
    return order.status if order is not None else None


async def test_a_refused_replace_leaves_the_old_order_working(engine: TradingEngine, alpaca_sim: SimServer) -> None:
    old_id = await _resting_buy(engine, alpaca_sim)
    alpaca_sim.set_faults({"kind": "replace_rejected", "ms": 200})

    replacement = (await engine.replace(old_id, limit_price=Decimal("180.50"))).order

    await eventually(lambda: replacement.id not in engine.book.open_orders, what="the replacement closed")
    old = await engine.get_order(old_id)
    assert old.status is OrderStatus.NEW
    assert [o.id for o in engine.book.open_orders_in(old.symbol)] == [old_id]
    alpaca_sim.set_faults()
    alpaca_sim.set_price("AAPL", "179")
    await eventually(lambda: "AAPL" in engine.book.positions, what="the old order filled")
    assert (await engine.get_order(old_id)).status is OrderStatus.FILLED
