"""Answers about an order that may exist: 202 while it is in doubt, and ids even in a 503.

The broker leaves a submission unanswered: the API answers 202 `pending` with the order's id, never
a refusal. The database fails after the broker took an order: the 503 names the order's id and
client order id (one is made for a client that sent none), so that a retry under that id gets the
order instead of buying twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from adapters.codec import event_payload
from adapters.memory import InMemoryEventBus, InMemoryOrderStore
from adapters.paper import PaperExchange
from apps.bootstrap import build
from apps.service.app import create_app
from tests.service.conftest import settings_with
from trading_core.broker_models import BrokerOrder
from trading_core.clock import SystemClock
from trading_core.errors import OrderInDoubt, StoreError
from trading_core.orders import Order
from trading_core.ports import OrderFilter, UnitOfWork

BUY = {"symbol": "AAPL", "side": "buy", "quantity": 10, "type": "market"}


class FlakyStore(InMemoryOrderStore):
    """A database that goes down when told to (`down`)."""

    def __init__(self) -> None:
        super().__init__(payload_of=event_payload)
        self.down = False

    def unit_of_work(self, *, optimistic: bool = False) -> AbstractAsyncContextManager[UnitOfWork]:
        if self.down:
            raise StoreError("the database is unavailable")
        return super().unit_of_work(optimistic=optimistic)


class Gateway(PaperExchange):
    """The broker behind a gateway: `unanswered` submissions reach it but get no answer;
    `then_store_down` takes the database down once the broker has the order."""

    def __init__(self, store: FlakyStore) -> None:
        super().__init__(SystemClock())
        self.store = store
        self.unanswered = False
        self.then_store_down = False

    async def submit_order(self, order: Order) -> BrokerOrder:
        accepted = await super().submit_order(order)
        if self.then_store_down:
            self.store.down = True
        if self.unanswered:
            raise OrderInDoubt(f"order {order.client_order_id} is in doubt: 504 from the gateway")
        return accepted

    async def replace_order(self, *args: Any, **kwargs: Any) -> BrokerOrder:
        accepted = await super().replace_order(*args, **kwargs)
        if self.then_store_down:
            self.store.down = True
        return accepted

    async def get_order_by_client_id(self, client_order_id: Any) -> BrokerOrder | None:
        return None if self.unanswered else await super().get_order_by_client_id(client_order_id)


@pytest.fixture
def store() -> FlakyStore:
    return FlakyStore()


@pytest.fixture
def gateway(store: FlakyStore) -> Gateway:
    gateway = Gateway(store)
    gateway.set_price("AAPL", Decimal(100))
    return gateway


@pytest.fixture
async def api(store: FlakyStore, gateway: Gateway) -> AsyncIterator[AsyncTestClient[Any]]:
    container = build(settings_with(), store=store, broker=gateway, bus=InMemoryEventBus(), clock=SystemClock())
    app = create_app(container)
    async with AsyncTestClient(app) as client:
        client.app.state.test_engine = container.engine
        yield client


async def test_an_unanswered_submission_answers_202_pending_with_its_id(
    api: AsyncTestClient[Any], gateway: Gateway
) -> None:
    gateway.unanswered = True

    answer = await api.post("/api/v1/orders", json={**BUY, "clientOrderId": "gw-1"})

    assert answer.status_code == 202
    body = answer.json()
    assert (body["status"], body["clientOrderId"]) == ("pending", "gw-1")
    stored = await api.get(f"/api/v1/orders/{body['orderId']}")  # settled since by the stream, it may be
    assert (stored.status_code, stored.json()["clientOrderId"]) == (200, "gw-1")
    again = await api.post("/api/v1/orders", json={**BUY, "clientOrderId": "gw-1"})
    assert again.json()["orderId"] == body["orderId"]


async def test_a_database_failure_after_the_broker_took_the_order_names_it(
    api: AsyncTestClient[Any], gateway: Gateway, store: FlakyStore
) -> None:
    gateway.then_store_down = True

    answer = await api.post("/api/v1/orders", json=BUY)  # no clientOrderId: one is made for it

    assert answer.status_code == 503
    error = answer.json()
    assert error["code"] == "STORE_ERROR"
    order_id, client_order_id = error["details"]["orderId"], error["details"]["clientOrderId"]
    assert client_order_id

    store.down = False
    await api.app.state.test_engine.reconcile_orders()  # the order poll, once the database is back
    retried = await api.post("/api/v1/orders", json={**BUY, "clientOrderId": client_order_id})
    assert retried.json()["orderId"] == order_id
    order = (await api.get(f"/api/v1/orders/{order_id}")).json()
    assert (order["status"], order["filledQuantity"]) == ("filled", 10)
    assert len(await gateway.list_orders(limit=100, status=OrderFilter.ALL)) == 1  # bought once


async def test_a_database_failure_after_the_broker_took_a_replacement_names_it(
    api: AsyncTestClient[Any], gateway: Gateway, store: FlakyStore
) -> None:
    resting = await api.post("/api/v1/orders", json={**BUY, "type": "limit", "limitPrice": 90, "timeInForce": "gtc"})
    old_id = resting.json()["orderId"]
    gateway.then_store_down = True

    answer = await api.patch(f"/api/v1/orders/{old_id}", json={"limitPrice": 91})

    assert answer.status_code == 503
    details = answer.json()["details"]
    store.down = False
    replacement = (await api.get(f"/api/v1/orders/{details['orderId']}")).json()
    assert (replacement["replaces"], replacement["clientOrderId"]) == (old_id, details["clientOrderId"])


class LostGateway(Gateway):
    """A gateway that timed out before the broker had the order: it never arrives."""

    async def submit_order(self, order: Order) -> BrokerOrder:
        raise OrderInDoubt(f"order {order.client_order_id} is in doubt: 504 from the gateway")

    async def get_order_by_client_id(self, client_order_id: Any) -> BrokerOrder | None:
        return None


async def test_a_read_of_an_order_in_doubt_says_so_until_evidence_settles_it(store: FlakyStore) -> None:
    """`pending_new` alone does not tell an order in doubt from one the broker has acknowledged:
    the operator (and the console) must see which one it is."""
    gateway = LostGateway(store)
    gateway.set_price("AAPL", Decimal(100))
    container = build(settings_with(), store=store, broker=gateway, bus=InMemoryEventBus(), clock=SystemClock())
    async with AsyncTestClient(create_app(container)) as api:
        answer = await api.post("/api/v1/orders", json={**BUY, "clientOrderId": "lost-1"})
        assert answer.status_code == 202
        order_id = answer.json()["orderId"]

        read = (await api.get(f"/api/v1/orders/{order_id}")).json()
        listed = (await api.get("/api/v1/orders")).json()["orders"]

        assert (read["brokerStatus"], read["inDoubt"]) == ("pending_new", True)
        assert [o.get("inDoubt") for o in listed if o["orderId"] == order_id] == [True]


async def test_an_order_the_broker_answered_is_not_in_doubt(api: AsyncTestClient[Any]) -> None:
    answer = await api.post("/api/v1/orders", json=BUY)

    assert answer.status_code == 201
    assert "inDoubt" not in (await api.get(f"/api/v1/orders/{answer.json()['orderId']}")).json()
