"""The order poll and a bracket's held stop-loss, on Alpaca's terms: Alpaca's list of open orders
does not show a held leg (alpaca-trade-api-python #322, alpaca-trade-api-js #87: "only the limit
sell order is seen as an open order"), so the poll reads it on its own; at most once a minute,
not every round, or each protected position would cost twelve of Alpaca's 200 requests a minute."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from adapters.paper import PaperConfig, PaperExchange
from tests.unit.engine.conftest import market
from trading_core import TestClock
from trading_core.broker_models import BrokerOrder
from trading_core.engine import TradingEngine
from trading_core.enums import OrderStatus
from trading_core.ports import OrderFilter
from trading_core.values import BrokerOrderId, Symbol

D = Decimal


class AlpacaListing(PaperExchange):
    """The paper exchange, listing open orders as Alpaca does (no held legs), counting single reads."""

    def __init__(self, clock: TestClock, *, config: PaperConfig) -> None:
        super().__init__(clock, config=config)
        self.reads: list[BrokerOrderId] = []

    async def list_orders(
        self,
        *,
        status: OrderFilter = OrderFilter.OPEN,
        after: datetime | None = None,
        until: datetime | None = None,
        limit: int = 500,
    ) -> list[BrokerOrder]:
        listed = await super().list_orders(status=status, after=after, until=until, limit=limit)
        if status is OrderFilter.OPEN:
            return [o for o in listed if o.status is not OrderStatus.HELD]
        return listed

    async def get_order(self, broker_order_id: BrokerOrderId) -> BrokerOrder:
        self.reads.append(broker_order_id)
        return await super().get_order(broker_order_id)


@pytest.fixture
def exchange(clock: TestClock, paper_config: PaperConfig) -> AlpacaListing:
    return AlpacaListing(clock, config=paper_config)


async def held_stop_loss(engine: TradingEngine, exchange: AlpacaListing) -> BrokerOrderId:
    """A filled bracket's stop-loss, held at the broker: its broker order id."""
    exchange.set_price("AAPL", D("100"))
    result = await engine.submit(
        market(
            "AAPL", "buy", 10, order_class="bracket", take_profit={"limit_price": "110"}, stop_loss={"stop_price": "95"}
        )
    )
    await engine.process_updates()
    _, stop_id = result.order.legs
    stop = await engine.get_order(stop_id)
    assert stop.status is OrderStatus.HELD
    assert stop.broker_order_id is not None
    return stop.broker_order_id


async def test_a_held_stop_loss_is_read_on_its_own_at_most_once_a_minute(
    engine: TradingEngine, exchange: AlpacaListing, clock: TestClock
) -> None:
    stop = await held_stop_loss(engine, exchange)

    for _ in range(12):  # a minute of the 5 s poll
        await engine.reconcile_orders()
        clock.advance(timedelta(seconds=5))
    assert exchange.reads.count(stop) == 1

    await engine.reconcile_orders()  # a minute on
    assert exchange.reads.count(stop) == 2


async def test_a_held_stop_loss_that_filled_unheard_is_caught_by_the_poll_within_the_minute(
    engine: TradingEngine, exchange: AlpacaListing, clock: TestClock
) -> None:
    stop = await held_stop_loss(engine, exchange)
    await engine.reconcile_orders()

    exchange.set_price("AAPL", D("94"))  # the stop fills; the engine hears nothing of it
    exchange.drain_updates()
    for _ in range(12):
        clock.advance(timedelta(seconds=5))
        await engine.reconcile_orders()

    assert engine.book.held(Symbol("AAPL")) == 0  # the stop sold the 10
    stop_order = next(o for o in (await engine.list_orders(status=OrderFilter.ALL)).orders if o.broker_order_id == stop)
    assert stop_order.status is OrderStatus.FILLED
