"""A paper account carried on after a restart: cash and positions resumed, cash derived from the fills."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.codec.events import event_payload
from adapters.memory.store import InMemoryOrderStore
from adapters.paper import PaperConfig, PaperExchange
from adapters.paper.ledger import cash_after
from tests.unit.engine.conftest import GENEROUS, MONDAY_10AM_ET, market
from tests.unit.paper_support import order
from trading_core import TestClock
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.enums import Side
from trading_core.positions import Position
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


signed_quantities = st.lists(
    st.tuples(st.sampled_from(["AAPL", "MSFT"]), st.integers(-30, 30).filter(bool), st.integers(-500, 500)),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(steps=signed_quantities)
def test_the_fills_stored_give_the_cash_and_a_resumed_exchange_matches_the_original(
    steps: list[tuple[str, int, int]],
) -> None:
    asyncio.run(_trade_then_resume(steps))


async def _trade_then_resume(steps: list[tuple[str, int, int]]) -> None:
    clock = TestClock(MONDAY_10AM_ET)
    exchange = PaperExchange(clock, config=PaperConfig(starting_cash=START))
    store = InMemoryOrderStore(payload_of=event_payload)
    engine = TradingEngine(
        broker=exchange, store=store, clock=clock, market_data=exchange, config=EngineConfig(limits=GENEROUS)
    )
    await engine.start()
    for symbol, quantity, cents in steps:  # buys and sells, through zero and back, at moving prices
        exchange.set_price(symbol, Decimal(20_000 + cents).scaleb(-2))
        side = Side.BUY if quantity > 0 else Side.SELL
        await engine.submit(market(symbol, side.value, abs(quantity)))

    cash = cash_after(START, await store.fills_since(EPOCH))
    assert cash == (await exchange.get_account()).cash

    again = PaperExchange(TestClock(MONDAY_10AM_ET), config=PaperConfig(starting_cash=START))
    for symbol in ("AAPL", "MSFT"):
        again.set_price(symbol, exchange.price(symbol))
    again.resume(await store.list_positions(), cash)
    assert await again.list_positions() == await exchange.list_positions()
    mine, theirs = await again.get_account(), await exchange.get_account()
    assert (mine.cash, mine.equity, mine.buying_power) == (theirs.cash, theirs.equity, theirs.buying_power)
