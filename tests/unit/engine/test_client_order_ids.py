"""A client order id names one order: a repeat gets the first order back, another order gets 409."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from adapters.codec.events import event_payload
from adapters.memory.store import InMemoryOrderStore
from adapters.paper import PaperExchange
from tests.unit.engine.conftest import SlowStore, limit, market
from trading_core import OrderStatus, TestClock
from trading_core.broker_models import BrokerOrder
from trading_core.engine import TradingEngine
from trading_core.errors import BrokerError, DuplicateClientOrderId
from trading_core.orders import Order
from trading_core.ports import OrderFilter


@pytest.fixture
def store() -> InMemoryOrderStore:
    return SlowStore(payload_of=event_payload)  # stores after giving way, as a database does


async def _all_orders(engine: TradingEngine) -> list[str]:
    page = await engine.list_orders(status=OrderFilter.ALL, limit=500)
    return [o.id for o in page.orders]


async def test_another_order_under_a_used_id_is_refused_and_nothing_is_stored(
    engine: TradingEngine, exchange: PaperExchange
) -> None:
    exchange.set_price("AAPL", Decimal("100.00"))
    first = await engine.submit(limit("AAPL", "buy", 1, "50.00", client_order_id="my-order-1"))
    before = await _all_orders(engine)

    for other in (
        market("AAPL", "buy", 2, client_order_id="my-order-1"),
        limit("AAPL", "buy", 2, "50.00", client_order_id="my-order-1"),
        limit("AAPL", "sell", 1, "50.00", client_order_id="my-order-1"),
        limit("MSFT", "buy", 1, "50.00", client_order_id="my-order-1"),
    ):
        with pytest.raises(DuplicateClientOrderId) as refused:
            await engine.submit(other)
        assert refused.value.details == {"clientOrderId": "my-order-1", "orderId": first.order.id}

    assert await _all_orders(engine) == before


async def test_repeats_sent_together_all_get_the_one_order(engine: TradingEngine, exchange: PaperExchange) -> None:
    exchange.set_price("AAPL", Decimal("100.00"))

    results = await asyncio.gather(
        *(engine.submit(market("AAPL", "buy", 1, client_order_id="race-1")) for _ in range(20))
    )

    assert {r.order.id for r in results} == {results[0].order.id}
    assert len(await _all_orders(engine)) == 1
    assert (await engine.get_position("AAPL")).quantity == 1


async def test_a_retried_flip_is_not_sent_twice(engine: TradingEngine, exchange: PaperExchange) -> None:
    exchange.set_price("AAPL", Decimal("100.00"))
    await engine.submit(market("AAPL", "buy", 15))
    flip = market("AAPL", "sell", 20, client_order_id="flip-1")

    first = await engine.submit(flip)
    again = await engine.submit(flip)

    assert first.follow_up is not None
    assert again.order.id == first.order.id
    assert again.follow_up is not None
    assert again.follow_up.id == first.follow_up.id
    assert len(await _all_orders(engine)) == 3
    position = await engine.get_position("AAPL")
    assert (position.side, position.quantity) == ("short", 5)


class UnreachableExchange(PaperExchange):
    """Every submission fails before the exchange has it (a 503, say)."""

    async def submit_order(self, order: Order) -> BrokerOrder:
        raise BrokerError("service unavailable", retryable=True, status=503)


async def test_an_order_the_broker_never_received_says_to_resend_under_a_new_id(clock: TestClock) -> None:
    exchange = UnreachableExchange(clock)
    engine = TradingEngine(
        broker=exchange, store=InMemoryOrderStore(payload_of=event_payload), clock=clock, market_data=exchange
    )
    await engine.start()
    exchange.set_price("AAPL", Decimal("100.00"))
    request = market("AAPL", "buy", 1, client_order_id="once-1")

    first = await engine.submit(request)
    again = await engine.submit(request)

    assert (first.order.status, first.order.rejection_code) == (OrderStatus.REJECTED, "BROKER_ERROR")
    assert first.order.rejection_reason == (
        "not received by the broker: service unavailable; nothing was placed: submit it again under a new clientOrderId"
    )
    assert again.order.id == first.order.id
