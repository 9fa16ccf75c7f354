"""The paper exchange works orders as Alpaca's paper account does: types, time in force, events."""

from __future__ import annotations

import pytest

from tests.unit.paper_support import MONDAY_10AM_ET, D, events, fills, new_exchange, order
from trading_core.clock import TestClock
from trading_core.enums import OrderStatus
from trading_core.errors import OrderNotCancelable, OrderNotFound
from trading_core.values import BrokerOrderId, ClientOrderId

NEW = ("new", OrderStatus.NEW)
FILL = ("fill", OrderStatus.FILLED)
PARTIAL = ("partial_fill", OrderStatus.PARTIALLY_FILLED)


class TestMarketOrders:
    async def test_market_buy_in_session_emits_new_then_fill_at_the_current_price(self) -> None:
        exchange = new_exchange()

        await exchange.submit_order(order("AAPL", "buy", 10))
        updates = exchange.drain_updates()

        assert events(updates) == [NEW, FILL]
        assert [(D(10), D("190.00"))] == fills(updates)
        assert D(10) == updates[-1].position_quantity
        assert D("190.00") == updates[-1].order.filled_average_price

    async def test_submit_answers_with_the_order_as_accepted_and_the_stream_tells_the_fill(self) -> None:
        exchange = new_exchange()
        sent = order(client_order_id="strat7-000183")

        answer = await exchange.submit_order(sent)
        stored = await exchange.get_order(answer.broker_order_id)

        assert (OrderStatus.NEW, D(0), "strat7-000183") == (
            answer.status,
            answer.filled_quantity,
            answer.client_order_id,
        )
        assert (OrderStatus.FILLED, D(10)) == (stored.status, stored.filled_quantity)

    async def test_market_order_fills_in_parts_when_configured(self) -> None:
        exchange = new_exchange(fill_parts=3)

        await exchange.submit_order(order(quantity=10))
        updates = exchange.drain_updates()

        assert events(updates) == [NEW, PARTIAL, PARTIAL, FILL]
        assert [D(3), D(6), D(10)] == [u.order.filled_quantity for u in updates[1:]]
        assert [D(3), D(6), D(10)] == [u.position_quantity for u in updates[1:]]

    async def test_fractional_quantity_is_split_in_ten_thousandths(self) -> None:
        exchange = new_exchange(fill_parts=2)

        await exchange.submit_order(order(quantity="0.0005"))

        assert [D("0.0002"), D("0.0003")] == [q for q, _ in fills(exchange.drain_updates())]

    async def test_every_fill_has_its_own_execution_id_and_the_clocks_time(self) -> None:
        clock = TestClock(MONDAY_10AM_ET)
        exchange = new_exchange(clock, fill_parts=2)

        await exchange.submit_order(order())
        updates = exchange.drain_updates()

        assert len({u.execution_id for u in updates if u.is_fill}) == 2
        assert {clock.now()} == {u.timestamp for u in updates}

    async def test_market_order_limited_by_liquidity_keeps_working_until_later_moves(self) -> None:
        exchange = new_exchange(max_fill_quantity=D(4))

        answer = await exchange.submit_order(order(quantity=10))
        exchange.set_price("AAPL", D("190.10"))
        exchange.set_price("AAPL", D("190.20"))
        updates = exchange.drain_updates()

        assert events(updates) == [NEW, PARTIAL, PARTIAL, FILL]
        assert [(D(4), D("190.00")), (D(4), D("190.10")), (D(2), D("190.20"))] == fills(updates)
        assert D("190.08") == (await exchange.get_order(answer.broker_order_id)).filled_average_price

    async def test_the_answer_to_a_market_order_filled_at_once_is_its_acceptance(self) -> None:
        """The answer shows the order as taken (`new`, nothing filled), though it filled at once."""
        from trading_core.broker_models import BrokerOrder

        exchange = new_exchange()
        answer = await exchange.submit_order(order("AAPL", "sell", 3, client_order_id="c-1"))

        built = BrokerOrder(
            broker_order_id=answer.broker_order_id,
            client_order_id=ClientOrderId("c-1"),
            symbol=answer.symbol,
            side=answer.side,
            type=answer.type,
            time_in_force=answer.time_in_force,
            quantity=D(3),
            status=OrderStatus.NEW,
            created_at=answer.created_at,
            updated_at=answer.created_at,
            submitted_at=answer.created_at,
        )
        assert answer == built

    @pytest.mark.parametrize("fill_parts", [1, 2])
    async def test_the_last_update_shows_the_accepted_order_with_its_fills(self, fill_parts: int) -> None:
        """At once and in parts: the order the last update carries is the acceptance, filled."""
        import attrs

        exchange = new_exchange(fill_parts=fill_parts)
        await exchange.submit_order(order("AAPL", "buy", 3))
        updates = exchange.drain_updates()

        assert len(updates) == 1 + fill_parts
        assert updates[-1].order == attrs.evolve(
            updates[0].order,
            status=OrderStatus.FILLED,
            filled_quantity=D(3),
            filled_average_price=D("190.00"),
            filled_at=updates[0].timestamp,
        )


class TestLimitOrders:
    async def test_limit_buy_below_the_market_rests_then_fills_when_the_price_comes_down(self) -> None:
        exchange = new_exchange()

        await exchange.submit_order(order(type="limit", limit_price="189.50"))
        resting = exchange.drain_updates()
        exchange.set_price("AAPL", D("189.60"))
        still = exchange.drain_updates()
        exchange.set_price("AAPL", D("189.50"))

        assert events(resting) == [NEW]
        assert still == []
        assert [(D(10), D("189.50"))] == fills(exchange.drain_updates())

    async def test_limit_sell_fills_at_the_better_current_price_when_the_market_gaps_through_it(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order(quantity=10))
        await exchange.submit_order(order(side="sell", type="limit", limit_price="191.00"))
        exchange.drain_updates()

        exchange.set_price("AAPL", D("192.25"))

        assert [(D(10), D("192.25"))] == fills(exchange.drain_updates())

    async def test_marketable_limit_fills_at_once_at_the_current_price(self) -> None:
        exchange = new_exchange()

        await exchange.submit_order(order(type="limit", limit_price="195.00"))

        assert [(D(10), D("190.00"))] == fills(exchange.drain_updates())

    async def test_best_priced_limit_fills_first_and_others_wait(self) -> None:
        exchange = new_exchange()
        low = await exchange.submit_order(order(type="limit", limit_price="185.00"))
        high = await exchange.submit_order(order(type="limit", limit_price="188.00"))
        exchange.drain_updates()

        exchange.set_price("AAPL", D("187.00"))
        filled = [u.order.broker_order_id for u in exchange.drain_updates() if u.is_fill]

        assert [high.broker_order_id] == filled
        assert (await exchange.get_order(low.broker_order_id)).status == OrderStatus.NEW

    async def test_after_many_cancels_the_surviving_limits_still_fill_best_price_first(self) -> None:
        """Cancelled orders are dropped from the book lazily; whatever the clean-up, survivors fill."""
        exchange = new_exchange()
        placed = [
            await exchange.submit_order(order(type="limit", limit_price=str(D(150) + n * D("0.25")), quantity=1))
            for n in range(150)
        ]
        survivors = placed[::15]
        for answer in placed:
            if answer not in survivors:
                await exchange.cancel_order(answer.broker_order_id)
        exchange.drain_updates()

        exchange.set_price("AAPL", D("140.00"))
        filled = [u.order.broker_order_id for u in exchange.drain_updates() if u.is_fill]

        assert [s.broker_order_id for s in reversed(survivors)] == filled

    async def test_price_moves_of_another_symbol_leave_a_limit_alone(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order("AAPL", type="limit", limit_price="189.00"))
        exchange.drain_updates()

        exchange.set_price("MSFT", D("100.00"))

        assert exchange.drain_updates() == []


class TestStopOrders:
    async def test_stop_buy_triggers_when_the_price_rises_to_it_and_fills_as_market(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order(type="stop", stop_price="191.00"))
        exchange.drain_updates()

        exchange.set_price("AAPL", D("190.99"))
        before = exchange.drain_updates()
        exchange.set_price("AAPL", D("191.30"))

        assert before == []
        assert [(D(10), D("191.30"))] == fills(exchange.drain_updates())

    async def test_stop_sell_waits_until_the_price_falls_to_it(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order(quantity=10))
        await exchange.submit_order(order(side="sell", type="stop", stop_price="185.00"))
        exchange.drain_updates()

        exchange.set_price("AAPL", D("186.00"))
        before = exchange.drain_updates()
        exchange.set_price("AAPL", D("184.90"))

        assert before == []
        assert [(D(10), D("184.90"))] == fills(exchange.drain_updates())

    async def test_stop_limit_triggers_into_a_limit_that_waits_for_its_price(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order(type="stop_limit", stop_price="191.00", limit_price="191.50"))
        exchange.drain_updates()

        exchange.set_price("AAPL", D("192.00"))  # triggered, but above the limit
        triggered = exchange.drain_updates()
        exchange.set_price("AAPL", D("190.50"))  # below the stop again: the limit still works

        assert triggered == []
        assert [(D(10), D("190.50"))] == fills(exchange.drain_updates())

    async def test_untriggered_stop_limit_ignores_a_price_inside_its_limit(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order(type="stop_limit", stop_price="195.00", limit_price="196.00"))
        exchange.drain_updates()

        exchange.set_price("AAPL", D("189.00"))

        assert exchange.drain_updates() == []


class TestTimeInForce:
    async def test_day_order_expires_at_the_close(self) -> None:
        clock = TestClock(MONDAY_10AM_ET)
        exchange = new_exchange(clock)
        answer = await exchange.submit_order(order(type="limit", limit_price="150.00"))
        exchange.drain_updates()

        exchange.close_market()
        updates = exchange.drain_updates()

        assert events(updates) == [("expired", OrderStatus.EXPIRED)]
        assert clock.now() == updates[0].order.expired_at
        assert await exchange.list_orders() == []
        assert (await exchange.get_order(answer.broker_order_id)).status == OrderStatus.EXPIRED

    async def test_gtc_order_survives_the_close(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order(type="limit", limit_price="150.00", time_in_force="gtc"))
        exchange.drain_updates()

        exchange.close_market()

        assert exchange.drain_updates() == []
        assert len(await exchange.list_orders()) == 1

    async def test_ioc_fills_what_it_can_and_cancels_the_rest(self) -> None:
        exchange = new_exchange(max_fill_quantity=D(6))

        await exchange.submit_order(order(quantity=10, time_in_force="ioc"))
        updates = exchange.drain_updates()

        assert events(updates) == [NEW, PARTIAL, ("canceled", OrderStatus.CANCELED)]
        assert D(6) == updates[-1].order.filled_quantity

    async def test_ioc_limit_away_from_the_market_is_canceled_unfilled(self) -> None:
        exchange = new_exchange()

        await exchange.submit_order(order(type="limit", limit_price="180.00", time_in_force="ioc"))

        assert events(exchange.drain_updates()) == [NEW, ("canceled", OrderStatus.CANCELED)]

    async def test_fok_that_cannot_fill_entirely_is_canceled_without_a_fill(self) -> None:
        exchange = new_exchange(max_fill_quantity=D(6))

        await exchange.submit_order(order(quantity=10, time_in_force="fok"))

        assert events(exchange.drain_updates()) == [NEW, ("canceled", OrderStatus.CANCELED)]
        assert await exchange.list_positions() == []

    async def test_fok_that_can_fill_fills_entirely(self) -> None:
        exchange = new_exchange(max_fill_quantity=D(10), fill_parts=2)

        await exchange.submit_order(order(quantity=10, time_in_force="fok"))

        assert events(exchange.drain_updates()) == [NEW, PARTIAL, FILL]


class TestCancel:
    async def test_cancel_of_a_resting_order_emits_pending_cancel_then_canceled(self) -> None:
        exchange = new_exchange()
        answer = await exchange.submit_order(order(type="limit", limit_price="150.00"))
        exchange.drain_updates()

        await exchange.cancel_order(answer.broker_order_id)
        updates = exchange.drain_updates()

        assert events(updates) == [("pending_cancel", OrderStatus.PENDING_CANCEL), ("canceled", OrderStatus.CANCELED)]
        assert updates[-1].order.canceled_at is not None

    async def test_cancelled_order_no_longer_fills(self) -> None:
        exchange = new_exchange()
        answer = await exchange.submit_order(order(type="limit", limit_price="150.00"))
        await exchange.cancel_order(answer.broker_order_id)
        exchange.drain_updates()

        exchange.set_price("AAPL", D("140.00"))

        assert exchange.drain_updates() == []

    async def test_cancel_of_a_partially_filled_order_keeps_what_filled(self) -> None:
        exchange = new_exchange(max_fill_quantity=D(4))
        answer = await exchange.submit_order(order(quantity=10))

        await exchange.cancel_order(answer.broker_order_id)
        stored = await exchange.get_order(answer.broker_order_id)

        assert (OrderStatus.CANCELED, D(4)) == (stored.status, stored.filled_quantity)
        assert [D(4)] == [p.quantity for p in await exchange.list_positions()]

    async def test_cancel_of_a_filled_order_is_refused(self) -> None:
        exchange = new_exchange()
        answer = await exchange.submit_order(order())

        with pytest.raises(OrderNotCancelable, match="filled"):
            await exchange.cancel_order(answer.broker_order_id)

    async def test_cancel_of_an_unknown_order_is_not_found(self) -> None:
        exchange = new_exchange()

        with pytest.raises(OrderNotFound):
            await exchange.cancel_order(BrokerOrderId("00000000-0000-4000-8000-000000000000"))

    async def test_cancel_all_cancels_every_open_order(self) -> None:
        exchange = new_exchange()
        first = await exchange.submit_order(order(type="limit", limit_price="150.00"))
        second = await exchange.submit_order(order(type="limit", limit_price="151.00"))

        cancelled = await exchange.cancel_all_orders()

        assert [first.broker_order_id, second.broker_order_id] == cancelled
        assert await exchange.list_orders() == []


class TestReplace:
    async def test_replace_changes_price_and_quantity_under_a_new_id(self) -> None:
        exchange = new_exchange()
        old = await exchange.submit_order(order(type="limit", limit_price="150.00", quantity=10))
        exchange.drain_updates()

        new = await exchange.replace_order(
            old.broker_order_id, client_order_id=ClientOrderId("second"), quantity=D(5), limit_price=D("155.00")
        )
        updates = exchange.drain_updates()

        assert events(updates) == [
            ("pending_replace", OrderStatus.PENDING_REPLACE),
            ("replaced", OrderStatus.REPLACED),
            NEW,
        ]
        assert new.broker_order_id == updates[1].order.replaced_by
        assert old.broker_order_id == new.replaces
        assert (D(5), D("155.00"), "second") == (new.quantity, new.limit_price, new.client_order_id)
        assert [new.broker_order_id] == [o.broker_order_id for o in await exchange.list_orders()]

    async def test_replace_without_quantity_takes_the_unfilled_remainder(self) -> None:
        exchange = new_exchange(max_fill_quantity=D(4))
        old = await exchange.submit_order(order(type="limit", limit_price="190.00", quantity=10))

        new = await exchange.replace_order(
            old.broker_order_id, client_order_id=ClientOrderId("second"), limit_price=D("180.00")
        )

        assert (D(6), D(0)) == (new.quantity, new.filled_quantity)
        assert (OrderStatus.REPLACED, D(4)) == (
            (await exchange.get_order(old.broker_order_id)).status,
            (await exchange.get_order(old.broker_order_id)).filled_quantity,
        )

    async def test_replacement_that_crosses_the_market_fills_at_once(self) -> None:
        exchange = new_exchange()
        old = await exchange.submit_order(order(type="limit", limit_price="150.00"))
        exchange.drain_updates()

        await exchange.replace_order(old.broker_order_id, client_order_id=ClientOrderId("x"), limit_price=D("191.00"))

        assert [(D(10), D("190.00"))] == fills(exchange.drain_updates())

    async def test_replace_while_closed_waits_for_the_open(self) -> None:
        exchange = new_exchange()
        old = await exchange.submit_order(order(type="limit", limit_price="150.00", time_in_force="gtc"))
        exchange.close_market()
        exchange.drain_updates()

        new = await exchange.replace_order(
            old.broker_order_id, client_order_id=ClientOrderId("x"), limit_price=D("195.00")
        )
        overnight = exchange.drain_updates()
        exchange.open_market()

        assert new.status == OrderStatus.ACCEPTED
        assert events(overnight)[-1:] == [("accepted", OrderStatus.ACCEPTED)]
        assert events(exchange.drain_updates()) == [NEW, FILL]

    async def test_replace_of_a_filled_order_is_refused(self) -> None:
        exchange = new_exchange()
        old = await exchange.submit_order(order())

        with pytest.raises(OrderNotCancelable):
            await exchange.replace_order(old.broker_order_id, client_order_id=ClientOrderId("x"), quantity=D(1))

    async def test_replace_of_an_order_waiting_for_the_open_is_refused(self) -> None:
        exchange = new_exchange(market_open=False)
        old = await exchange.submit_order(order(type="limit", limit_price="150.00"))

        with pytest.raises(OrderNotCancelable, match="accepted"):
            await exchange.replace_order(old.broker_order_id, client_order_id=ClientOrderId("x"), quantity=D(1))


class TestClosedMarket:
    async def test_market_order_while_closed_is_accepted_and_fills_at_the_open(self) -> None:
        exchange = new_exchange(market_open=False)

        answer = await exchange.submit_order(order())
        overnight = exchange.drain_updates()
        exchange.set_price("AAPL", D("192.00"))
        exchange.open_market()

        assert answer.status == OrderStatus.ACCEPTED
        assert events(overnight) == [("accepted", OrderStatus.ACCEPTED)]
        assert events(updates := exchange.drain_updates()) == [NEW, FILL]
        assert [(D(10), D("192.00"))] == fills(updates)

    async def test_limit_order_does_not_fill_while_closed(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order(type="limit", limit_price="185.00", time_in_force="gtc"))
        exchange.close_market()
        exchange.drain_updates()

        exchange.set_price("AAPL", D("180.00"))
        overnight = exchange.drain_updates()
        exchange.open_market()

        assert overnight == []
        assert [(D(10), D("180.00"))] == fills(exchange.drain_updates())

    async def test_queued_buy_that_the_opening_price_makes_unaffordable_is_rejected(self) -> None:
        exchange = new_exchange(market_open=False, account_type="cash")
        answer = await exchange.submit_order(order(quantity=500))  # 95,000 of 100,000
        exchange.drain_updates()

        exchange.set_price("AAPL", D("210.00"))
        exchange.open_market()

        assert events(exchange.drain_updates()) == [("rejected", OrderStatus.REJECTED)]
        assert (await exchange.get_order(answer.broker_order_id)).status == OrderStatus.REJECTED

    async def test_queued_order_can_be_cancelled_before_the_open(self) -> None:
        exchange = new_exchange(market_open=False)
        answer = await exchange.submit_order(order())
        await exchange.cancel_order(answer.broker_order_id)
        exchange.drain_updates()

        exchange.open_market()

        assert exchange.drain_updates() == []

    async def test_opg_order_executes_at_the_open_and_cancels_what_did_not_fill(self) -> None:
        exchange = new_exchange(market_open=False)
        await exchange.submit_order(order(type="limit", limit_price="185.00", time_in_force="opg"))
        exchange.drain_updates()

        exchange.open_market()

        assert events(exchange.drain_updates()) == [NEW, ("canceled", OrderStatus.CANCELED)]

    async def test_cls_order_executes_at_the_close(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order(time_in_force="cls"))
        waiting = exchange.drain_updates()
        exchange.set_price("AAPL", D("191.00"))

        exchange.close_market()

        assert events(waiting) == [NEW]
        assert [(D(10), D("191.00"))] == fills(exchange.drain_updates())
