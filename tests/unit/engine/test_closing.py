"""Closing a position counts what is already being closed: a close never sells a share twice."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal

import pytest

from adapters.codec.events import event_payload
from adapters.memory.store import InMemoryOrderStore
from adapters.paper import PaperExchange
from tests.unit.engine.conftest import GENEROUS, limit, market, started_engine
from tests.unit.paper_support import order as paper_order
from trading_core import RiskLimits, TestClock
from trading_core.broker_models import BrokerOrder
from trading_core.engine import EngineConfig, MarketClosedPolicy, TradingEngine
from trading_core.enums import OrderStatus, Side
from trading_core.errors import InsufficientQuantity, InvalidOrder, PositionNotFound
from trading_core.events import Event
from trading_core.orders import Order
from trading_core.ports import OrderFilter
from trading_core.values import Symbol


async def sells(engine: TradingEngine) -> list[tuple[Decimal, OrderStatus]]:
    page = await engine.list_orders(status=OrderFilter.ALL)
    return sorted((o.quantity, o.status) for o in page.orders if o.side is Side.SELL)


class TestWhileTheCloseIsStillWorking:
    """The market is closed and market orders queue for the open: a close stays working meanwhile."""

    @pytest.fixture
    def engine_config(self, limits: RiskLimits) -> EngineConfig:
        return EngineConfig(limits=limits, market_closed_policy=MarketClosedPolicy.QUEUE)

    @pytest.fixture
    async def closed_market(self, engine: TradingEngine, exchange: PaperExchange) -> None:
        await engine.submit(market("AAPL", "buy", 6))
        exchange.close_market()
        await engine.session_closed()

    @pytest.mark.usefixtures("closed_market")
    async def test_a_second_close_sends_nothing_and_answers_with_the_working_close(self, engine: TradingEngine) -> None:
        first = await engine.close_position("AAPL")

        second = await engine.close_position("AAPL")

        assert second.order == first.order
        assert await sells(engine) == [(Decimal(6), OrderStatus.ACCEPTED)]

    @pytest.mark.usefixtures("closed_market")
    async def test_a_close_sends_only_what_is_not_already_being_closed(self, engine: TradingEngine) -> None:
        await engine.close_position("AAPL", Decimal(2))

        rest = await engine.close_position("AAPL")
        beyond = await engine.close_position("AAPL", Decimal(1))

        assert rest.order.quantity == Decimal(4)
        assert beyond.order == rest.order  # nothing left unclaimed: the newest close answers
        assert await sells(engine) == [(Decimal(2), OrderStatus.ACCEPTED), (Decimal(4), OrderStatus.ACCEPTED)]

    @pytest.mark.usefixtures("closed_market")
    async def test_a_partial_close_is_cut_to_what_is_not_already_being_closed(self, engine: TradingEngine) -> None:
        await engine.close_position("AAPL", Decimal(4))

        second = await engine.close_position("AAPL", Decimal(4))

        assert second.order.quantity == Decimal(2)

    @pytest.mark.usefixtures("closed_market")
    async def test_all_of_it_goes_out_at_the_open_and_leaves_it_flat(
        self, engine: TradingEngine, exchange: PaperExchange
    ) -> None:
        await engine.close_position("AAPL")
        await engine.close_all_positions()
        exchange.open_market()

        await engine.session_opened()

        assert await exchange.list_positions() == []
        assert await sells(engine) == [(Decimal(6), OrderStatus.FILLED)]


async def test_a_close_cancels_our_orders_on_both_sides_and_keeps_nothing_rejected(
    engine: TradingEngine, exchange: PaperExchange
) -> None:
    await engine.submit(market("KO", "buy", 6))
    resting_sell = (await engine.submit(limit("KO", "sell", 1, "80.00"))).order
    resting_buy = (await engine.submit(limit("KO", "buy", 1, "40.00"))).order

    closed = await engine.close_position("KO")

    assert (closed.order.quantity, closed.order.status) == (Decimal(6), OrderStatus.FILLED)
    assert (await engine.get_order(resting_sell.id)).status is OrderStatus.CANCELED
    assert (await engine.get_order(resting_buy.id)).status is OrderStatus.CANCELED
    assert await exchange.list_positions() == []


async def test_more_than_is_held_is_refused(engine: TradingEngine) -> None:
    await engine.submit(market("AAPL", "buy", 2))

    with pytest.raises(InsufficientQuantity, match="more than the 2") as raised:
        await engine.close_position("AAPL", Decimal(3))

    assert raised.value.code == "INSUFFICIENT_QUANTITY"  # a refusal for the account's state, not a malformed order


async def test_the_memory_store_holds_a_symbol_for_one_holder_at_a_time() -> None:
    store = InMemoryOrderStore(payload_of=event_payload)
    entered: list[str] = []

    async def hold(name: str, symbol: str) -> None:
        async with store.symbol_lock(Symbol(symbol)):
            entered.append(f"{name} in")
            await asyncio.sleep(0.01)
            entered.append(f"{name} out")

    await asyncio.gather(hold("a", "AAPL"), hold("b", "AAPL"), hold("c", "MSFT"))

    assert entered.index("b in") > entered.index("a out")  # b waited for a
    assert entered.index("c in") < entered.index("a out")  # another symbol did not


class HeldSubmissions(PaperExchange):
    """Holds a submission at the broker's door while `hold` is set: the order is on its way."""

    def __init__(self, clock: TestClock) -> None:
        super().__init__(clock)
        self.hold: asyncio.Event | None = None
        self.reached = asyncio.Event()

    async def submit_order(self, order: Order) -> BrokerOrder:
        if self.hold is not None:
            self.reached.set()
            await self.hold.wait()
        return await super().submit_order(order)


async def test_an_order_in_the_way_that_is_still_being_placed_is_cancelled_once_placed(clock: TestClock) -> None:
    exchange = HeldSubmissions(clock)
    engine = await started_engine(exchange, clock)
    exchange.set_price("AAPL", Decimal("100.00"))
    await engine.submit(market("AAPL", "buy", 6))
    exchange.hold = asyncio.Event()
    placing = asyncio.create_task(engine.submit(limit("AAPL", "sell", 1, "110.00", time_in_force="gtc")))
    await exchange.reached.wait()

    closing = asyncio.create_task(engine.close_position("AAPL"))
    await asyncio.sleep(0.1)  # the close finds the resting sell on its way: it cannot be cancelled yet
    exchange.hold.set()
    stop = (await placing).order
    exchange.hold = None
    close = await asyncio.wait_for(closing, timeout=5)

    assert (await engine.get_order(stop.id)).status is OrderStatus.CANCELED
    assert (close.order.quantity, close.order.status) == (Decimal(6), OrderStatus.FILLED)
    assert "AAPL" not in engine.book.positions


class HeldInserts(InMemoryOrderStore):
    """A database whose inserts wait while `hold` is set, as one under load does."""

    def __init__(self) -> None:
        super().__init__(payload_of=event_payload)
        self.hold: asyncio.Event | None = None
        self.reached = asyncio.Event()

    async def add_orders(self, orders: Sequence[Order], events: Sequence[Event] = ()) -> None:
        if self.hold is not None:
            self.reached.set()
            await self.hold.wait()
        await super().add_orders(orders, events)


async def test_a_close_counts_a_closing_order_this_process_is_still_storing(clock: TestClock) -> None:
    """A client's sell is checked and held in the book while its insert is on its way to the
    database: a close made meanwhile must count it, or the two sell twice what is held."""
    store = HeldInserts()
    exchange = PaperExchange(clock)
    engine = TradingEngine(
        broker=exchange, store=store, clock=clock, market_data=exchange, config=EngineConfig(limits=GENEROUS)
    )
    await engine.start()
    exchange.set_price("AAPL", Decimal("100.00"))
    await engine.submit(market("AAPL", "buy", 5))

    store.hold = asyncio.Event()
    selling = asyncio.create_task(engine.submit(market("AAPL", "sell", 5)))
    await store.reached.wait()  # held in the book, its insert not yet in the store
    closing = asyncio.create_task(engine.close_position("AAPL"))
    await asyncio.sleep(0.05)
    store.hold.set()
    results = await asyncio.gather(selling, closing, return_exceptions=True)

    sold = [o for o in await exchange.list_orders(status=OrderFilter.ALL, limit=10) if o.side is Side.SELL]
    assert sum(o.filled_quantity for o in sold) == Decimal(5), results
    assert "AAPL" not in engine.book.positions


async def test_a_close_never_sells_what_the_broker_no_longer_holds(
    engine: TradingEngine, exchange: PaperExchange
) -> None:
    """Our position is behind the broker's (a sale whose fill has not reached us): the close is
    bounded by the broker's position, so it does not sell short what was already sold."""
    exchange.set_price("AAPL", Decimal("100.00"))
    await engine.submit(market("AAPL", "buy", 5))
    await exchange.submit_order(paper_order("AAPL", "sell", 5))  # its news not applied here yet

    with pytest.raises(PositionNotFound, match="broker holds no AAPL"):
        await engine.close_position("AAPL")

    sold = [o for o in await exchange.list_orders(status=OrderFilter.ALL, limit=10) if o.side is Side.SELL]
    assert [o.quantity for o in sold] == [Decimal(5)]  # only the sale made behind our back


@pytest.mark.parametrize(
    ("quantity", "message"),
    [(1.5, "must be a Decimal, an int or a numeric string, was float"), (Decimal(0), "must be greater than 0")],
)
async def test_a_malformed_quantity_is_refused_before_any_order_is_cancelled(
    engine: TradingEngine, quantity: object, message: str
) -> None:
    await engine.submit(market("KO", "buy", 6))
    resting_buy = (await engine.submit(limit("KO", "buy", 1, "40.00"))).order

    with pytest.raises(InvalidOrder, match=message) as raised:
        await engine.close_position("KO", quantity)  # type: ignore[arg-type]  # what a strategy might pass

    assert raised.value.field == "quantity"
    assert (await engine.get_order(resting_buy.id)).status is OrderStatus.NEW
    assert (await engine.get_position("KO")).quantity == 6


async def test_a_quantity_is_read_as_an_order_reads_it(engine: TradingEngine) -> None:
    await engine.submit(market("KO", "buy", 6))

    closed = await engine.close_position("KO", "2")  # type: ignore[arg-type]  # a numeric string, as OrderRequest takes

    assert (closed.order.quantity, closed.order.status) == (Decimal(2), OrderStatus.FILLED)
    assert (await engine.get_position("KO")).quantity == 4


async def test_more_than_is_held_is_refused_before_any_order_is_cancelled(engine: TradingEngine) -> None:
    await engine.submit(market("KO", "buy", 6))
    resting_buy = (await engine.submit(limit("KO", "buy", 1, "40.00"))).order

    with pytest.raises(InsufficientQuantity, match="more than the 6"):
        await engine.close_position("KO", Decimal(7))

    assert (await engine.get_order(resting_buy.id)).status is OrderStatus.NEW
