"""For any sequence of submits, cancels, replaces and price moves, engine and exchange agree."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.codec.events import event_payload
from adapters.memory.store import InMemoryOrderStore
from adapters.paper import PaperConfig, PaperExchange
from tests.unit.engine.conftest import GENEROUS, MONDAY_10AM_ET
from trading_core import OrderRequest, Side, TestClock, TradingError
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.ports import OrderFilter

SYMBOLS = ("AAPL", "MSFT", "XOM")
STARTING_CASH = Decimal(1_000_000)

submits = st.tuples(
    st.just("submit"),
    st.sampled_from(SYMBOLS),
    st.sampled_from(["buy", "sell"]),
    st.integers(1, 50),
    st.sampled_from([None, -300, -100, 0, 100, 300]),  # limit offset in cents from the price, None: market
)
cancels = st.tuples(st.just("cancel"), st.integers(0, 1000))
replaces = st.tuples(st.just("replace"), st.integers(0, 1000), st.integers(1, 50), st.integers(-300, 300))
moves = st.tuples(st.just("move"), st.sampled_from(SYMBOLS), st.integers(-500, 500))
steps = st.lists(st.one_of(submits, cancels, replaces, moves), min_size=1, max_size=40)


async def _run(actions: list[tuple[object, ...]]) -> tuple[TradingEngine, PaperExchange]:
    clock = TestClock(MONDAY_10AM_ET)
    exchange = PaperExchange(clock, config=PaperConfig(starting_cash=STARTING_CASH))
    engine = TradingEngine(
        broker=exchange,
        store=InMemoryOrderStore(payload_of=event_payload),
        clock=clock,
        market_data=exchange,
        config=EngineConfig(limits=GENEROUS),
    )
    await engine.start()
    placed: list[str] = []
    for action in actions:
        kind = action[0]
        try:
            if kind == "submit":
                _, symbol, side, qty, offset = action
                price = exchange.price(str(symbol))
                if offset is None:
                    request = OrderRequest.create(symbol=str(symbol), side=str(side), type="market", quantity=qty)
                else:
                    limit_price = max(Decimal("0.01"), price + Decimal(int(offset)).scaleb(-2))
                    request = OrderRequest.create(
                        symbol=str(symbol), side=str(side), type="limit", quantity=qty, limit_price=limit_price
                    )
                result = await engine.submit(request)
                placed.append(result.order.id)
            elif kind == "cancel" and placed:
                await engine.cancel(placed[int(action[1]) % len(placed)])
            elif kind == "replace" and placed:
                _, index, qty, offset = action
                order = await engine.get_order(placed[int(index) % len(placed)])
                new_limit = None
                if order.limit_price is not None:
                    new_limit = max(Decimal("0.01"), order.limit_price + Decimal(int(offset)).scaleb(-2))
                result = await engine.replace(order.id, quantity=Decimal(int(qty)), limit_price=new_limit)
                placed.append(result.order.id)
            elif kind == "move":
                _, symbol, cents = action
                new_price = max(Decimal("1.00"), exchange.price(str(symbol)) + Decimal(int(cents)).scaleb(-2))
                exchange.set_price(str(symbol), new_price)
                await engine.process_updates()
        except TradingError:
            pass  # refusals (not cancelable, broker refusals) are part of the game
    await engine.process_updates()
    return engine, exchange


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_engine_and_exchange_agree_on_positions_cash_and_fills(actions: list[tuple[object, ...]]) -> None:
    engine, exchange = asyncio.run(_run(actions))

    async def facts() -> None:
        theirs = {p.symbol: (p.quantity, p.cost_basis) for p in await exchange.list_positions()}
        ours = {s: (p.quantity, p.cost_basis) for s, p in engine.book.positions.items()}
        assert ours == theirs
        stored = {p.symbol: p.quantity for p in await engine.store.list_positions() if p.quantity}
        assert stored == {s: q for s, (q, _) in ours.items()}

        page = await engine.list_orders(status=OrderFilter.ALL, limit=500)
        assert page.next_cursor is None  # every order on one page: 40 steps make far fewer
        cash_flow = Decimal(0)
        for order in page.orders:
            fills = await engine.store.list_fills(order.id)
            assert sum((f.quantity for f in fills), Decimal(0)) == order.filled_quantity
            for fill in fills:
                cash_flow += fill.quantity * fill.price * (-1 if fill.side is Side.BUY else 1)
        account = await exchange.get_account()
        assert account.cash == STARTING_CASH + cash_flow

    asyncio.run(facts())
