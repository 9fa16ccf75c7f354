"""Scripted fills: the hooks a simulator uses to choose fill sizes and to fill an order at once."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest

from tests.unit.paper_support import D, events, fills, new_exchange, order
from trading_core.enums import OrderStatus
from trading_core.errors import OrderNotCancelable, OrderNotFound
from trading_core.values import BrokerOrderId

NEW = ("new", OrderStatus.NEW)
FILL = ("fill", OrderStatus.FILLED)
PARTIAL = ("partial_fill", OrderStatus.PARTIALLY_FILLED)


class TestPlanFills:
    async def test_a_market_order_fills_in_the_planned_sizes_then_the_rest(self) -> None:
        exchange = new_exchange()
        exchange.plan_fills(lambda quantity: [D(3), D(2)])

        await exchange.submit_order(order(quantity=10))
        updates = exchange.drain_updates()

        assert events(updates) == [NEW, PARTIAL, PARTIAL, FILL]
        assert [D(3), D(2), D(5)] == [q for q, _ in fills(updates)]
        assert [D(3), D(5), D(10)] == [u.position_quantity for u in updates[1:]]

    async def test_sizes_beyond_the_quantity_end_the_plan_with_one_fill_of_the_rest(self) -> None:
        exchange = new_exchange()
        exchange.plan_fills(lambda quantity: [D(3), D(5), D(1)])

        await exchange.submit_order(order(quantity=4))

        assert [D(3), D(1)] == [q for q, _ in fills(exchange.drain_updates())]

    async def test_the_plan_is_asked_once_per_order_with_the_quantity_about_to_fill(self) -> None:
        asked: list[Decimal] = []

        def plan(quantity: Decimal) -> list[Decimal]:
            asked.append(quantity)
            return [D(1)]

        exchange = new_exchange(max_fill_quantity=D(4))
        exchange.plan_fills(plan)
        await exchange.submit_order(order(quantity=10))
        exchange.set_price("AAPL", D("190.10"))

        assert [D(4)] == asked
        assert [D(1), D(3), D(4)] == [q for q, _ in fills(exchange.drain_updates())]

    async def test_a_plan_that_answers_none_leaves_the_configured_parts(self) -> None:
        exchange = new_exchange(fill_parts=2)
        exchange.plan_fills(lambda quantity: None)

        await exchange.submit_order(order(quantity=10))

        assert [D(5), D(5)] == [q for q, _ in fills(exchange.drain_updates())]

    async def test_removing_the_plan_restores_single_fills(self) -> None:
        exchange = new_exchange()
        exchange.plan_fills(lambda quantity: [D(1)])
        exchange.plan_fills(None)

        await exchange.submit_order(order(quantity=10))

        assert events(exchange.drain_updates()) == [NEW, FILL]

    async def test_a_resting_limit_order_fills_in_planned_sizes_when_crossed(self) -> None:
        exchange = new_exchange()
        exchange.plan_fills(lambda quantity: [D(2)])
        await exchange.submit_order(order(quantity=5, type="limit", limit_price="189.00"))

        exchange.set_price("AAPL", D("188.90"))

        assert [(D(2), D("188.90")), (D(3), D("188.90"))] == fills(exchange.drain_updates())


class TestFillNow:
    async def test_a_resting_limit_order_fills_whole_at_its_limit(self) -> None:
        exchange = new_exchange()
        answer = await exchange.submit_order(order(quantity=5, type="limit", limit_price="150.00"))
        exchange.drain_updates()

        exchange.fill_now(answer.broker_order_id)
        updates = exchange.drain_updates()

        assert events(updates) == [FILL]
        assert [(D(5), D("150.00"))] == fills(updates)
        assert await exchange.list_orders() == []
        assert D(5) == (await exchange.list_positions())[0].quantity

    async def test_a_stop_order_not_yet_triggered_fills_at_the_current_price(self) -> None:
        exchange = new_exchange()
        answer = await exchange.submit_order(order(side="buy", quantity=2, type="stop", stop_price="200.00"))
        exchange.drain_updates()

        exchange.fill_now(answer.broker_order_id)
        exchange.set_price("AAPL", D("201.00"))

        assert [(D(2), D("190.00"))] == fills(exchange.drain_updates())

    async def test_a_partly_filled_order_fills_its_remainder(self) -> None:
        exchange = new_exchange(max_fill_quantity=D(4))
        answer = await exchange.submit_order(order(quantity=10))
        exchange.drain_updates()

        exchange.fill_now(answer.broker_order_id)

        assert [(D(6), D("190.00"))] == fills(exchange.drain_updates())
        assert (await exchange.get_order(answer.broker_order_id)).status == OrderStatus.FILLED

    async def test_an_order_accepted_while_closed_is_not_routed_again_at_the_open(self) -> None:
        exchange = new_exchange(market_open=False)
        answer = await exchange.submit_order(order(quantity=3, type="limit", limit_price="191.00"))
        exchange.fill_now(answer.broker_order_id)
        exchange.drain_updates()

        exchange.open_market()

        assert exchange.drain_updates() == []

    async def test_closed_and_unknown_orders_are_refused(self) -> None:
        exchange = new_exchange()
        filled = await exchange.submit_order(order())

        with pytest.raises(OrderNotCancelable):
            exchange.fill_now(filled.broker_order_id)
        with pytest.raises(OrderNotFound):
            exchange.fill_now(BrokerOrderId("00000000-0000-4000-8000-000000000000"))


class TestPendingNew:
    async def test_a_pending_order_holds_buying_power_and_executes_only_once_acknowledged(self) -> None:
        exchange = new_exchange()
        power = (await exchange.get_account()).buying_power

        pending = exchange.submit_pending(order(quantity=10))
        held = (await exchange.get_account()).buying_power
        exchange.set_price("AAPL", D("190.10"))
        before = exchange.drain_updates()
        exchange.acknowledge(pending.broker_order_id)

        assert (pending.status, events(before)) == (OrderStatus.PENDING_NEW, [("pending_new", OrderStatus.PENDING_NEW)])
        assert power - held == D(10) * D(190)
        assert events(exchange.drain_updates()) == [NEW, FILL]

    async def test_a_cancelled_pending_order_is_not_routed_by_a_late_acknowledgement(self) -> None:
        exchange = new_exchange()
        pending = exchange.submit_pending(order(quantity=10))

        await exchange.cancel_order(pending.broker_order_id)
        exchange.acknowledge(pending.broker_order_id)

        assert [e for e, _ in events(exchange.drain_updates())] == ["pending_new", "pending_cancel", "canceled"]
        assert await exchange.list_positions() == []


class TestReplaceRace:
    async def test_the_order_fills_while_pending_replace_and_the_replace_is_refused(self) -> None:
        exchange = new_exchange()
        resting = await exchange.submit_order(order(quantity=5, type="limit", limit_price="150"))

        pending = exchange.begin_replace(resting.broker_order_id)
        with pytest.raises(OrderNotCancelable):
            await exchange.cancel_order(resting.broker_order_id)
        exchange.end_replace(resting.broker_order_id, fill_first=True)
        updates = exchange.drain_updates()

        assert pending.status is OrderStatus.PENDING_REPLACE
        assert events(updates)[1:] == [
            ("pending_replace", OrderStatus.PENDING_REPLACE),
            FILL,
            ("order_replace_rejected", OrderStatus.FILLED),
        ]
        assert fills(updates) == [(D(5), D(150))]

    async def test_a_refused_replace_leaves_the_order_working_as_it_was(self) -> None:
        exchange = new_exchange()
        resting = await exchange.submit_order(order(quantity=5, type="limit", limit_price="150"))

        exchange.begin_replace(resting.broker_order_id)
        exchange.end_replace(resting.broker_order_id, fill_first=False)
        exchange.set_price("AAPL", D("149.00"))

        assert [e for e, _ in events(exchange.drain_updates())] == [
            "new",
            "pending_replace",
            "order_replace_rejected",
            "fill",
        ]

    async def test_only_a_replaceable_order_can_be_put_pending_replace(self) -> None:
        exchange = new_exchange()
        filled = await exchange.submit_order(order(quantity=1))

        with pytest.raises(OrderNotCancelable):
            exchange.begin_replace(filled.broker_order_id)
        with pytest.raises(OrderNotFound):
            exchange.begin_replace(BrokerOrderId("nobody"))


async def test_a_quantity_finer_than_four_places_is_split_at_its_own_scale() -> None:
    exchange = new_exchange(fill_parts=2)

    # Finer than the engine sends: as the Alpaca simulator passes on what Alpaca takes.
    await exchange.submit_order(attrs.evolve(order(quantity=10), quantity=D("0.123456789")))

    assert [D("0.061728394"), D("0.061728395")] == [q for q, _ in fills(exchange.drain_updates())]
