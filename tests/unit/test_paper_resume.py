"""A paper account carried on after a restart: cash and positions resumed, cash derived from the fills."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from adapters.calendar import NyseCalendar
from adapters.codec.events import event_payload
from adapters.memory.store import InMemoryOrderStore
from adapters.paper import PaperConfig, PaperExchange
from adapters.paper.ledger import cash_after
from tests.unit.engine.conftest import GENEROUS, MONDAY_10AM_ET, limit, market
from tests.unit.paper_support import order
from trading_core import OrderRequest, TestClock
from trading_core.broker_models import BrokerOrder
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.enums import OrderStatus
from trading_core.positions import Position
from trading_core.reconcile import open_orders
from trading_core.values import Symbol

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
START = Decimal(1_000_000)


def fresh() -> PaperExchange:
    return PaperExchange(TestClock(MONDAY_10AM_ET), config=PaperConfig(starting_cash=START))


def held(symbol: str, quantity: str, cost_basis: str, realized: str = "0") -> Position:
    return Position(
        symbol=Symbol(symbol),
        quantity=Decimal(quantity),
        cost_basis=Decimal(cost_basis),
        realized_pnl=Decimal(realized),
        opened_at=MONDAY_10AM_ET,
        updated_at=MONDAY_10AM_ET,
    )


async def test_a_resumed_account_has_its_cash_and_positions_valued_at_the_current_price() -> None:
    exchange = fresh()
    exchange.set_price("AAPL", Decimal("200.00"))

    exchange.resume([held("AAPL", "10", "1850.00", realized="12.50")], Decimal("98150.00"))

    account = await exchange.get_account()
    assert (account.cash, account.equity, account.last_equity) == (
        Decimal("98150.00"),
        Decimal("100150.00"),
        Decimal("100150.00"),
    )
    [position] = await exchange.list_positions()
    assert (position.quantity, position.average_entry_price, position.cost_basis) == (
        Decimal(10),
        Decimal("185.0000"),
        Decimal("1850.00"),
    )


async def test_selling_a_resumed_position_realises_against_its_own_cost_basis() -> None:
    exchange = fresh()
    exchange.resume([held("AAPL", "10", "1850.00")], Decimal("98150.00"))
    exchange.set_price("AAPL", Decimal("190.00"))
    engine = TradingEngine(
        broker=exchange,
        store=InMemoryOrderStore(payload_of=event_payload),
        clock=TestClock(MONDAY_10AM_ET),
        market_data=exchange,
        config=EngineConfig(limits=GENEROUS),
    )
    await engine.start()  # reconciliation adopts the resumed position, as after a restart

    result = await engine.submit(market("AAPL", "sell", 4))

    assert result.order.filled_quantity == Decimal(4)
    assert engine.book.positions["AAPL"].realized_pnl == Decimal("20.00")  # 4 * (190 - 185)
    assert (await exchange.get_account()).cash == Decimal("98910.00")


async def test_only_a_fresh_account_can_be_resumed() -> None:
    exchange = fresh()
    await exchange.submit_order(order("AAPL", "buy", 1))

    with pytest.raises(ValueError, match="fresh"):
        exchange.resume([], START)


async def test_a_position_in_an_unlisted_symbol_is_refused_and_nothing_changes() -> None:
    exchange = fresh()
    before = await exchange.get_account()

    with pytest.raises(ValueError, match="ZZZZ"):
        exchange.resume([held("AAPL", "1", "190"), held("ZZZZ", "1", "5")], Decimal(1))

    assert await exchange.get_account() == before
    assert await exchange.list_positions() == []


async def engine_on(exchange: PaperExchange, clock: TestClock, store: InMemoryOrderStore) -> TradingEngine:
    engine = TradingEngine(
        broker=exchange, store=store, clock=clock, market_data=exchange, config=EngineConfig(limits=GENEROUS)
    )
    await engine.start()
    return engine


async def resumed_from(store: InMemoryOrderStore, clock: TestClock, **config: object) -> PaperExchange:
    """A new exchange (the process restarted) carried on from what the store recorded."""
    again = PaperExchange(clock, config=PaperConfig(starting_cash=START, **config))  # type: ignore[arg-type]
    still_open = await open_orders(store)
    again.resume(await store.list_positions(), cash_after(START, await store.fills_since(EPOCH)), still_open[::-1])
    return again


async def test_a_resting_partly_filled_limit_order_is_worked_again_under_its_id_and_fills_the_rest() -> None:
    clock = TestClock(MONDAY_10AM_ET)
    exchange = PaperExchange(clock, config=PaperConfig(starting_cash=START, max_fill_quantity=Decimal(4)))
    store = InMemoryOrderStore(payload_of=event_payload)
    engine = await engine_on(exchange, clock, store)
    exchange.set_price("AAPL", Decimal("190.00"))
    placed = (await engine.submit(limit("AAPL", "buy", 10, "185.00"))).order
    exchange.set_price("AAPL", Decimal("184.50"))  # crosses: 4 of 10 fill, the rest rests
    await engine.process_updates()
    exchange.set_price("AAPL", Decimal("186.00"))
    before = await engine.get_order(placed.id)
    assert (before.status, before.filled_quantity) == (OrderStatus.PARTIALLY_FILLED, Decimal(4))

    again = await resumed_from(store, clock)  # no fill limit now: the rest fills at once
    engine = await engine_on(again, clock, store)
    assert (await again.get_order(before.broker_order_id)).filled_quantity == Decimal(4)  # type: ignore[arg-type]
    assert await engine.reconcile() == 0  # nothing differs

    again.set_price("AAPL", Decimal("184.00"))
    await engine.process_updates()
    after = await engine.get_order(placed.id)
    assert (after.status, after.filled_quantity) == (OrderStatus.FILLED, Decimal(10))
    assert after.filled_notional == Decimal("184.50") * 4 + Decimal("184.00") * 6
    assert engine.book.positions["AAPL"].quantity == Decimal(10)
    assert cash_after(START, await store.fills_since(EPOCH)) == (await again.get_account()).cash


async def test_an_order_taken_while_closed_waits_for_the_open_after_a_restart() -> None:
    clock = TestClock(MONDAY_10AM_ET)
    exchange = PaperExchange(clock, config=PaperConfig(starting_cash=START, market_open=False))
    store = InMemoryOrderStore(payload_of=event_payload)
    engine = await engine_on(exchange, clock, store)
    placed = (await engine.submit(limit("MSFT", "buy", 3, "500.00"))).order
    assert placed.status is OrderStatus.ACCEPTED

    again = await resumed_from(store, clock, market_open=False)
    engine = await engine_on(again, clock, store)
    assert (await again.get_order(placed.broker_order_id)).status is OrderStatus.ACCEPTED  # type: ignore[arg-type]

    again.open_market()
    await engine.process_updates()
    assert (await engine.get_order(placed.id)).status is OrderStatus.FILLED


async def test_an_order_whose_cancel_was_asked_for_before_the_stop_is_cancelled() -> None:
    clock = TestClock(MONDAY_10AM_ET)
    store = InMemoryOrderStore(payload_of=event_payload)
    engine = await engine_on(fresh(), clock, store)
    placed = (await engine.submit(limit("AAPL", "buy", 5, "100.00"))).order
    asked = attrs.evolve(await engine.get_order(placed.id), status=OrderStatus.PENDING_CANCEL)

    again = fresh()
    again.resume([], START, [asked])

    assert (await again.get_order(placed.broker_order_id)).status is OrderStatus.CANCELED  # type: ignore[arg-type]
    assert [u.event for u in again.drain_updates()] == ["pending_cancel", "canceled"]
    assert (await again.get_account()).buying_power == START * 2


async def test_an_order_that_is_not_open_at_the_broker_is_not_resumed() -> None:
    clock = TestClock(MONDAY_10AM_ET)
    exchange = fresh()
    store = InMemoryOrderStore(payload_of=event_payload)
    engine = await engine_on(exchange, clock, store)
    filled = (await engine.submit(market("AAPL", "buy", 1))).order

    with pytest.raises(ValueError, match="not open at the broker"):
        fresh().resume([], START, [await engine.get_order(filled.id)])


steps_of_trading = st.lists(
    st.tuples(
        st.sampled_from(["AAPL", "MSFT"]),
        st.integers(-30, 30).filter(bool),  # signed quantity
        st.integers(-500, 500),  # the price, in cents from 200.00
        st.booleans(),  # a limit order 3.00 away from the price, which may rest and fill later
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(steps=steps_of_trading)
def test_the_fills_stored_give_the_cash_and_a_resumed_exchange_matches_the_original(
    steps: list[tuple[str, int, int, bool]],
) -> None:
    asyncio.run(_trade_then_resume(steps))


async def _trade_then_resume(steps: list[tuple[str, int, int, bool]]) -> None:
    clock = TestClock(MONDAY_10AM_ET)
    exchange = PaperExchange(clock, config=PaperConfig(starting_cash=START))
    store = InMemoryOrderStore(payload_of=event_payload)
    engine = await engine_on(exchange, clock, store)
    for symbol, quantity, cents, resting in steps:  # through zero and back, at moving prices
        exchange.set_price(symbol, Decimal(20_000 + cents).scaleb(-2))
        await engine.process_updates()
        side = "buy" if quantity > 0 else "sell"
        if resting:
            away = exchange.price(symbol) + (Decimal(-3) if quantity > 0 else Decimal(3))
            await engine.submit(limit(symbol, side, abs(quantity), str(away)))
        else:
            await engine.submit(market(symbol, side, abs(quantity)))
    await engine.process_updates()

    cash = cash_after(START, await store.fills_since(EPOCH))
    assert cash == (await exchange.get_account()).cash

    again = PaperExchange(TestClock(MONDAY_10AM_ET), config=PaperConfig(starting_cash=START))
    for symbol in ("AAPL", "MSFT"):
        again.set_price(symbol, exchange.price(symbol))
    still_open = await open_orders(store)
    event(f"orders left open: {bool(still_open)}")
    again.resume(await store.list_positions(), cash, [o for o in reversed(still_open) if o.broker_order_id])
    assert await again.list_positions() == await exchange.list_positions()
    mine, theirs = await again.get_account(), await exchange.get_account()
    assert (mine.cash, mine.equity) == (theirs.cash, theirs.equity)

    def working(orders: list[BrokerOrder]) -> list[tuple[object, ...]]:
        return [(o.broker_order_id, o.status, o.quantity, o.filled_quantity, o.limit_price) for o in orders]

    assert working(await again.list_orders()) == working(await exchange.list_orders())
    if not still_open:
        assert mine.buying_power == theirs.buying_power


def _bracket(entry_type: str = "market", **kw: object) -> OrderRequest:
    return OrderRequest.create(
        symbol="AAPL",
        side="buy",
        type=entry_type,
        quantity="10",
        time_in_force="gtc",
        order_class="bracket",
        take_profit={"limit_price": "200"},
        stop_loss={"stop_price": "180"},
        **kw,  # type: ignore[arg-type]
    )


async def test_a_brackets_working_legs_stay_one_exit_pair_after_a_restart() -> None:
    """The entry filled before the stop: after it, the two legs still fill 10 between them, once."""
    clock = TestClock(MONDAY_10AM_ET)
    store = InMemoryOrderStore(payload_of=event_payload)
    exchange = fresh()
    exchange.set_price("AAPL", Decimal(190))
    engine = await engine_on(exchange, clock, store)
    parent = (await engine.submit(_bracket())).order
    await engine.process_updates()
    take_profit, stop_loss = parent.legs

    again = await resumed_from(store, clock)
    engine = await engine_on(again, clock, store)
    again.set_price("AAPL", Decimal(201))
    await engine.process_updates()

    assert (await engine.get_order(take_profit)).status is OrderStatus.FILLED
    assert (await engine.get_order(stop_loss)).status is OrderStatus.CANCELED
    assert await again.list_positions() == []


async def test_a_leg_held_for_its_entry_stays_held_after_a_restart() -> None:
    clock = TestClock(MONDAY_10AM_ET)
    store = InMemoryOrderStore(payload_of=event_payload)
    exchange = fresh()
    exchange.set_price("AAPL", Decimal(190))
    engine = await engine_on(exchange, clock, store)
    parent = (await engine.submit(_bracket("limit", limit_price="185"))).order
    legs = [await engine.get_order(i) for i in parent.legs]

    again = await resumed_from(store, clock)
    engine = await engine_on(again, clock, store)
    at_broker = [await again.get_order(leg.broker_order_id) for leg in legs]  # type: ignore[arg-type]
    assert [leg.status for leg in at_broker] == [OrderStatus.HELD] * 2

    again.set_price("AAPL", Decimal(184))  # the entry fills: its legs work, the stop-loss still held
    await engine.process_updates()
    assert [(await engine.get_order(leg.id)).status for leg in legs] == [OrderStatus.NEW, OrderStatus.HELD]
    again.set_price("AAPL", Decimal(179))  # the stop sells what was bought, the take-profit is cancelled
    await engine.process_updates()
    assert [(await engine.get_order(leg.id)).status for leg in legs] == [OrderStatus.CANCELED, OrderStatus.FILLED]
    assert await again.list_positions() == []


async def test_day_orders_whose_session_ended_while_the_exchange_was_down_expire_at_its_end() -> None:
    """Stopped Monday at 15:00 ET, started again Tuesday at 10:00: Monday's day orders expired at
    Monday's close (an extended-hours one at 20:00) and must not trade on Tuesday; a GTC order and
    Tuesday's own day orders work on."""
    calendar = NyseCalendar()
    monday_3pm = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)
    clock = TestClock(monday_3pm)
    exchange = PaperExchange(clock, config=PaperConfig(starting_cash=START, calendar=calendar))
    store = InMemoryOrderStore(payload_of=event_payload)
    engine = await engine_on(exchange, clock, store)
    exchange.set_price("AAPL", Decimal("190.00"))
    day = (await engine.submit(limit("AAPL", "buy", 1, "180.00"))).order
    extended = (await engine.submit(limit("AAPL", "buy", 1, "180.00", extended_hours=True))).order
    gtc = (await engine.submit(limit("AAPL", "buy", 1, "180.00", time_in_force="gtc"))).order

    clock.advance(timedelta(hours=19))  # Tuesday 10:00 ET: the process was down through Monday's close
    again = await resumed_from(store, clock, calendar=calendar)
    again.set_price("AAPL", Decimal("179.00"))  # would fill all three if they still worked
    engine = await engine_on(again, clock, store)
    await engine.process_updates()

    got = {o.id: await engine.get_order(o.id) for o in (day, extended, gtc)}
    assert got[day.id].status is OrderStatus.EXPIRED
    assert got[extended.id].status is OrderStatus.EXPIRED
    assert got[gtc.id].status is OrderStatus.FILLED
    expired = {o.id: await again.get_order(o.broker_order_id) for o in (day, extended)}  # type: ignore[arg-type]
    assert expired[day.id].expired_at == datetime(2026, 3, 2, 21, 0, tzinfo=UTC)  # Monday 16:00 ET
    assert expired[extended.id].expired_at == datetime(2026, 3, 3, 1, 0, tzinfo=UTC)  # Monday 20:00 ET
    assert engine.book.positions["AAPL"].quantity == Decimal(1)

    today = (await engine.submit(limit("AAPL", "buy", 1, "170.00"))).order
    assert (await engine.get_order(today.id)).status is OrderStatus.NEW


@pytest.mark.parametrize("stop_loss_first", [False, True])
async def test_a_stop_loss_held_beside_its_take_profit_is_watched_again_after_a_restart(
    stop_loss_first: bool,
) -> None:
    """The entry filled before the restart: the take-profit works `new`, the stop-loss `held` (as at
    Alpaca); resumed (its legs in either order), the stop still fills straight out of `held` and ends
    its take-profit."""
    clock = TestClock(MONDAY_10AM_ET)
    store = InMemoryOrderStore(payload_of=event_payload)
    exchange = fresh()
    exchange.set_price("AAPL", Decimal(190))
    engine = await engine_on(exchange, clock, store)
    parent = (await engine.submit(_bracket("limit", limit_price="185"))).order
    exchange.set_price("AAPL", Decimal(184))
    await engine.process_updates()
    legs = [await engine.get_order(i) for i in parent.legs]
    assert [leg.status for leg in legs] == [OrderStatus.NEW, OrderStatus.HELD]

    again = PaperExchange(clock, config=PaperConfig(starting_cash=START))
    still_open = sorted(await open_orders(store), key=lambda o: (o.status is OrderStatus.HELD) != stop_loss_first)
    again.resume(await store.list_positions(), cash_after(START, await store.fills_since(EPOCH)), still_open)
    engine = await engine_on(again, clock, store)
    at_broker = [await again.get_order(leg.broker_order_id) for leg in legs]  # type: ignore[arg-type]
    assert [leg.status for leg in at_broker] == [OrderStatus.NEW, OrderStatus.HELD]

    again.set_price("AAPL", Decimal(179))
    await engine.process_updates()
    assert [(await engine.get_order(leg.id)).status for leg in legs] == [OrderStatus.CANCELED, OrderStatus.FILLED]
    assert await again.list_positions() == []
