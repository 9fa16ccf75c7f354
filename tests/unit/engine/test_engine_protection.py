"""The spec's stop-loss keeps its promise when an entry ends in part filled (issue #17).

With `risk.stopLossPercent` / `risk.takeProfitPercent` set, an opening order goes out with exits
the engine attached. Should it end before it has filled completely (cancelled, a day order expired
at the close), its legs end with it as at Alpaca, and the engine protects what it did fill with
exits of its own: an OCO at the legs' prices for a bracket, a stop for an OTO's stop-loss. They
are sent once, whatever repeats the news of the end, and after a restart in between.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from adapters.calendar import NyseCalendar
from adapters.codec.events import event_payload
from adapters.memory.store import InMemoryOrderStore
from adapters.paper import PaperConfig, PaperExchange
from adapters.postgres import PostgresOrderStore
from tests.unit.engine.conftest import limit
from trading_core import OrderStatus, RiskLimits, TestClock
from trading_core.broker_models import BrokerOrder
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.enums import EngineProtection, OrderClass, OrderType, Side, TimeInForce
from trading_core.events import Event, OrderRejected, PositionClosed
from trading_core.order_classes import StopLoss, TakeProfit
from trading_core.orders import Order
from trading_core.ports import OrderFilter, OrderStore
from trading_core.values import Symbol

D = Decimal
STRATEGY = "6b0f4a9e-7a51-4d3c-9a2e-1f5c8d7b3e10"
PROTECTED = RiskLimits(
    max_position_size_percent=D(100),
    max_sector_exposure_percent=D(100),
    max_daily_loss_percent=D(50),
    enable_day_trade_budget=False,
    stop_loss_percent=D(5),
    take_profit_percent=D(10),
)
"""Exits attached 5 % under and 10 % over the entry's price: a limit buy at 100 gets 95 and 110."""
STOP_ONLY = RiskLimits(
    max_position_size_percent=D(100),
    max_sector_exposure_percent=D(100),
    max_daily_loss_percent=D(50),
    enable_day_trade_budget=False,
    stop_loss_percent=D(5),
)


def new_exchange(clock: TestClock, cls: type[PaperExchange] = PaperExchange) -> PaperExchange:
    """A paper exchange where one order takes at most 4 shares at one price: a move fills 4 of 10."""
    exchange = cls(clock, config=PaperConfig(starting_cash=D(1_000_000), max_fill_quantity=D(4)))
    exchange.set_price("AAPL", D(101))
    return exchange


async def entry_filled_in_part(engine: TradingEngine, exchange: PaperExchange, **extra: object) -> Order:
    """A limit buy of 10 AAPL at 100 (its exits attached by the engine) with 4 filled at 99.50."""
    result = await engine.submit(limit("AAPL", "buy", 10, "100", strategy_id=STRATEGY, **extra))
    exchange.set_price("AAPL", D("99.50"))
    await engine.process_updates()
    entry = await engine.get_order(result.order.id)
    assert (entry.status, entry.filled_quantity) == (OrderStatus.PARTIALLY_FILLED, D(4))
    return entry


async def engine_exits(store: OrderStore) -> list[Order]:
    """Every order the engine sent to protect what an entry filled before it ended in part."""
    page = await store.list_orders(status=OrderFilter.ALL, limit=100)
    return [o for o in page.orders if o.engine_protection is EngineProtection.FILLED_PART]


async def open_sells(exchange: PaperExchange) -> list[BrokerOrder]:
    """The open sell orders at the exchange (the entry's legs have ended with it)."""
    return [o for o in await exchange.list_orders(status=OrderFilter.OPEN, limit=100) if o.side is Side.SELL]


@pytest.fixture
def events() -> list[Event]:
    return []


async def protected_engine(
    clock: TestClock, exchange: PaperExchange, store: OrderStore, events: list[Event], limits: RiskLimits = PROTECTED
) -> TradingEngine:
    engine = TradingEngine(
        broker=exchange, store=store, clock=clock, market_data=exchange, config=EngineConfig(limits=limits)
    )
    engine.subscribe(events.append)
    await engine.start()
    return engine


class TestABracketEndedInPart:
    async def test_the_filled_part_gets_an_oco_at_the_legs_prices(self, clock: TestClock, events: list[Event]) -> None:
        exchange = new_exchange(clock)
        store = InMemoryOrderStore(payload_of=event_payload)
        engine = await protected_engine(clock, exchange, store, events)
        entry = await entry_filled_in_part(engine, exchange)
        assert entry.engine_protection is EngineProtection.EXITS_ATTACHED

        await engine.cancel(entry.id)
        await engine.process_updates()

        (oco,) = await engine_exits(store)
        (stop,) = [await engine.get_order(leg) for leg in oco.legs]
        assert (oco.order_class, oco.side, oco.type, oco.quantity) == (OrderClass.OCO, Side.SELL, OrderType.LIMIT, D(4))
        assert (oco.limit_price, oco.take_profit, oco.stop_loss) == (D(110), TakeProfit(D(110)), StopLoss(D(95)))
        assert (oco.parent_id, oco.strategy_id, oco.status) == (entry.id, STRATEGY, OrderStatus.NEW)
        assert (stop.leg_of, stop.type, stop.stop_price, stop.quantity) == (oco.id, OrderType.STOP, D(95), D(4))
        assert engine.protective_orders("AAPL") == [oco, stop]
        cancelled = await engine.get_order(entry.id)
        assert (cancelled.status, cancelled.filled_quantity) == (OrderStatus.CANCELED, D(4))
        assert [o.status for o in [await engine.get_order(leg) for leg in entry.legs]] == [OrderStatus.CANCELED] * 2

    async def test_its_stop_fills_when_the_price_falls_and_the_position_is_flat(
        self, clock: TestClock, events: list[Event]
    ) -> None:
        exchange = new_exchange(clock)
        store = InMemoryOrderStore(payload_of=event_payload)
        engine = await protected_engine(clock, exchange, store, events)
        entry = await entry_filled_in_part(engine, exchange)
        await engine.cancel(entry.id)
        await engine.process_updates()

        exchange.set_price("AAPL", D("94.50"))
        await engine.process_updates()

        (oco,) = await engine_exits(store)
        (stop,) = [await engine.get_order(leg) for leg in oco.legs]
        assert (stop.status, stop.filled_quantity, stop.average_fill_price) == (OrderStatus.FILLED, D(4), D("94.5"))
        assert oco.status is OrderStatus.CANCELED
        assert await store.get_position(Symbol("AAPL")) is None
        # 4 bought at 99.50, sold at 94.50.
        assert [e.realized_pnl for e in events if isinstance(e, PositionClosed)] == [D(-20)]
        assert engine.protective_orders("AAPL") == []

    async def test_a_users_own_bracket_keeps_alpacas_behaviour(self, clock: TestClock, events: list[Event]) -> None:
        exchange = new_exchange(clock)
        store = InMemoryOrderStore(payload_of=event_payload)
        engine = await protected_engine(clock, exchange, store, events)
        asked = {"order_class": "bracket", "take_profit": {"limit_price": "112"}, "stop_loss": {"stop_price": "93"}}
        entry = await entry_filled_in_part(engine, exchange, **asked)
        assert entry.engine_protection is None

        await engine.cancel(entry.id)
        await engine.process_updates()

        assert await engine_exits(store) == []
        assert engine.protective_orders("AAPL") == []  # the 4 held unprotected, as at Alpaca
        assert (await engine.get_position("AAPL")).quantity == D(4)


class TestSentOnce:
    async def test_the_end_heard_twice_sends_one_oco(self, clock: TestClock, events: list[Event]) -> None:
        exchange = new_exchange(clock)
        store = InMemoryOrderStore(payload_of=event_payload)
        engine = await protected_engine(clock, exchange, store, events)
        entry = await entry_filled_in_part(engine, exchange)
        assert entry.broker_order_id is not None
        await exchange.cancel_order(entry.broker_order_id)  # cancelled at the broker: the stream tells
        updates = exchange.drain_updates()

        for update in [*updates, *updates]:
            await engine.apply_trade_update(update)
        await engine.reconcile_orders()  # and the order poll finds it ended too

        assert len(await engine_exits(store)) == 1
        # The OCO and its stop-loss leg, once.
        assert sorted(o.order_class for o in await open_sells(exchange)) == [OrderClass.OCO, OrderClass.SIMPLE]

    async def test_the_order_poll_first_then_the_stream_sends_one_oco(
        self, clock: TestClock, events: list[Event]
    ) -> None:
        exchange = new_exchange(clock)
        store = InMemoryOrderStore(payload_of=event_payload)
        engine = await protected_engine(clock, exchange, store, events)
        entry = await entry_filled_in_part(engine, exchange)
        assert entry.broker_order_id is not None
        await exchange.cancel_order(entry.broker_order_id)

        await engine.reconcile_orders()
        await engine.process_updates()

        (oco,) = await engine_exits(store)
        assert oco.status is OrderStatus.NEW
        assert len(await open_sells(exchange)) == 2


class DiesSendingExits(PaperExchange):
    """The process dies as it sends the engine's exits: before they reach the exchange, or after
    (`reached`), before the answer is stored."""

    dying = False
    reached = False

    async def submit_order(self, order: Order) -> BrokerOrder:
        if self.dying and order.engine_protection is EngineProtection.FILLED_PART:
            self.dying = False
            if self.reached:
                await super().submit_order(order)
            raise SystemExit("killed while sending the exits")
        return await super().submit_order(order)


@pytest.mark.parametrize("reached", [False, True], ids=["before-the-broker", "after-the-broker"])
async def test_a_restart_between_the_end_and_the_exits_sends_them_once(
    clock: TestClock, postgres_url: str, reached: bool, events: list[Event]
) -> None:
    exchange = new_exchange(clock, DiesSendingExits)
    first_store = await PostgresOrderStore.open(postgres_url, payload_of=event_payload)
    try:
        first = await protected_engine(clock, exchange, first_store, events)
        entry = await entry_filled_in_part(first, exchange)
        exchange.dying, exchange.reached = True, reached
        with pytest.raises(SystemExit):
            await first.cancel(entry.id)
    finally:
        await first_store.close()
    assert not exchange.dying

    store = await PostgresOrderStore.open(postgres_url, payload_of=event_payload)
    try:
        restarted = await protected_engine(clock, exchange, store, events)  # start-up reconciles
        await restarted.process_updates()
        await restarted.reconcile_orders()

        (oco,) = await engine_exits(store)
        assert (oco.status, oco.quantity, oco.parent_id) == (OrderStatus.NEW, D(4), entry.id)
        assert oco.broker_order_id is not None
        assert sorted(o.order_class for o in await open_sells(exchange)) == [OrderClass.OCO, OrderClass.SIMPLE]
        assert {o.id for o in restarted.protective_orders("AAPL")} == {oco.id, *oco.legs}
    finally:
        await store.close()


async def test_an_otos_stop_loss_protects_the_filled_part_with_a_stop(clock: TestClock, events: list[Event]) -> None:
    exchange = new_exchange(clock)
    store = InMemoryOrderStore(payload_of=event_payload)
    engine = await protected_engine(clock, exchange, store, events, STOP_ONLY)
    entry = await entry_filled_in_part(engine, exchange)
    assert entry.order_class is OrderClass.OTO

    await engine.cancel(entry.id)
    await engine.process_updates()

    (stop,) = await engine_exits(store)
    assert (stop.order_class, stop.type, stop.side, stop.stop_price, stop.quantity) == (
        OrderClass.SIMPLE,
        OrderType.STOP,
        Side.SELL,
        D(95),
        D(4),
    )
    assert (stop.status, engine.protective_orders("AAPL")) == (OrderStatus.NEW, [stop])


async def test_exits_refused_by_risk_are_recorded_and_announced(clock: TestClock, events: list[Event]) -> None:
    """A simple buy of the user's rests (an extended-hours limit, which takes no exits): Alpaca's
    wash-trade rule, and ours, refuse a simple stop sell against it."""
    exchange = new_exchange(clock)
    store = InMemoryOrderStore(payload_of=event_payload)
    engine = await protected_engine(clock, exchange, store, events, STOP_ONLY)
    entry = await entry_filled_in_part(engine, exchange)
    resting = await engine.submit(limit("AAPL", "buy", 1, "90", extended_hours=True))
    assert (resting.order.order_class, resting.order.status) == (OrderClass.SIMPLE, OrderStatus.NEW)

    await engine.cancel(entry.id)
    await engine.process_updates()

    (stop,) = await engine_exits(store)
    assert (stop.status, stop.rejection_code) == (OrderStatus.REJECTED, "WASH_TRADE")
    refusals = [e for e in events if isinstance(e, OrderRejected) and e.order.id == stop.id]
    assert [(e.code, e.order.parent_id) for e in refusals] == [("WASH_TRADE", entry.id)]
    assert stop.broker_order_id is None


async def test_a_day_entry_expired_at_the_close_in_part_gets_its_protection(
    clock: TestClock, events: list[Event]
) -> None:
    """The paper exchange on the NYSE calendar expires the day entry at 16:00 ET with 4 of 10 filled."""
    config = PaperConfig(starting_cash=D(1_000_000), max_fill_quantity=D(4), calendar=NyseCalendar())
    exchange = PaperExchange(clock, config=config)
    exchange.set_price("AAPL", D(101))
    store = InMemoryOrderStore(payload_of=event_payload)
    engine = await protected_engine(clock, exchange, store, events)
    entry = await entry_filled_in_part(engine, exchange)
    assert entry.time_in_force is TimeInForce.DAY

    clock.advance(timedelta(hours=6, seconds=1))  # Monday 10:00 ET to just past the close
    assert exchange.follow_calendar() is False  # what the exchange's timer does: the session closes
    await engine.process_updates()

    expired = await engine.get_order(entry.id)
    assert (expired.status, expired.filled_quantity) == (OrderStatus.EXPIRED, D(4))
    (oco,) = await engine_exits(store)
    assert (oco.quantity, oco.take_profit, oco.stop_loss, oco.parent_id) == (
        D(4),
        TakeProfit(D(110)),
        StopLoss(D(95)),
        entry.id,
    )
    assert oco.broker_order_id is not None  # taken by the exchange for the next session
    assert not oco.is_terminal
    assert {o.id for o in engine.protective_orders("AAPL")} == {oco.id, *oco.legs}


async def test_a_retried_order_whose_exits_the_engine_attached_gets_the_first_order(
    clock: TestClock, events: list[Event]
) -> None:
    """The retry asks for no exits, as the first did: the exits are the engine's, not a difference."""
    exchange = new_exchange(clock)
    engine = await protected_engine(clock, exchange, InMemoryOrderStore(payload_of=event_payload), events)
    request = limit("AAPL", "buy", 10, "100", client_order_id="retry-me-1")
    first = await engine.submit(request)
    assert first.order.order_class is OrderClass.BRACKET

    again = await engine.submit(request)

    assert again.order.id == first.order.id


async def test_the_risk_checks_measure_the_exits_without_themselves(clock: TestClock, events: list[Event]) -> None:
    """Stored (and held by the book) before they are checked, the exits must not count against
    themselves: the OCO's 4 on top of its own 4 would sell 4 short, which this account may not."""
    config = PaperConfig(starting_cash=D(1_000_000), max_fill_quantity=D(4), shorting_enabled=False)
    exchange = PaperExchange(clock, config=config)
    exchange.set_price("AAPL", D(101))
    store = InMemoryOrderStore(payload_of=event_payload)
    engine = await protected_engine(clock, exchange, store, events)
    entry = await entry_filled_in_part(engine, exchange)

    await engine.cancel(entry.id)
    await engine.process_updates()

    (oco,) = await engine_exits(store)
    assert (oco.status, oco.rejection_code) == (OrderStatus.NEW, None)


async def test_the_engines_oco_at_a_new_price_is_still_the_engines_and_protects(
    clock: TestClock, events: list[Event]
) -> None:
    exchange = new_exchange(clock)
    store = InMemoryOrderStore(payload_of=event_payload)
    engine = await protected_engine(clock, exchange, store, events)
    entry = await entry_filled_in_part(engine, exchange)
    await engine.cancel(entry.id)
    await engine.process_updates()
    (oco,) = await engine_exits(store)

    moved = (await engine.replace(oco.id, limit_price=D(112))).order
    await engine.process_updates()

    new = await engine.get_order(moved.id)
    assert (new.replaces, new.limit_price, new.take_profit, new.status) == (
        oco.id,
        D(112),
        TakeProfit(D(112)),
        OrderStatus.NEW,
    )
    assert (new.engine_protection, new.parent_id, new.legs) == (EngineProtection.FILLED_PART, entry.id, oco.legs)
    assert {o.id for o in engine.protective_orders("AAPL")} == {new.id, *new.legs}
    assert len(await open_sells(exchange)) == 2
