"""The trade update stream outlives a batch that fails to apply; reconciliation repairs that batch."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from decimal import Decimal

import attrs
import pytest

from adapters.codec.events import event_payload
from adapters.memory.store import InMemoryOrderStore
from adapters.paper import PaperExchange
from tests.unit.engine.conftest import limit
from tests.unit.paper_support import order
from trading_core import Event, OrderRequest, TestClock, TradeEvent
from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.engine import TradingEngine
from trading_core.enums import OrderStatus
from trading_core.errors import OrderNotFound, StoreError
from trading_core.ports import OrderFilter, UnitOfWork
from trading_core.values import BrokerOrderId


class StoreThatFailsOnce(InMemoryOrderStore):
    """Refuses the next unit of work once armed, as a database that drops a connection would."""

    armed = False

    def unit_of_work(self, *, optimistic: bool = False) -> AbstractAsyncContextManager[UnitOfWork]:
        if self.armed:
            self.armed = False
            raise StoreError("the database is unavailable: connection lost")
        return super().unit_of_work(optimistic=optimistic)


@pytest.fixture
def store() -> InMemoryOrderStore:
    return StoreThatFailsOnce(payload_of=event_payload)


@pytest.fixture
async def stream(engine: TradingEngine) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(engine.run_updates())
    yield task
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the stream did not get there")


async def test_a_batch_that_fails_is_logged_the_next_is_applied_and_reconciliation_repairs_the_first(
    engine: TradingEngine,
    exchange: PaperExchange,
    store: StoreThatFailsOnce,
    stream: asyncio.Task[None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = (await engine.submit(limit("AAPL", "buy", 10, "180"))).order
    second = (await engine.submit(limit("MSFT", "buy", 5, "300"))).order

    store.armed = True
    with caplog.at_level(logging.ERROR, logger="trading_core.engine"):
        exchange.set_price("AAPL", Decimal("179.50"))  # the first fills at the broker; storing it fails
        await until(lambda: not store.armed)
        await until(lambda: any("applying 1 trade updates failed" in r.getMessage() for r in caplog.records))
    assert (await engine.get_order(first.id)).status is not OrderStatus.FILLED

    exchange.set_price("MSFT", Decimal("299.00"))  # the stream is still there and applies this one
    await until(lambda: engine.book.positions.get("MSFT") is not None)
    assert (await engine.get_order(second.id)).status is OrderStatus.FILLED
    assert not stream.done()

    assert await engine.reconcile() >= 1
    repaired = await engine.get_order(first.id)
    assert (repaired.status, repaired.filled_quantity) == (OrderStatus.FILLED, Decimal(10))
    held = {p.symbol: p.quantity for p in await exchange.list_positions()}
    assert engine.book.positions["AAPL"].quantity == held["AAPL"] == Decimal(10)


async def test_a_position_adopted_from_the_broker_is_announced(
    engine: TradingEngine, exchange: PaperExchange, events: list[Event]
) -> None:
    exchange.set_price("AAPL", Decimal("100.00"))
    exchange.set_price("MSFT", Decimal("300.00"))
    await engine.submit(OrderRequest.create(symbol="AAPL", side="buy", type="market", quantity=10))
    await engine.submit(OrderRequest.create(symbol="TSLA", side="buy", type="market", quantity=4))
    # Behind the engine's back (trades it never hears of): AAPL closed, MSFT opened, TSLA grown.
    for symbol, side, quantity in (("AAPL", "sell", 10), ("MSFT", "buy", 5), ("TSLA", "buy", 2)):
        await exchange.submit_order(order(symbol, side, quantity))
    exchange.drain_updates()
    events.clear()

    assert await engine.reconcile_positions() == 3

    announced = sorted((e.TYPE, e.position.symbol, e.position.quantity) for e in events)  # type: ignore[attr-defined]
    assert announced == [
        ("trade.position.closed", "AAPL", 0),
        ("trade.position.opened", "MSFT", 5),
        ("trade.position.updated", "TSLA", 6),
    ]
    async with engine.store.claim_outbox(limit=100) as batch:  # stored with the change, for the bus
        adopted = {m.event_id for m in batch.messages[-3:]}
    assert adopted == {e.event_id for e in events}


class ForgetfulExchange(PaperExchange):
    """A paper exchange that has lost some orders, as an account reset loses them."""

    forgotten: frozenset[str] = frozenset()

    async def get_order(self, broker_order_id: BrokerOrderId) -> BrokerOrder:
        if broker_order_id in self.forgotten:
            raise OrderNotFound("order not found", details={"orderId": broker_order_id})
        return await super().get_order(broker_order_id)

    async def cancel_order(self, broker_order_id: BrokerOrderId) -> None:
        if broker_order_id in self.forgotten:
            raise OrderNotFound("order not found", details={"orderId": broker_order_id})
        await super().cancel_order(broker_order_id)

    async def list_orders(
        self,
        *,
        status: OrderFilter = OrderFilter.OPEN,
        after: datetime | None = None,
        until: datetime | None = None,
        limit: int = 500,
    ) -> list[BrokerOrder]:
        listed = await super().list_orders(status=status, after=after, until=until, limit=limit)
        return [o for o in listed if o.broker_order_id not in self.forgotten]


@pytest.mark.parametrize("how", ["poll", "cancel"])
async def test_an_order_the_broker_no_longer_knows_is_closed_not_left_open(clock: TestClock, how: str) -> None:
    exchange = ForgetfulExchange(clock)
    engine = TradingEngine(
        broker=exchange, store=InMemoryOrderStore(payload_of=event_payload), clock=clock, market_data=exchange
    )
    await engine.start()
    exchange.set_price("AAPL", Decimal("100.00"))
    resting = (await engine.submit(limit("AAPL", "buy", 1, "90.00"))).order
    assert resting.broker_order_id is not None
    exchange.forgotten = frozenset({resting.broker_order_id})
    heard: list[Event] = []
    engine.subscribe(heard.append)

    if how == "poll":
        assert await engine.reconcile_orders() == 1
    else:
        await engine.cancel(resting.id)

    closed = await engine.get_order(resting.id)
    assert closed.status is OrderStatus.CANCELED
    (cancelled,) = heard
    assert (cancelled.TYPE, cancelled.reason) == (  # type: ignore[attr-defined]
        "trade.order.cancelled",
        "canceled: the broker does not know this order",
    )
    assert engine.book.open_orders == {}
    assert await engine.reconcile_orders() == 0  # and the poll leaves it be from then on


async def test_quantities_a_broker_reports_at_its_own_scale_are_kept_at_four_places(
    engine: TradingEngine, exchange: PaperExchange
) -> None:
    exchange.set_price("AAPL", Decimal("100.00"))
    resting = (await engine.submit(limit("AAPL", "buy", 10, "90.00"))).order
    assert resting.broker_order_id is not None
    theirs = await exchange.get_order(resting.broker_order_id)
    # As Alpaca writes them: "0.5" and "90", not 0.5000 and 90.0000.
    snapshot = attrs.evolve(theirs, filled_quantity=Decimal("0.5"), filled_average_price=Decimal("90"))
    update = TradeUpdate(
        event=TradeEvent.PARTIAL_FILL,
        order=snapshot,
        timestamp=snapshot.updated_at,
        execution_id=None,
        price=Decimal("90"),
        quantity=Decimal("0.5"),
    )

    await engine.apply_trade_update(update)

    held = engine.book.positions["AAPL"]
    (fill,) = await engine.store.list_fills(resting.id)
    assert (str(held.quantity), str(fill.quantity), str(fill.price)) == ("0.5000", "0.5000", "90.0000")


async def test_a_trailing_stops_mark_heard_with_a_new_event_after_the_answer_is_kept(
    engine: TradingEngine, exchange: PaperExchange
) -> None:
    """The broker's answer came first; its `new` event, which changes no status, still brings a mark.

    Over the Alpaca adapter the answer and the stream race: when the answer won, the `new` was
    taken for a repeat and its mark dropped, so the order read no mark until the next poll.
    """
    exchange.set_price("AAPL", Decimal("190.00"))
    await engine.submit(OrderRequest.create(symbol="AAPL", side="buy", type="market", quantity=10))
    trailing = OrderRequest.create(symbol="AAPL", side="sell", type="trailing_stop", quantity=10, trail_percent=2)
    stop = (await engine.submit(trailing)).order
    assert (stop.status, stop.hwm) == (OrderStatus.NEW, Decimal(190))  # the answer's mark
    assert stop.broker_order_id is not None
    theirs = attrs.evolve(await exchange.get_order(stop.broker_order_id), hwm=Decimal(195))

    await engine.apply_trade_update(TradeUpdate(event=TradeEvent.NEW, order=theirs, timestamp=theirs.updated_at))

    assert (await engine.get_order(stop.id)).hwm == Decimal(195)
