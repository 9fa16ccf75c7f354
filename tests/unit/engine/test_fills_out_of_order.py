"""Fills of one order applied out of cumulative order still add up to the broker's cumulative.

The engine takes trade updates in two places at once (its update task, and the drain that goes
with each submission), so a later execution can be applied before an earlier one. Found by the
Alpaca adapter's soak against the simulator: a fill was counted as a duplicate and lost.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from adapters.paper import PaperConfig, PaperExchange
from tests.unit.engine.conftest import limit
from trading_core.engine import TradingEngine
from trading_core.enums import OrderStatus


@pytest.fixture
def paper_config() -> PaperConfig:
    return PaperConfig(starting_cash=Decimal(1_000_000), fill_parts=3)


@pytest.mark.parametrize("order_of", list(itertools.permutations(range(3))))
async def test_executions_applied_in_any_order_reach_the_brokers_cumulative(
    engine: TradingEngine, exchange: PaperExchange, order_of: tuple[int, ...]
) -> None:
    result = await engine.submit(limit("AAPL", "buy", 10, "185"))
    exchange.set_price("AAPL", Decimal("184.37"))
    fills = [u for u in exchange.drain_updates() if u.is_fill]
    assert [u.order.filled_quantity for u in fills] == [Decimal(3), Decimal(6), Decimal(10)]

    for i in order_of:
        await engine.apply_trade_update(fills[i])

    order = await engine.get_order(result.order.id)
    expected = exchange.price("AAPL") * 10
    assert (order.status, order.filled_quantity) == (OrderStatus.FILLED, Decimal(10))
    assert order.filled_notional == expected
    assert engine.book.positions["AAPL"].quantity == Decimal(10)
    stored = await engine.store.list_fills(order.id)
    assert sum(f.quantity for f in stored) == Decimal(10)
    # each execution under its own id and quantity: none merged into another's
    assert {(f.execution_id, f.quantity) for f in stored} == {(u.execution_id, u.quantity) for u in fills}
