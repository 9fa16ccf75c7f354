"""Commands from other services: each decision places at most one order; refusals are kept."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from trading_core import Order, OrderStatus, TestClock
from trading_core.commands import DECISION_EXPIRED, EngineCommands, decision_client_order_id
from trading_core.decisions import Decision
from trading_core.engine import TradingEngine
from trading_core.errors import InvalidOrder
from trading_core.ports import OrderFilter


def decision(**overrides: object) -> Decision:
    fields: dict[str, object] = {
        "decision_id": str(uuid.uuid4()),
        "approved": True,
        "symbol": "AAPL",
        "side": "buy",
        "quantity": Decimal(3),
    }
    fields.update(overrides)
    return Decision(**fields)  # type: ignore[arg-type]


async def all_orders(engine: TradingEngine) -> list[Order]:
    return list((await engine.list_orders(status=OrderFilter.ALL, limit=100)).orders)


async def test_the_same_decision_twice_places_one_order(engine: TradingEngine) -> None:
    commands = EngineCommands(engine)
    once = decision()

    await commands.handle_decision(once)
    await commands.handle_decision(once)

    orders = await all_orders(engine)
    assert len(orders) == 1
    placed = await engine.store.get_order_by_client_id(decision_client_order_id(once.decision_id))
    assert placed is not None
    assert (placed.status, placed.decision_id) == (OrderStatus.FILLED, once.decision_id)


async def test_a_decision_not_approved_places_nothing(engine: TradingEngine) -> None:
    await EngineCommands(engine).handle_decision(decision(approved=False))

    assert await all_orders(engine) == []


async def test_an_expired_decision_is_kept_as_a_rejection(engine: TradingEngine, clock: TestClock) -> None:
    stale = decision(expires_at=clock.now() - timedelta(seconds=1))

    await EngineCommands(engine).handle_decision(stale)

    (order,) = await all_orders(engine)
    assert (order.status, order.rejection_code) == (OrderStatus.REJECTED, DECISION_EXPIRED)


async def test_an_invalid_approved_decision_raises_invalid_order(engine: TradingEngine) -> None:
    with pytest.raises(InvalidOrder):
        await EngineCommands(engine).handle_decision(decision(type="limit"))


async def test_a_malformed_decision_naming_an_order_is_kept_as_rejected(engine: TradingEngine) -> None:
    decision_id = str(uuid.uuid4())
    raw = {"decisionId": decision_id, "symbol": "AAPL", "side": "buy", "quantity": 5, "type": "limit"}

    await EngineCommands(engine).decision_malformed("limit orders require a limit_price", raw)

    (order,) = await all_orders(engine)
    assert (order.status, order.rejection_code, order.decision_id) == (
        OrderStatus.REJECTED,
        "INVALID_ORDER",
        decision_id,
    )


async def test_unreadable_decisions_are_only_logged(engine: TradingEngine) -> None:
    commands = EngineCommands(engine)

    await commands.decision_malformed("not JSON", None)
    await commands.decision_malformed("no side", {"decisionId": str(uuid.uuid4()), "symbol": "AAPL"})

    assert await all_orders(engine) == []


@pytest.mark.parametrize("bad", [-1, "1.00001", "abc"])
async def test_a_decision_with_an_unusable_quantity_is_kept_as_rejected(engine: TradingEngine, bad: object) -> None:
    decision_id = str(uuid.uuid4())
    raw = {"decisionId": decision_id, "approved": True, "symbol": "AAPL", "side": "buy", "quantity": bad}

    await EngineCommands(engine).decision_malformed(f"quantity was {bad}", raw)

    (order,) = await all_orders(engine)
    assert (order.status, order.decision_id, order.quantity) == (OrderStatus.REJECTED, decision_id, 0)
    assert order.rejection_reason == f"quantity was {bad}"


async def test_a_decision_repeated_with_other_contents_is_refused_and_kept_as_rejected(engine: TradingEngine) -> None:
    commands = EngineCommands(engine)
    first = decision(symbol="AAPL", quantity=Decimal(2))
    await commands.handle_decision(first)
    conflicting = decision(decision_id=first.decision_id, symbol="MSFT", quantity=Decimal(5))

    with pytest.raises(InvalidOrder) as refused:  # the consumer terminates it, not retries it
        await commands.handle_decision(conflicting)
    raw = {"decisionId": first.decision_id, "symbol": "MSFT", "side": "buy", "quantity": 5}
    await commands.decision_malformed(refused.value.message, raw)

    placed, kept = sorted(await all_orders(engine), key=lambda o: o.status is OrderStatus.REJECTED)
    assert (placed.symbol, placed.status) == ("AAPL", OrderStatus.FILLED)
    assert (kept.symbol, kept.status, kept.decision_id) == ("MSFT", OrderStatus.REJECTED, first.decision_id)
    assert refused.value.field == "clientOrderId"
