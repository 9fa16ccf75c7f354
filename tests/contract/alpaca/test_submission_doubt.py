"""Submissions whose outcome is in doubt are resolved by their client order id, never sent twice."""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapters.alpaca.broker import AlpacaBroker
from apps.alpaca_sim import SimServer
from tests.contract.alpaca.support import assert_same_books, collect_updates, order, settled
from trading_core.engine import TradingEngine
from trading_core.enums import OrderStatus, OrderType, Side
from trading_core.orders import TradeEvent
from trading_core.requests import OrderRequest

BUY_10 = OrderRequest.create(symbol="AAPL", side=Side.BUY, type=OrderType.MARKET, quantity=Decimal(10))


async def test_a_504_after_acceptance_returns_the_order_alpaca_took(
    broker: AlpacaBroker, alpaca_sim: SimServer
) -> None:
    alpaca_sim.set_faults({"kind": "accept_then_status", "status": 504, "match": "POST /v2/orders", "count": 1})
    sent = order("AAPL", "buy", "10")

    accepted = await broker.submit_order(sent)

    assert accepted.client_order_id == sent.client_order_id
    assert alpaca_sim.state()["orders"] == 1


async def test_a_lost_response_returns_the_order_alpaca_took(broker: AlpacaBroker, alpaca_sim: SimServer) -> None:
    alpaca_sim.set_faults({"kind": "accept_then_drop", "match": "POST /v2/orders", "count": 1})
    sent = order("AAPL", "buy", "10")

    accepted = await broker.submit_order(sent)

    assert accepted.client_order_id == sent.client_order_id
    assert alpaca_sim.state()["orders"] == 1


async def test_a_slow_answer_past_the_timeout_is_found_not_resent(alpaca_sim: SimServer) -> None:
    from tests.contract.alpaca.support import opened_broker

    async with opened_broker(alpaca_sim, read_timeout=0.2) as broker:
        alpaca_sim.set_faults({"kind": "latency", "ms": 600, "match": "POST /v2/orders", "count": 1})
        sent = order("AAPL", "buy", "10")

        accepted = await broker.submit_order(sent)

    assert accepted.client_order_id == sent.client_order_id
    assert alpaca_sim.state()["orders"] == 1


async def test_a_replacement_answered_504_after_acceptance_is_found(
    broker: AlpacaBroker, alpaca_sim: SimServer
) -> None:
    from trading_core.values import ClientOrderId

    old = await broker.submit_order(order("AAPL", "buy", "2", type="limit", limit_price="100", time_in_force="gtc"))
    alpaca_sim.set_faults({"kind": "accept_then_status", "status": 504, "match": "PATCH /v2/orders", "count": 1})

    new = await broker.replace_order(
        old.broker_order_id, client_order_id=ClientOrderId("r-504"), limit_price=Decimal(101)
    )

    assert (new.client_order_id, new.replaces) == ("r-504", old.broker_order_id)
    assert alpaca_sim.state()["orders"] == 2


async def test_through_the_engine_a_504_and_a_lost_response_each_make_one_order(
    engine: TradingEngine, alpaca_sim: SimServer
) -> None:
    alpaca_sim.set_faults(
        {"kind": "accept_then_status", "status": 504, "match": "POST /v2/orders", "count": 1},
        {"kind": "partial_fills", "sizes": ["4"]},
    )
    first = await engine.submit(BUY_10)
    alpaca_sim.set_faults({"kind": "accept_then_drop", "match": "POST /v2/orders", "count": 1})
    second = await engine.submit(BUY_10)
    await settled(engine, alpaca_sim)

    # Read back: the engine's SubmitResult may hold the order as it was before sending when the
    # update task applied the stream's news first (reported; the stored order is what counts).
    for result in (first, second):
        assert (await engine.get_order(result.order.id)).broker_order_id is not None
    assert alpaca_sim.state()["orders"] == 2
    assert alpaca_sim.state()["positions"] == {"AAPL": "20"}
    await assert_same_books(engine, alpaca_sim)


async def test_a_fill_racing_a_cancel_ends_filled(engine: TradingEngine, alpaca_sim: SimServer) -> None:
    resting = await engine.submit(
        OrderRequest.create(
            symbol="AAPL", side=Side.BUY, type=OrderType.LIMIT, quantity=Decimal(5), limit_price=Decimal(180)
        )
    )
    alpaca_sim.set_faults({"kind": "fill_on_cancel"})

    await engine.cancel(resting.order.id)
    await settled(engine, alpaca_sim)

    done = await engine.get_order(resting.order.id)
    assert (done.status, done.filled_quantity) == (OrderStatus.FILLED, Decimal(5))
    await assert_same_books(engine, alpaca_sim)


async def test_the_broker_reports_the_race_as_fill_then_cancel_rejected(
    broker: AlpacaBroker, alpaca_sim: SimServer
) -> None:
    resting = await broker.submit_order(order("AAPL", "buy", "5", type="limit", limit_price="180"))
    alpaca_sim.set_faults({"kind": "fill_on_cancel"})

    await broker.cancel_order(resting.broker_order_id)
    updates = await collect_updates(broker, lambda us: any(u.event is TradeEvent.ORDER_CANCEL_REJECTED for u in us))

    events = [u.event for u in updates if u.order.broker_order_id == resting.broker_order_id]
    assert events[-2:] == [TradeEvent.FILL, TradeEvent.ORDER_CANCEL_REJECTED]


async def test_a_replace_that_arrives_after_the_fill_leaves_no_phantom_order(
    engine: TradingEngine, alpaca_sim: SimServer
) -> None:
    """The order fills at the broker while the stream holds the news; the engine's replace is refused."""
    from trading_core.errors import OrderNotCancelable
    from trading_core.ports import OrderFilter

    resting = await engine.submit(
        OrderRequest.create(
            symbol="AAPL", side=Side.BUY, type=OrderType.LIMIT, quantity=Decimal(5), limit_price=Decimal(180)
        )
    )
    alpaca_sim.set_faults({"kind": "stream_silent", "seconds": 1})
    alpaca_sim.set_price("AAPL", "179")  # it fills now; the engine hears of it later

    with pytest.raises(OrderNotCancelable):
        await engine.replace(resting.order.id, limit_price=Decimal("180.50"))
    await settled(engine, alpaca_sim)

    orders = (await engine.list_orders(status=OrderFilter.ALL, limit=10)).orders
    assert [o.status for o in orders if o.replaces == resting.order.id] == [OrderStatus.REJECTED]
    assert (await engine.list_orders(status=OrderFilter.OPEN)).orders == []
    await assert_same_books(engine, alpaca_sim)
