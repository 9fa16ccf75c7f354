"""The OrderStore contract, run on the in-memory store and on PostgreSQL so the two cannot drift."""

from __future__ import annotations

import asyncio
import base64
import collections
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest

from tests.contract.builders import (
    decimal_texts,
    fill_for,
    filled,
    filled_event,
    full_order,
    moment,
    new_order,
    opened,
    payload_of,
    position,
    submitted,
)
from trading_core.enums import OrderStatus, Side, TradingState
from trading_core.errors import ConcurrentUpdate, DuplicateClientOrderId, InvalidCursor, StoreError
from trading_core.events import Event
from trading_core.fills import Fill, cash_flow
from trading_core.orders import Order
from trading_core.ports import OrderFilter, OrderStore, TradingStateRecord
from trading_core.positions import Position
from trading_core.values import BrokerOrderId, ClientOrderId, EventId, OrderId, Symbol, new_order_id


async def store_all(
    store: OrderStore,
    *orders: Order,
    fills: Sequence[Fill] = (),
    positions: Sequence[Position] = (),
    events: Sequence[Event] = (),
) -> None:
    async with store.unit_of_work() as uow:
        for order in orders:
            await uow.add_order(order)
        for fill in fills:
            await uow.add_fill(fill)
        for held in positions:
            await uow.save_position(held)
        await uow.add_events(events)
        await uow.commit()


async def unsent(store: OrderStore) -> list[EventId]:
    async with store.claim_outbox(limit=1000) as batch:
        return [m.event_id for m in batch.messages]


def floats_in(value: Any) -> list[Any]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for v in value.values() for f in floats_in(v)]
    if isinstance(value, list):
        return [f for v in value for f in floats_in(v)]
    return []


class TestRoundTrips:
    async def test_every_order_field_comes_back_with_its_scale(self, store: OrderStore) -> None:
        """Each field, Decimal scale and microsecond; execution ids come from the order's fills."""
        order = full_order()
        fills = [
            fill_for(order, "exec-a", "1.5000", "412.5000"),
            fill_for(order, "exec-b", "2.0000", "412.5100", seconds=1),
        ]
        await store_all(store, order, fills=fills)
        assert order.broker_order_id is not None

        found = [
            await store.get_order(order.id),
            await store.get_order_by_client_id(order.client_order_id),
            await store.get_order_by_broker_id(order.broker_order_id),
        ]
        async with store.unit_of_work() as uow:
            found.append(await uow.get_order(order.id, for_update=True))

        assert found == [order] * 4
        assert [decimal_texts(f) for f in found] == [decimal_texts(order)] * 4

    async def test_an_order_without_optional_fields_comes_back_unchanged(self, store: OrderStore) -> None:
        order = new_order()
        await store_all(store, order)

        found = await store.get_order(order.id)

        assert found == order
        assert found is not None
        assert decimal_texts(found) == decimal_texts(order)
        assert found.execution_ids == frozenset()

    async def test_fills_come_back_in_time_order(self, store: OrderStore) -> None:
        order = new_order(status=OrderStatus.NEW)
        other = new_order(symbol="MSFT", side=Side.SELL)
        late = fill_for(order, "x-late", "1.0000", "187.2500", seconds=30)
        early = fill_for(order, "x-early", "2.5000", "187.2400", seconds=10)
        elsewhere = fill_for(other, "x-other", "0.0001", "401.1200", seconds=20)
        await store_all(store, order, other, fills=[late, early, elsewhere])

        mine = await store.list_fills(order.id)
        since = await store.fills_since(early.timestamp)
        after = await store.fills_since(late.timestamp)

        assert mine == [early, late]
        assert [decimal_texts(f) for f in mine] == [decimal_texts(early), decimal_texts(late)]
        assert since == [early, elsewhere, late]
        assert after == [late]

    async def test_fill_totals_add_up_every_fill_and_keep_each_symbols_last_price(self, store: OrderStore) -> None:
        empty = await store.fill_totals()
        buy = new_order(status=OrderStatus.NEW)
        sell = new_order(symbol="MSFT", side=Side.SELL)
        fills = [
            fill_for(buy, "x-2", "2.5000", "187.2400", seconds=10),
            fill_for(buy, "x-1", "1.0000", "187.2600", seconds=10),  # same time: the execution id orders them
            fill_for(sell, "x-3", "0.0001", "401.1200", seconds=20),
            fill_for(buy, "x-0", "1.0000", "187.2500", seconds=5),
        ]
        await store_all(store, buy, sell, fills=fills)

        totals = await store.fill_totals()

        assert (empty.cash_flow, dict(empty.last_prices)) == (0, {})
        assert totals.cash_flow == cash_flow(await store.fills_since(moment(-3600)))
        assert totals.cash_flow == Decimal("-842.609888")  # buys out, the sale in, 4 commissions of 0.01 out
        assert dict(totals.last_prices) == {"AAPL": Decimal("187.2400"), "MSFT": Decimal("401.1200")}

    async def test_positions_keep_their_sign_exact_cost_and_pnl(self, store: OrderStore) -> None:
        long = position("AAPL", "12.5000", "2340.62500000")
        short = position("TSLA", "-3.0000", "-750.33330000")
        await store_all(store, positions=[short, long])

        found = [await store.get_position(Symbol("AAPL")), await store.get_position(Symbol("TSLA"))]
        listed = await store.list_positions()

        assert found == [long, short]
        assert listed == [long, short]
        assert [decimal_texts(p) for p in listed] == [decimal_texts(long), decimal_texts(short)]
        assert await store.count_open_positions() == 2

    async def test_a_position_that_goes_flat_is_removed(self, store: OrderStore) -> None:
        held = position("AAPL")
        await store_all(store, positions=[held, position("MSFT")])

        await store_all(store, positions=[attrs.evolve(held, quantity=Decimal("0.0000"), cost_basis=Decimal(0))])

        assert await store.get_position(Symbol("AAPL")) is None
        assert [p.symbol for p in await store.list_positions()] == ["MSFT"]
        assert await store.count_open_positions() == 1

    async def test_the_latest_trading_state_is_returned(self, store: OrderStore) -> None:
        first = TradingStateRecord(
            state=TradingState.HALTED, reason="daily loss", changed_at=moment(1), changed_by="risk"
        )
        second = TradingStateRecord(state=TradingState.ACTIVE, reason="reset", changed_at=moment(2), changed_by="ops")
        assert await store.get_trading_state() is None

        for record in (first, second):
            async with store.unit_of_work() as uow:
                await uow.save_trading_state(record)
                await uow.commit()

        assert await store.get_trading_state() == second

    async def test_a_unit_reads_its_own_writes_and_others_do_not(self, store: OrderStore) -> None:
        order = new_order()
        moved = attrs.evolve(order, status=OrderStatus.NEW, broker_order_id=BrokerOrderId("b-1"))
        async with store.unit_of_work() as uow:
            await uow.add_order(order)
            await uow.update_order(moved)
            await uow.save_position(position("AAPL"))

            assert await uow.get_order(order.id) == moved
            assert await uow.get_order_by_client_id(order.client_order_id, for_update=True) == moved
            assert await uow.get_order_by_broker_id(BrokerOrderId("b-1")) == moved
            assert await uow.get_position(Symbol("AAPL"), for_update=True) == position("AAPL")
            assert await store.get_order(order.id) is None
            await uow.commit()

        assert await store.get_order(order.id) == moved


class TestLookups:
    async def test_unknown_ids_find_nothing(self, store: OrderStore) -> None:
        await store_all(store, new_order())

        async with store.unit_of_work() as uow:
            in_unit = [
                await uow.get_order(new_order_id(), for_update=True),
                await uow.get_order(OrderId("not-a-uuid")),
                await uow.get_order_by_client_id(ClientOrderId("nobody"), for_update=True),
                await uow.get_order_by_broker_id(BrokerOrderId("nobody"), for_update=True),
                await uow.get_position(Symbol("ZZZZ"), for_update=True),
            ]

        assert await store.get_order(new_order_id()) is None
        assert await store.get_order(OrderId("not-a-uuid")) is None
        assert await store.get_order_by_client_id(ClientOrderId("nobody")) is None
        assert await store.get_order_by_broker_id(BrokerOrderId("nobody")) is None
        assert await store.list_fills(new_order_id()) == []
        assert await store.list_fills(OrderId("not-a-uuid")) == []
        assert await store.get_position(Symbol("ZZZZ")) is None
        assert in_unit == [None] * 5

    async def test_an_update_moves_the_order_between_lookups_and_listings(self, store: OrderStore) -> None:
        order = new_order()
        await store_all(store, order)
        accepted = attrs.evolve(order, status=OrderStatus.NEW, broker_order_id=BrokerOrderId("b-42"))
        done = attrs.evolve(accepted, status=OrderStatus.CANCELED, cancelled_at=moment(60))

        async with store.unit_of_work() as uow:
            await uow.update_order(accepted)
            await uow.commit()
        pending_after_accept = await store.count_pending_orders()
        async with store.unit_of_work() as uow:
            await uow.update_order(done)
            await uow.commit()

        assert pending_after_accept == 1
        assert await store.get_order_by_broker_id(BrokerOrderId("b-42")) == done
        assert await store.count_pending_orders() == 0
        assert (await store.list_orders(status=OrderFilter.OPEN)).orders == []
        assert (await store.list_orders(status=OrderFilter.CLOSED)).orders == [done]

    async def test_health_figures(self, store: OrderStore) -> None:
        assert await store.last_order_at() is None
        assert await store.count_pending_orders() == 0
        assert await store.count_open_positions() == 0
        latest = new_order(created_at=moment(500))
        orders = [
            new_order(created_at=moment(100)),
            latest,
            new_order(created_at=moment(200), status=OrderStatus.FILLED),
        ]

        await store_all(store, *orders, positions=[position("AAPL"), position("MSFT", "-1.0000", "-10.00000000")])

        assert await store.last_order_at() == latest.created_at
        assert await store.count_pending_orders() == 2
        assert await store.count_open_positions() == 2
        assert await store.ping() is True


class TestAddOrders:
    async def test_orders_and_their_events_are_stored_together(self, store: OrderStore) -> None:
        closing, opening = new_order(), new_order(side=Side.SELL)
        events = [submitted(closing), submitted(opening)]

        await store.add_orders([closing, opening], events)

        assert await store.get_order(closing.id) == closing
        assert await store.get_order(opening.id) == opening
        assert await unsent(store) == [e.event_id for e in events]

    async def test_an_order_alone_needs_no_events(self, store: OrderStore) -> None:
        order = new_order()
        await store.add_orders([order])
        assert await store.get_order_by_client_id(order.client_order_id) == order
        assert await unsent(store) == []

    async def test_a_taken_client_order_id_stores_none_of_it(self, store: OrderStore) -> None:
        first = new_order()
        await store.add_orders([first])
        fresh = new_order()
        taken = new_order(client_order_id=first.client_order_id)

        with pytest.raises(DuplicateClientOrderId):
            await store.add_orders([fresh, taken], [submitted(fresh), submitted(taken)])

        assert await store.get_order(fresh.id) is None
        assert await store.get_order(taken.id) is None
        assert await unsent(store) == []
        assert (await store.list_orders(status=OrderFilter.ALL)).orders == [first]
        await store.add_orders([fresh])  # and the store goes on as before
        assert await store.get_order(fresh.id) == fresh


class TestRefusals:
    async def test_a_taken_client_order_id_is_refused_and_the_unit_stays_usable(self, store: OrderStore) -> None:
        first = new_order()
        await store_all(store, first)
        second = new_order(client_order_id=first.client_order_id)
        other = new_order()

        async with store.unit_of_work() as uow:
            with pytest.raises(DuplicateClientOrderId):
                await uow.add_order(second)
            await uow.add_order(other)
            await uow.commit()

        assert await store.get_order(second.id) is None
        assert await store.get_order(other.id) == other
        assert await store.get_order_by_client_id(first.client_order_id) == first

    async def test_a_client_order_id_taken_in_the_same_unit_is_refused(self, store: OrderStore) -> None:
        first = new_order()
        async with store.unit_of_work() as uow:
            await uow.add_order(first)
            with pytest.raises(DuplicateClientOrderId):
                await uow.add_order(new_order(client_order_id=first.client_order_id))
            await uow.commit()

        assert (await store.list_orders(status=OrderFilter.ALL)).orders == [first]

    async def test_storing_the_same_order_twice_is_a_taken_client_order_id(self, store: OrderStore) -> None:
        order = new_order()
        await store_all(store, order)

        with pytest.raises(DuplicateClientOrderId):
            await store_all(store, order)

    @pytest.mark.parametrize("write", ["order id", "broker order id", "unknown update", "fill of unknown order"])
    async def test_a_refused_write_makes_the_unit_refuse_the_rest(self, store: OrderStore, write: str) -> None:
        """As an aborted transaction does: nothing of the unit is stored, commit is refused too."""
        stored = new_order(broker_order_id=BrokerOrderId("b-taken"))
        await store_all(store, stored)
        bystander = new_order()
        refused = {
            "order id": lambda uow: uow.add_order(new_order(id=stored.id)),
            "broker order id": lambda uow: uow.add_order(new_order(broker_order_id=BrokerOrderId("b-taken"))),
            "unknown update": lambda uow: uow.update_order(new_order()),
            "fill of unknown order": lambda uow: uow.add_fill(fill_for(new_order(), "x-1", "1.0000", "1.0000")),
        }[write]

        async with store.unit_of_work() as uow:
            await uow.add_order(bystander)
            with pytest.raises(StoreError):
                await refused(uow)
            with pytest.raises(StoreError):
                await uow.add_events([submitted(bystander)])
            with pytest.raises(StoreError):
                await uow.commit()

        assert await store.get_order(bystander.id) is None
        assert await unsent(store) == []

    async def test_a_fill_stored_twice_is_a_concurrent_update(self, store: OrderStore) -> None:
        order = new_order(status=OrderStatus.NEW)
        fill = fill_for(order, "x-1", "1.0000", "187.2500")
        await store_all(store, order, fills=[fill])

        async with store.unit_of_work() as uow:
            with pytest.raises(ConcurrentUpdate):
                await uow.add_fill(fill)

        assert await store.list_fills(order.id) == [fill]

    async def test_a_taken_broker_order_id_cannot_be_given_to_another_order(self, store: OrderStore) -> None:
        first = new_order(broker_order_id=BrokerOrderId("b-1"))
        second = new_order()
        await store_all(store, first, second)

        async with store.unit_of_work() as uow:
            with pytest.raises(StoreError):
                await uow.update_order(attrs.evolve(second, broker_order_id=BrokerOrderId("b-1")))

        assert await store.get_order_by_broker_id(BrokerOrderId("b-1")) == first


class TestUnitOfWork:
    async def assert_nothing_stored(self, store: OrderStore, order: Order) -> None:
        assert await store.get_order(order.id) is None
        assert await store.get_order_by_client_id(order.client_order_id) is None
        assert await store.list_fills(order.id) == []
        assert await store.list_positions() == []
        assert (await store.list_orders(status=OrderFilter.ALL)).orders == []
        assert await store.count_pending_orders() == 0
        assert await store.last_order_at() is None
        assert await store.get_trading_state() is None
        assert await unsent(store) == []

    async def write_everything(self, uow: Any, order: Order) -> None:
        fill = fill_for(order, "x-1", "1.0000", "187.2500")
        await uow.add_order(order)
        await uow.add_fill(fill)
        await uow.update_order(filled(attrs.evolve(order, status=OrderStatus.NEW), fill))
        await uow.save_position(position("AAPL"))
        await uow.add_events([submitted(order), opened(position("AAPL"))])
        await uow.save_trading_state(
            TradingStateRecord(state=TradingState.HALTED, reason="test", changed_at=moment(), changed_by="test")
        )

    async def test_an_error_inside_the_unit_leaves_nothing_behind(self, store: OrderStore) -> None:
        order = new_order()

        async def fail_half_way() -> None:
            async with store.unit_of_work() as uow:
                await self.write_everything(uow, order)
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            await fail_half_way()

        await self.assert_nothing_stored(store, order)

    async def test_leaving_without_commit_rolls_back(self, store: OrderStore) -> None:
        order = new_order()

        async with store.unit_of_work() as uow:
            await self.write_everything(uow, order)

        await self.assert_nothing_stored(store, order)

    async def test_rollback_forgets_and_the_unit_goes_on(self, store: OrderStore) -> None:
        dropped, kept = new_order(), new_order()

        async with store.unit_of_work() as uow:
            await self.write_everything(uow, dropped)
            await uow.rollback()
            await uow.add_order(kept)
            await uow.commit()

        assert await store.get_order(dropped.id) is None
        assert await store.list_positions() == []
        assert await store.get_order(kept.id) == kept

    async def test_everything_written_commits_together(self, store: OrderStore) -> None:
        order = new_order()

        async with store.unit_of_work() as uow:
            await self.write_everything(uow, order)
            await uow.commit()

        stored = await store.get_order(order.id)
        assert stored is not None
        assert stored.filled_quantity == Decimal("1.0000")
        assert [f.execution_id for f in await store.list_fills(order.id)] == ["x-1"]
        assert await store.list_positions() == [position("AAPL")]
        assert len(await unsent(store)) == 2
        assert await store.get_trading_state() is not None


class TestListing:
    async def test_pages_run_newest_first_and_inserts_in_between_change_nothing(self, store: OrderStore) -> None:
        """Keyset paging on (created_at, id): three orders share each instant, so ids break the ties."""
        orders = [new_order(created_at=moment(i // 3)) for i in range(25)]
        await store_all(store, *orders)
        expected = sorted(orders, key=lambda o: (o.created_at, o.id), reverse=True)
        late = new_order(created_at=moment(-1))  # older than everything: it sorts onto a later page
        newer: list[Order] = []

        seen: list[Order] = []
        cursor: str | None = None
        for page_number in range(100):
            page = await store.list_orders(status=OrderFilter.ALL, limit=7, cursor=cursor)
            seen.extend(page.orders)
            newer.append(new_order(created_at=moment(1000 + page_number)))
            await store_all(store, newer[-1], *([late] if page_number == 1 else []))
            if page.next_cursor is None:
                break
            cursor = page.next_cursor

        assert [o.id for o in seen] == [o.id for o in expected] + [late.id]
        assert not {o.id for o in newer} & {o.id for o in seen}

    async def test_filters_split_open_and_closed_orders(self, store: OrderStore) -> None:
        statuses = [
            OrderStatus.PENDING_NEW,
            OrderStatus.FILLED,
            OrderStatus.NEW,
            OrderStatus.CANCELED,
            OrderStatus.REJECTED,
            OrderStatus.PENDING_CANCEL,
            OrderStatus.DONE_FOR_DAY,
        ]
        mixed = [new_order(status=s) for s in statuses]  # oldest first
        working = [o for o in mixed if o.is_open]
        closed = [o for o in mixed if not o.is_open]
        await store_all(store, *mixed)

        open_pages = await self.all_pages(store, OrderFilter.OPEN, limit=2)
        closed_pages = await self.all_pages(store, OrderFilter.CLOSED, limit=3)
        every = await self.all_pages(store, OrderFilter.ALL, limit=100)

        assert open_pages == [[working[2], working[1]], [working[0]]]
        assert closed_pages == [[closed[3], closed[2], closed[1]], [closed[0]]]
        assert every == [mixed[::-1]]

    async def all_pages(self, store: OrderStore, status: OrderFilter, *, limit: int) -> list[list[Order]]:
        pages: list[list[Order]] = []
        cursor: str | None = None
        while True:
            page = await store.list_orders(status=status, limit=limit, cursor=cursor)
            pages.append(list(page.orders))
            if page.next_cursor is None:
                return pages
            cursor = page.next_cursor

    async def test_a_full_last_page_has_no_cursor(self, store: OrderStore) -> None:
        await store_all(store, *[new_order() for _ in range(4)])

        first = await store.list_orders(status=OrderFilter.ALL, limit=2)
        second = await store.list_orders(status=OrderFilter.ALL, limit=2, cursor=first.next_cursor)

        assert first.next_cursor is not None
        assert len(second.orders) == 2
        assert second.next_cursor is None

    async def test_an_empty_store_lists_nothing(self, store: OrderStore) -> None:
        page = await store.list_orders()

        assert page.orders == []
        assert page.next_cursor is None

    @pytest.mark.parametrize(
        "cursor",
        [
            "",
            "not a cursor",
            "bm90IGEgY3Vyc29y",
            base64.urlsafe_b64encode(b"o1|2026-03-02T14:30:00+00:00|not-a-uuid").decode(),
            base64.urlsafe_b64encode(b"o1|2026-03-02T14:30:00|6f1c3a52-3b1e-4d0c-9a43-7a0b8c2f1d11").decode(),
            base64.urlsafe_b64encode(b"o9|2026-03-02T14:30:00+00:00|6f1c3a52-3b1e-4d0c-9a43-7a0b8c2f1d11").decode(),
        ],
    )
    async def test_a_cursor_the_store_did_not_issue_is_refused(self, store: OrderStore, cursor: str) -> None:
        with pytest.raises(InvalidCursor) as raised:
            await store.list_orders(cursor=cursor)

        assert raised.value.code == "INVALID_CURSOR"

    async def test_a_limit_below_one_is_refused(self, store: OrderStore) -> None:
        with pytest.raises(ValueError, match="limit"):
            await store.list_orders(limit=0)


class TestOutbox:
    async def test_events_come_out_oldest_first_with_exact_payloads(self, store: OrderStore) -> None:
        order = new_order(status=OrderStatus.NEW)
        fill = fill_for(order, "x-1", "10.0000", "187.2500")
        events = [submitted(order), filled_event(filled(order, fill), fill), opened(position("AAPL"))]
        await store_all(store, order, events=events[:1])
        await store_all(store, events=events[1:])

        async with store.claim_outbox() as batch:
            messages = list(batch.messages)
            await batch.mark_sent([m.event_id for m in messages])

        assert [m.event_id for m in messages] == [e.event_id for e in events]
        assert [m.type for m in messages] == ["trade.order.submitted", "trade.order.filled", "trade.position.opened"]
        assert [m.occurred_at for m in messages] == [e.ts_event for e in events]
        assert [dict(m.payload) for m in messages] == [payload_of(e) for e in events]
        assert str(messages[1].payload["order"]["filledNotional"]) == "1872.50000000"
        assert str(messages[2].payload["position"]["costBasis"]) == "1872.50000000"
        assert [floats_in(dict(m.payload)) for m in messages] == [[], [], []]
        assert await unsent(store) == []

    async def test_messages_not_marked_sent_are_claimed_again(self, store: OrderStore) -> None:
        events = [submitted(new_order()) for _ in range(3)]
        await store_all(store, events=events)

        async with store.claim_outbox() as batch:
            await batch.mark_sent([batch.messages[1].event_id])

        assert await unsent(store) == [events[0].event_id, events[2].event_id]

    async def test_a_claim_takes_at_most_its_limit(self, store: OrderStore) -> None:
        events = [submitted(new_order()) for _ in range(5)]
        await store_all(store, events=events)

        async with store.claim_outbox(limit=2) as batch:
            claimed = [m.event_id for m in batch.messages]

        assert claimed == [e.event_id for e in events[:2]]

    async def test_two_relays_never_hold_the_same_message(self, store: OrderStore) -> None:
        events = [submitted(new_order()) for _ in range(10)]
        await store_all(store, events=events)

        async with store.claim_outbox(limit=4) as first, store.claim_outbox(limit=100) as second:
            first_ids = [m.event_id for m in first.messages]
            second_ids = [m.event_id for m in second.messages]
            await first.mark_sent(first_ids)
            await second.mark_sent(second_ids)

        assert first_ids == [e.event_id for e in events[:4]]
        assert second_ids == [e.event_id for e in events[4:]]
        assert await unsent(store) == []

    async def test_relays_running_at_once_send_each_message_once(self, store: OrderStore) -> None:
        events = [submitted(new_order()) for _ in range(60)]
        for start in range(0, 60, 10):
            await store_all(store, events=events[start : start + 10])
        sent: list[EventId] = []

        async def relay() -> None:
            while len(sent) < len(events):
                async with store.claim_outbox(limit=4) as batch:
                    for message in batch.messages:
                        await asyncio.sleep(0)  # the bus round trip: the other relays run meanwhile
                        sent.append(message.event_id)
                    await batch.mark_sent([m.event_id for m in batch.messages])
                await asyncio.sleep(0.001)

        await asyncio.wait_for(asyncio.gather(relay(), relay(), relay()), timeout=30)

        assert collections.Counter(sent) == collections.Counter(e.event_id for e in events)
        assert await unsent(store) == []

    async def test_pruning_forgets_sent_events_before_the_cutoff_and_never_an_unsent_one(
        self, store: OrderStore
    ) -> None:
        events = [submitted(new_order()) for _ in range(5)]
        await store_all(store, events=events)
        async with store.claim_outbox(limit=3) as batch:
            await batch.mark_sent([m.event_id for m in batch.messages])

        assert await store.prune_outbox(datetime.now(UTC) - timedelta(hours=1)) == 0  # sent just now: kept
        assert await store.prune_outbox(datetime.now(UTC) + timedelta(minutes=1), limit=2) == 2
        assert await store.prune_outbox(datetime.now(UTC) + timedelta(minutes=1)) == 1
        assert await store.prune_outbox(datetime.now(UTC) + timedelta(minutes=1)) == 0
        assert await unsent(store) == [e.event_id for e in events[3:]]

    async def test_a_sent_event_is_held_to_its_id_until_it_is_pruned(self, store: OrderStore) -> None:
        event = submitted(new_order())
        await store_all(store, events=[event])
        async with store.claim_outbox() as batch:
            await batch.mark_sent([event.event_id])

        with pytest.raises(StoreError, match="already in the outbox"):
            await store_all(store, events=[event])
        await store.prune_outbox(datetime.now(UTC) + timedelta(minutes=1))
        await store_all(store, events=[event])  # forgotten: the id is free again

        assert await unsent(store) == [event.event_id]

    async def test_a_prune_of_nothing_is_refused(self, store: OrderStore) -> None:
        with pytest.raises(ValueError, match="limit"):
            await store.prune_outbox(datetime.now(UTC), limit=0)

    async def test_a_claim_of_nothing_is_refused(self, store: OrderStore) -> None:
        with pytest.raises(ValueError, match="limit"):
            store.claim_outbox(limit=0)

    async def test_only_messages_of_the_batch_can_be_marked_while_it_is_open(self, store: OrderStore) -> None:
        events = [submitted(new_order()) for _ in range(2)]
        await store_all(store, events=events)

        async with store.claim_outbox(limit=1) as batch:
            with pytest.raises(StoreError):
                await batch.mark_sent([events[1].event_id])
        with pytest.raises(StoreError):
            await batch.mark_sent([events[0].event_id])

        assert await unsent(store) == [e.event_id for e in events]


class TestConcurrentUpdates:
    @pytest.mark.parametrize("lookup", ["id", "client order id", "broker order id"])
    async def test_two_fills_of_one_order_arriving_together_are_both_kept(self, store: OrderStore, lookup: str) -> None:
        """`for_update` makes the second writer wait for the first and read what it wrote."""
        order = new_order(status=OrderStatus.NEW, broker_order_id=BrokerOrderId("b-1"))
        await store_all(store, order)

        async def apply(execution_id: str, quantity: str, pause: float) -> None:
            async with store.unit_of_work() as uow:
                current = await {
                    "id": lambda: uow.get_order(order.id, for_update=True),
                    "client order id": lambda: uow.get_order_by_client_id(order.client_order_id, for_update=True),
                    "broker order id": lambda: uow.get_order_by_broker_id(BrokerOrderId("b-1"), for_update=True),
                }[lookup]()
                assert current is not None
                await asyncio.sleep(pause)  # the other writer arrives meanwhile
                fill = fill_for(current, execution_id, quantity, "187.2500")
                await uow.update_order(filled(current, fill))
                await uow.add_fill(fill)
                await uow.commit()

        await asyncio.gather(apply("x-1", "3.0000", 0.2), apply("x-2", "4.0000", 0))

        final = await store.get_order(order.id)
        assert final is not None
        assert final.filled_quantity == Decimal("7.0000")
        assert final.execution_ids == {"x-1", "x-2"}
        assert len(await store.list_fills(order.id)) == 2

    async def test_first_fills_in_a_new_symbol_take_turns(self, store: OrderStore) -> None:
        """No row exists to lock yet: the symbol itself is locked."""

        async def buy(quantity: str, pause: float) -> None:
            async with store.unit_of_work() as uow:
                held = await uow.get_position(Symbol("NVDA"), for_update=True)
                await asyncio.sleep(pause)
                before = held.quantity if held is not None else Decimal(0)
                await uow.save_position(position("NVDA", str(before + Decimal(quantity)), "100.00000000"))
                await uow.commit()

        await asyncio.gather(buy("2.0000", 0.2), buy("3.0000", 0))

        final = await store.get_position(Symbol("NVDA"))
        assert final is not None
        assert final.quantity == Decimal("5.0000")


class TestLockedChanges:
    """A change made under the locks of its order and position, as the ledger makes every fill.

    The PostgreSQL store keeps such writes back and sends them as one statement with the commit
    (see `adapters.postgres.batch`): what is written must still be what is read, in order, and
    a refusal must still leave nothing behind, whichever call reports it.
    """

    async def locked(self, uow: Any, order: Order) -> Order:
        current = await uow.get_order(order.id, for_update=True)
        assert current is not None
        assert await uow.get_position(order.symbol, for_update=True) is None
        return current

    async def test_the_order_its_fills_position_and_events_commit_together_in_order(self, store: OrderStore) -> None:
        order = new_order(status=OrderStatus.NEW, quantity="3.0000")
        await store_all(store, order)
        fills = [fill_for(order, "x-1", "1.0000", "187.2500"), fill_for(order, "x-2", "2.0000", "187.5000", seconds=1)]
        once, twice = filled(order, fills[0]), filled(filled(order, fills[0]), fills[1])
        events = [filled_event(once, fills[0]), opened(position("AAPL", "1.0000", "187.25000000"))]
        events += [filled_event(twice, fills[1]), submitted(order), opened(position("AAPL", "3.0000", "562.25000000"))]

        async with store.unit_of_work() as uow:
            await self.locked(uow, order)
            await uow.add_fill(fills[0])
            await uow.update_order(once)
            await uow.save_position(position("AAPL", "1.0000", "187.25000000"))
            await uow.add_events(events[:2])
            await uow.add_fill(fills[1])
            await uow.update_order(twice)
            await uow.save_position(position("AAPL", "3.0000", "562.25000000"))
            await uow.add_events(events[2:])
            await uow.commit()

        assert await store.get_order(order.id) == attrs.evolve(twice, execution_ids=frozenset({"x-1", "x-2"}))
        assert await store.list_fills(order.id) == fills
        assert await store.list_positions() == [position("AAPL", "3.0000", "562.25000000")]
        assert await unsent(store) == [e.event_id for e in events]

    async def test_the_unit_reads_what_it_wrote_under_the_locks(self, store: OrderStore) -> None:
        order = new_order(status=OrderStatus.NEW)
        await store_all(store, order)
        fill = fill_for(order, "x-1", "1.0000", "187.2500")

        async with store.unit_of_work() as uow:
            await self.locked(uow, order)
            await uow.add_fill(fill)
            await uow.update_order(filled(order, fill))
            await uow.save_position(position("AAPL"))
            seen = await uow.get_order(order.id, for_update=True)
            held = await uow.get_position(order.symbol, for_update=True)
            await uow.save_position(attrs.evolve(position("AAPL"), quantity=Decimal(0), cost_basis=Decimal(0)))
            gone = await uow.get_position(order.symbol)

        assert seen is not None
        assert seen.filled_quantity == Decimal("1.0000")
        assert seen.execution_ids == {"x-1"}
        assert held == position("AAPL")
        assert gone is None
        assert await store.get_order(order.id) == order  # left without commit: nothing of it stays
        assert await store.list_fills(order.id) == []
        assert await store.list_positions() == []

    async def test_a_position_saved_before_it_is_locked_is_read_as_saved(self, store: OrderStore) -> None:
        """The PostgreSQL store reads an order's position with the order: a write in between wins."""
        order = new_order(status=OrderStatus.NEW)
        await store_all(store, order, positions=[position("AAPL", "1.0000", "187.25000000")])

        async with store.unit_of_work() as uow:
            assert await uow.get_order(order.id, for_update=True) is not None
            await uow.save_position(position("AAPL", "2.0000", "374.50000000"))
            held = await uow.get_position(order.symbol, for_update=True)
            await uow.save_position(attrs.evolve(position("AAPL"), quantity=Decimal(0), cost_basis=Decimal(0)))
            gone = await uow.get_position(order.symbol, for_update=True)
            await uow.commit()

        assert held == position("AAPL", "2.0000", "374.50000000")
        assert gone is None
        assert await store.list_positions() == []

    async def test_rollback_forgets_the_locked_writes_and_the_unit_goes_on(self, store: OrderStore) -> None:
        order = new_order(status=OrderStatus.NEW)
        await store_all(store, order)
        fill = fill_for(order, "x-1", "1.0000", "187.2500")

        async with store.unit_of_work() as uow:
            await self.locked(uow, order)
            await uow.add_fill(fill)
            await uow.update_order(filled(order, fill))
            await uow.add_events([filled_event(filled(order, fill), fill)])
            await uow.rollback()
            current = await self.locked(uow, order)
            await uow.update_order(attrs.evolve(current, status=OrderStatus.CANCELED))
            await uow.commit()

        stored = await store.get_order(order.id)
        assert stored is not None
        assert stored.status is OrderStatus.CANCELED
        assert stored.filled_quantity == Decimal(0)
        assert await store.list_fills(order.id) == []
        assert await unsent(store) == []

    @pytest.mark.parametrize("refusal", ["fill stored twice", "broker order id taken"])
    async def test_a_refused_locked_write_leaves_nothing_behind(self, store: OrderStore, refusal: str) -> None:
        """The refusal comes out of the write itself or, at the latest, out of `commit()`."""
        first = new_order(status=OrderStatus.NEW, quantity="3.0000")
        stored_fill = fill_for(first, "x-1", "1.0000", "187.2500")
        order = filled(first, stored_fill)
        other = new_order(broker_order_id=BrokerOrderId("b-taken"))
        await store_all(store, order, other, fills=[stored_fill])
        fill = fill_for(order, "x-2", "1.0000", "187.2500")
        expected: type[StoreError] = ConcurrentUpdate if refusal == "fill stored twice" else StoreError

        async def change(uow: Any) -> None:
            await self.locked(uow, order)
            await uow.add_fill(fill)
            await uow.save_position(position("AAPL"))
            if refusal == "fill stored twice":
                await uow.add_fill(stored_fill)
            else:
                await uow.update_order(attrs.evolve(order, broker_order_id=BrokerOrderId("b-taken")))
            await uow.add_events([submitted(order)])
            await uow.commit()

        async with store.unit_of_work() as uow:
            with pytest.raises(expected):
                await change(uow)
            with pytest.raises(StoreError):  # the unit refuses everything after the refusal
                await uow.add_events([submitted(order)])
            with pytest.raises(StoreError):
                await uow.commit()

        assert await store.get_order(order.id) == order
        assert await store.list_fills(order.id) == [stored_fill]
        assert await store.list_positions() == []
        assert await unsent(store) == []

    async def test_a_write_of_an_order_not_locked_is_still_refused_at_once(self, store: OrderStore) -> None:
        order = new_order(status=OrderStatus.NEW)
        await store_all(store, order)

        async with store.unit_of_work() as uow:
            await self.locked(uow, order)
            with pytest.raises(StoreError):
                await uow.update_order(new_order())
