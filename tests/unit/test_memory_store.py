"""What only the in-memory store promises: payloads are built lazily, once, only for a relay;
`add_orders`, written without a unit of work, refuses and keeps exactly what one would."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

import attrs
import pytest

from adapters.memory import InMemoryOrderStore
from tests.contract.builders import new_order, payload_of, submitted
from tests.contract.test_order_store import unsent
from trading_core.errors import TradingError
from trading_core.events import Event
from trading_core.orders import Order
from trading_core.ports import OrderFilter
from trading_core.values import BrokerOrderId


class CountingCodec:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, event: Event) -> Mapping[str, Any]:
        self.calls += 1
        return payload_of(event)


async def test_a_payload_is_built_only_when_a_relay_reads_it_and_only_once() -> None:
    codec = CountingCodec()
    store = InMemoryOrderStore(payload_of=codec)
    order = new_order()
    event = submitted(order)
    async with store.unit_of_work() as uow:
        await uow.add_order(order)
        await uow.add_events([event])
        await uow.commit()
    after_commit = codec.calls

    async with store.claim_outbox() as batch:
        (message,) = batch.messages
        header = (message.event_id, message.type, message.occurred_at)
        after_header = codec.calls
        first = message.payload
    async with store.claim_outbox() as batch:  # not marked sent: claimed again
        second = batch.messages[0].payload

    assert after_commit == 0
    assert header == (event.event_id, "trade.order.submitted", event.ts_event)
    assert after_header == 0
    assert first == second == payload_of(event)
    assert codec.calls == 1


async def test_a_rolled_back_unit_never_builds_a_payload() -> None:
    codec = CountingCodec()
    store = InMemoryOrderStore(payload_of=codec)

    async with store.unit_of_work() as uow:
        await uow.add_events([submitted(new_order())])

    async with store.claim_outbox() as batch:
        assert batch.messages == []
    assert codec.calls == 0


STORED = new_order(broker_order_id=BrokerOrderId("broker-stored"))
STORED_EVENT = submitted(STORED)
FIRST = new_order(broker_order_id=BrokerOrderId("broker-first"))


def _sharing(order: Order, *fields: str) -> Order:
    """A new order with `fields` copied from `order`."""
    return attrs.evolve(new_order(), **{field: getattr(order, field) for field in fields})


BATCHES: dict[str, tuple[list[Order], list[Event]]] = {
    "fresh": ([FIRST, new_order()], [submitted(FIRST)]),
    "a stored client order id": ([FIRST, _sharing(STORED, "client_order_id")], []),
    "a stored id": ([FIRST, _sharing(STORED, "id")], []),
    "a stored broker id": ([FIRST, _sharing(STORED, "broker_order_id")], []),
    "a client order id twice": ([FIRST, _sharing(FIRST, "client_order_id")], []),
    "an id twice": ([FIRST, _sharing(FIRST, "id")], []),
    "a broker id twice": ([FIRST, _sharing(FIRST, "broker_order_id")], []),
    "the client order id checked first": ([FIRST, _sharing(FIRST, "id", "client_order_id")], []),
    "an event twice": ([FIRST], [submitted(FIRST)] * 2),
    "an event already queued": ([FIRST], [STORED_EVENT]),
}


async def _add_through_a_unit(store: InMemoryOrderStore, orders: list[Order], events: list[Event]) -> None:
    async with store.unit_of_work() as uow:
        for order in orders:
            await uow.add_order(order)
        await uow.add_events(events)
        await uow.commit()


async def _refusal(write: Awaitable[None]) -> tuple[type[TradingError], str] | None:
    try:
        await write
    except TradingError as e:
        return type(e), str(e)
    return None


async def _holding_one() -> InMemoryOrderStore:
    store = InMemoryOrderStore(payload_of=payload_of)
    await store.add_orders([STORED], [STORED_EVENT])
    return store


async def _contents(store: InMemoryOrderStore) -> tuple[list[Order], list[str]]:
    return (await store.list_orders(status=OrderFilter.ALL)).orders, await unsent(store)


@pytest.mark.parametrize("name", BATCHES)
async def test_add_orders_refuses_and_keeps_what_a_unit_of_work_would(name: str) -> None:
    orders, events = BATCHES[name]
    direct, through_a_unit = await _holding_one(), await _holding_one()

    refused = await _refusal(direct.add_orders(orders, events))
    expected = await _refusal(_add_through_a_unit(through_a_unit, orders, events))

    assert refused == expected
    assert (refused is None) == (name == "fresh")
    assert await _contents(direct) == await _contents(through_a_unit)


async def test_a_store_without_an_outbox_keeps_orders_and_no_events() -> None:
    codec = CountingCodec()
    store = InMemoryOrderStore(payload_of=codec, outbox=False)
    order = new_order()
    async with store.unit_of_work() as uow:
        await uow.add_order(order)
        await uow.add_events([submitted(order)])
        await uow.commit()
    later = new_order()
    await store.add_orders([later], [submitted(later)])

    async with store.claim_outbox() as batch:
        assert batch.messages == []
    assert await store.get_order(order.id) == order
    assert await store.get_order(later.id) == later
    assert codec.calls == 0
