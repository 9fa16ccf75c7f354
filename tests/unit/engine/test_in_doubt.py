"""Orders in doubt through the engine alone (the paper exchange behind a misbehaving gateway).

The same behaviour is proven over real sockets in tests/contract/alpaca/test_in_doubt.py; these
pin the engine's own decisions: what a cancel does to an order that may be at the broker, and
that the order list decides only past the window.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from adapters.paper import PaperExchange
from tests.unit.engine.conftest import GENEROUS, limit, started_engine
from trading_core import OrderStatus, TestClock
from trading_core.broker_models import BrokerOrder
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.errors import OrderInDoubt, OrderNotCancelable
from trading_core.orders import Order
from trading_core.ports import OrderFilter
from trading_core.values import ClientOrderId


class Gateway(PaperExchange):
    """The exchange behind a gateway that can hold a submission, or take it and answer nothing."""

    def __init__(self, clock: TestClock) -> None:
        super().__init__(clock)
        self.hold: asyncio.Event | None = None
        self.reached = asyncio.Event()
        self.take_unanswered = False
        self.drop_unanswered = False
        self.hide = False

    async def submit_order(self, order: Order) -> BrokerOrder:
        self.reached.set()
        if self.hold is not None:
            await self.hold.wait()
        if self.drop_unanswered:
            raise OrderInDoubt(f"order {order.client_order_id} is in doubt: 502 from the gateway")
        accepted = await super().submit_order(order)
        if self.take_unanswered:
            raise OrderInDoubt(f"order {order.client_order_id} is in doubt: 504 from the gateway")
        return accepted

    async def get_order_by_client_id(self, client_order_id: ClientOrderId) -> BrokerOrder | None:
        return None if self.hide else await super().get_order_by_client_id(client_order_id)


@pytest.fixture
def gateway(clock: TestClock) -> Gateway:
    gateway = Gateway(clock)
    gateway.set_price("AAPL", Decimal("100.00"))
    return gateway


@pytest.fixture
async def engine(gateway: Gateway, clock: TestClock) -> TradingEngine:
    return await started_engine(gateway, clock, EngineConfig(limits=GENEROUS, in_doubt_window=timedelta(seconds=60)))


RESTING = limit("AAPL", "buy", 5, "90.00", time_in_force="gtc")


async def _at_the_exchange(gateway: Gateway) -> list[BrokerOrder]:
    return await gateway.list_orders(status=OrderFilter.ALL, limit=100)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda engine, order_id: engine.cancel(order_id), id="cancel"),
        pytest.param(lambda engine, order_id: engine.replace(order_id, limit_price=Decimal("91.00")), id="replace"),
    ],
)
async def test_a_change_while_the_order_is_on_its_way_is_refused_not_done_here(
    engine: TradingEngine, gateway: Gateway, change: Callable[[TradingEngine, str], Awaitable[object]]
) -> None:
    gateway.hold = asyncio.Event()
    submitting = asyncio.create_task(engine.submit(RESTING))
    await gateway.reached.wait()
    (order,) = engine.book.open_orders.values()

    with pytest.raises(OrderNotCancelable, match="being placed"):
        await change(engine, order.id)

    gateway.hold.set()
    placed = (await submitting).order
    assert (placed.status, placed.replaced_by) == (OrderStatus.NEW, None)  # it works at the broker, and here too
    assert [o.status for o in await _at_the_exchange(gateway)] == [OrderStatus.NEW]


async def test_a_cancel_of_an_order_in_doubt_cancels_it_at_the_broker(engine: TradingEngine, gateway: Gateway) -> None:
    gateway.take_unanswered, gateway.hide = True, True
    result = await engine.submit(RESTING)
    assert (result.order.status, result.order.broker_order_id) == (OrderStatus.PENDING_NEW, None)
    gateway.take_unanswered, gateway.hide = False, False

    cancelled = await engine.cancel(result.order.id)

    assert cancelled.status is OrderStatus.CANCELED
    assert cancelled.broker_order_id is not None
    assert [o.status for o in await _at_the_exchange(gateway)] == [OrderStatus.CANCELED]


async def test_the_order_list_decides_only_past_the_window(
    engine: TradingEngine, gateway: Gateway, clock: TestClock
) -> None:
    gateway.drop_unanswered = True
    result = await engine.submit(RESTING)

    clock.advance(timedelta(seconds=59))
    assert await engine.reconcile_orders() == 0
    assert (await engine.get_order(result.order.id)).status is OrderStatus.PENDING_NEW
    clock.advance(timedelta(seconds=1))
    assert await engine.reconcile_orders() == 1
    refused = await engine.get_order(result.order.id)
    assert (refused.status, refused.rejection_code) == (OrderStatus.REJECTED, "BROKER_ERROR")
    assert result.order.id not in engine.book.open_orders


async def test_a_replace_of_an_order_in_doubt_replaces_it_at_the_broker(
    engine: TradingEngine, gateway: Gateway
) -> None:
    gateway.take_unanswered, gateway.hide = True, True
    result = await engine.submit(RESTING)
    gateway.take_unanswered, gateway.hide = False, False

    replacement = (await engine.replace(result.order.id, limit_price=Decimal("91.00"))).order

    assert (replacement.status, replacement.limit_price) == (OrderStatus.NEW, Decimal("91.00"))
    old = await engine.get_order(result.order.id)
    assert (old.status, old.replaced_by) == (OrderStatus.REPLACED, replacement.id)
    statuses = sorted(o.status for o in await _at_the_exchange(gateway))
    assert statuses == sorted([OrderStatus.REPLACED, OrderStatus.NEW])
