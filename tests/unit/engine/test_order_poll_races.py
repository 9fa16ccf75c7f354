"""The order poll and an order on its way to the broker: the poll must not refuse what is being sent.

The poll (every 5 s) asks the broker about each of our open orders; one without a broker id that
the broker does not know is recorded as never received. An order being stored, sent or replaced
right then is not known to the broker yet: refusing it would leave a live order marked rejected.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest

from adapters.codec.events import event_payload
from adapters.memory.store import InMemoryOrderStore
from adapters.paper import PaperExchange
from tests.unit.engine.conftest import GENEROUS, limit, market
from trading_core import Event, OrderStatus, TestClock
from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.engine.dispatch import Dispatch
from trading_core.engine.parts import EngineParts
from trading_core.orders import Order
from trading_core.values import ClientOrderId


class Gate:
    """Holds a call until the test opens it; `reached` is set when the call arrives."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.opened = asyncio.Event()

    async def wait(self) -> None:
        self.reached.set()
        await self.opened.wait()


class GatedStore(InMemoryOrderStore):
    def __init__(self) -> None:
        super().__init__(payload_of=event_payload)
        self.gate: Gate | None = None

    async def add_orders(self, orders: Sequence[Order], events: Sequence[Event] = ()) -> None:
        if self.gate is not None:
            await self.gate.wait()
        await super().add_orders(orders, events)


class GatedExchange(PaperExchange):
    def __init__(self, clock: TestClock) -> None:
        super().__init__(clock)
        self.gates: dict[str, Gate] = {}

    async def submit_order(self, order: Order) -> BrokerOrder:
        if "submit" in self.gates:
            await self.gates["submit"].wait()
        return await super().submit_order(order)

    async def get_order_by_client_id(self, client_order_id: ClientOrderId) -> BrokerOrder | None:
        found = await super().get_order_by_client_id(client_order_id)  # answered now, heard later
        if "look_up" in self.gates:
            await self.gates["look_up"].wait()
        return found

    async def replace_order(self, *args: Any, **kwargs: Any) -> BrokerOrder:
        if "replace" in self.gates:
            await self.gates["replace"].wait()
        return await super().replace_order(*args, **kwargs)


@pytest.fixture
def gated(clock: TestClock) -> tuple[GatedExchange, GatedStore]:
    return GatedExchange(clock), GatedStore()


@pytest.fixture
async def engine(gated: tuple[GatedExchange, GatedStore], clock: TestClock) -> TradingEngine:
    exchange, store = gated
    engine = TradingEngine(
        broker=exchange, store=store, clock=clock, market_data=exchange, config=EngineConfig(limits=GENEROUS)
    )
    await engine.start()
    return engine


async def _poll_while_held(engine: TradingEngine, gate: Gate, call: asyncio.Task[Any]) -> int:
    await gate.reached.wait()
    corrections = await engine.reconcile_orders()  # the broker knows no such client order id yet
    gate.opened.set()
    await call
    return corrections


async def test_an_order_being_stored(engine: TradingEngine, gated: tuple[GatedExchange, GatedStore]) -> None:
    _, store = gated
    store.gate = Gate()
    submitting = asyncio.create_task(engine.submit(market("AAPL", "buy", 1)))

    corrections = await _poll_while_held(engine, store.gate, submitting)

    assert corrections == 0
    assert submitting.result().order.status is OrderStatus.FILLED


async def test_an_order_stored_and_sent_while_the_poll_asks_about_it(
    engine: TradingEngine, gated: tuple[GatedExchange, GatedStore]
) -> None:
    exchange, store = gated
    store.gate = Gate()
    submitting = asyncio.create_task(engine.submit(market("AAPL", "buy", 1)))
    await store.gate.reached.wait()
    look_up = exchange.gates["look_up"] = Gate()
    polling = asyncio.create_task(engine.reconcile_orders())
    asked = asyncio.create_task(look_up.reached.wait())
    # Either the poll has asked and the broker said it does not know the order, or it asked nothing.
    await asyncio.wait({polling, asked}, return_when=asyncio.FIRST_COMPLETED)
    asked.cancel()

    store.gate.opened.set()  # meanwhile the order is stored, sent and filled
    result = await submitting
    look_up.opened.set()
    corrections = await polling

    assert corrections == 0
    assert result.order.status is OrderStatus.FILLED
    assert (await engine.get_order(result.order.id)).status is OrderStatus.FILLED


async def test_an_order_being_sent(engine: TradingEngine, gated: tuple[GatedExchange, GatedStore]) -> None:
    exchange, _ = gated
    gate = exchange.gates["submit"] = Gate()
    submitting = asyncio.create_task(engine.submit(market("AAPL", "buy", 1)))

    corrections = await _poll_while_held(engine, gate, submitting)

    assert corrections == 0
    assert submitting.result().order.status is OrderStatus.FILLED


async def test_a_replacement_being_sent(engine: TradingEngine, gated: tuple[GatedExchange, GatedStore]) -> None:
    exchange, _ = gated
    exchange.set_price("AAPL", Decimal("100.00"))
    resting = await engine.submit(limit("AAPL", "buy", 1, "90.00"))
    gate = exchange.gates["replace"] = Gate()
    replacing = asyncio.create_task(engine.replace(resting.order.id, limit_price=Decimal("91.00")))

    corrections = await _poll_while_held(engine, gate, replacing)

    assert corrections == 0
    new = replacing.result().order
    assert (new.status, new.limit_price) == (OrderStatus.NEW, Decimal("91.00"))


def _dispatch_over(broker: GatedExchange, store: GatedStore, clock: TestClock) -> Dispatch:
    """The engine's dispatch room, over the engine's broker and store, as the order poll uses it."""
    immediate = timedelta(0)  # every read fresh: the races are the broker's and the store's, not a cache's
    config = EngineConfig(
        limits=GENEROUS, clock_ttl=immediate, account_sync_interval=immediate, account_read_gap=immediate
    )
    parts = EngineParts.assemble(broker=broker, store=store, clock=clock, market_data=broker, config=config)

    async def nothing_else(updates: Sequence[TradeUpdate]) -> None:
        raise AssertionError(f"no other order's updates were expected: {updates}")

    return Dispatch(parts, apply_others=nothing_else)


async def test_refusing_as_unsent_an_order_the_broker_has_since_taken_changes_nothing(
    engine: TradingEngine, gated: tuple[GatedExchange, GatedStore], clock: TestClock
) -> None:
    exchange, store = gated
    exchange.set_price("AAPL", Decimal("100.00"))
    resting = (await engine.submit(limit("AAPL", "buy", 1, "90.00"))).order
    seen_as_unsent = attrs.evolve(resting, broker_order_id=None, status=OrderStatus.PENDING_NEW)  # as the poll saw it

    after = await _dispatch_over(exchange, store, clock).refuse_unsent(seen_as_unsent, "not received by the broker")

    assert (after.status, after.broker_order_id) == (OrderStatus.NEW, resting.broker_order_id)
