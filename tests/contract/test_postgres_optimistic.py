"""Writes that trust rows as this process last wrote them, and group commit, on real PostgreSQL.

An optimistic unit of work takes an order or position it finds in the store's memory instead of
reading it under a lock, and sends its writes as one statement with the versions attached. These
tests change rows behind the store's back, as another replica would, and check that such a write
then stores nothing and says so, that the engine then does it again with locks, and that writes
merged into one statement by the group commit still succeed or fail one by one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from adapters.codec.events import event_payload
from adapters.paper import PaperConfig, PaperExchange
from adapters.paper.config import Listing
from adapters.postgres import PostgresOrderStore, rows
from adapters.postgres.batch import WriteBatch, WriteKind
from adapters.postgres.connections import NativeQuery, StoreConnection, connection_options
from adapters.postgres.group_commit import GroupCommit
from tests.contract.builders import fill_for, filled, moment, new_order, payload_of, position, submitted
from trading_core import OrderRequest, RiskLimits, TestClock
from trading_core.book import Book
from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.enums import OrderStatus
from trading_core.errors import ConcurrentUpdate, DuplicateClientOrderId, StoreError
from trading_core.events import Event
from trading_core.ledger import OrderLedger
from trading_core.orders import Order, TradeEvent
from trading_core.positions import Position
from trading_core.values import BrokerOrderId, ExecutionId


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[PostgresOrderStore]:
    opened = await PostgresOrderStore.open(postgres_url, payload_of=payload_of, max_size=4)
    try:
        yield opened
    finally:
        await opened.close()


async def sql(url: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Another writer: a connection of its own, in autocommit."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cursor = await conn.execute(query, params)
        return await cursor.fetchall() if cursor.description else []


async def fill_under_lock(store: PostgresOrderStore, order: Order, execution: str, after: Position) -> Order:
    """A change read under locks (not optimistic): what any writer may do, and what teaches the store the rows."""
    return await fill(store, order, execution, after, optimistic=False)


async def fill_optimistically(store: PostgresOrderStore, order: Order, execution: str, after: Position) -> Order:
    """The same change trusting the rows as remembered, announced with an event."""
    return await fill(store, order, execution, after, optimistic=True, events=[submitted(order)])


async def fill(
    store: PostgresOrderStore,
    order: Order,
    execution: str,
    after: Position,
    *,
    optimistic: bool,
    events: Sequence[Event] = (),
) -> Order:
    """One unit of work that fills one share of `order` and leaves its position `after`."""
    fill = fill_for(order, execution, "1.0000", "187.2500")
    async with store.unit_of_work(optimistic=optimistic) as uow:
        current = await uow.get_order(order.id, for_update=True)
        assert current is not None
        await uow.get_position(order.symbol, for_update=True)
        changed = filled(current, fill)
        await uow.add_fill(fill)
        await uow.update_order(changed)
        await uow.save_position(after)
        await uow.add_events(events)
        await uow.commit()
    return changed


async def counts(url: str) -> tuple[int, int]:
    ((fills, events),) = await sql(
        url, "SELECT (SELECT count(*) FROM trading.fills), (SELECT count(*) FROM trading.outbox)"
    )
    return int(fills), int(events)


class TestOptimisticUnits:
    async def test_rows_written_here_are_changed_with_one_statement_and_read_back_as_written(
        self, store: PostgresOrderStore, postgres_url: str, sent: list[str]
    ) -> None:
        first, second = (new_order(status=OrderStatus.NEW, quantity="2.0000") for _ in range(2))
        await store.add_orders([first, second])
        await fill_under_lock(store, first, "x-1", position("AAPL", "1.0000", "187.25000000"))
        sent.clear()

        changed = await fill_optimistically(store, second, "x-2", position("AAPL", "2.0000", "374.50000000"))

        assert len(sent) == 1  # no locking read: the order and the position were remembered
        assert isinstance(sent[0], NativeQuery)  # so psycopg does not parse its 50-odd placeholders
        assert "%s" not in sent[0]
        assert "$46" in sent[0]
        assert await store.get_order(second.id) == changed
        assert await store.get_position(changed.symbol) == position("AAPL", "2.0000", "374.50000000")
        assert await counts(postgres_url) == (2, 1)

    async def test_an_order_changed_by_another_writer_fails_the_commit_and_nothing_is_stored(
        self, store: PostgresOrderStore, postgres_url: str
    ) -> None:
        first, second = (new_order(status=OrderStatus.NEW, quantity="2.0000") for _ in range(2))
        await store.add_orders([first, second])
        await fill_under_lock(store, first, "x-1", position("AAPL", "1.0000", "187.25000000"))
        await sql(postgres_url, "UPDATE trading.orders SET rejection_reason = 'theirs' WHERE id = %s", (second.id,))

        with pytest.raises(ConcurrentUpdate):
            await fill_optimistically(store, second, "x-2", position("AAPL", "2.0000", "374.50000000"))

        assert await counts(postgres_url) == (1, 0)
        assert await store.get_position("AAPL") == position("AAPL", "1.0000", "187.25000000")
        stored = await store.get_order(second.id)
        assert stored is not None
        assert stored.rejection_reason == "theirs"
        # The rows are read afresh the next time, so the same change then goes through.
        changed = await fill_optimistically(store, stored, "x-2", position("AAPL", "2.0000", "374.50000000"))
        assert await store.get_order(second.id) == changed

    async def test_a_position_changed_by_another_writer_fails_the_commit(
        self, store: PostgresOrderStore, postgres_url: str
    ) -> None:
        first, second = (new_order(status=OrderStatus.NEW, quantity="2.0000") for _ in range(2))
        await store.add_orders([first, second])
        await fill_under_lock(store, first, "x-1", position("AAPL", "1.0000", "187.25000000"))
        await sql(postgres_url, "UPDATE trading.positions SET quantity = 7 WHERE symbol = 'AAPL'")

        with pytest.raises(ConcurrentUpdate):
            await fill_optimistically(store, second, "x-2", position("AAPL", "2.0000", "374.50000000"))

        assert await counts(postgres_url) == (1, 0)
        held = await store.get_position("AAPL")
        assert held is not None
        assert held.quantity == 7

    async def test_a_position_another_writer_opened_where_there_was_none_fails_the_commit(
        self, store: PostgresOrderStore, postgres_url: str
    ) -> None:
        first, second = (new_order(status=OrderStatus.NEW, quantity="2.0000") for _ in range(2))
        await store.add_orders([first, second])
        await fill_under_lock(store, first, "x-1", Position.flat(first.symbol))  # remembered: no position
        theirs = position("AAPL", "5.0000", "936.25000000")
        await sql(
            postgres_url,
            "INSERT INTO trading.positions (symbol, quantity, side, average_entry_price, cost_basis, cost_basis_exact,"
            " realized_pnl) VALUES ('AAPL', 5, 'long', 187.25, 936.25, 936.25, 0)",
        )

        with pytest.raises(ConcurrentUpdate):
            await fill_optimistically(store, second, "x-2", position("AAPL", "1.0000", "187.25000000"))

        held = await store.get_position("AAPL")
        assert held is not None
        assert (held.quantity, held.cost_basis) == (theirs.quantity, theirs.cost_basis)

    async def test_a_row_read_and_left_alone_is_checked_too(self, store: PostgresOrderStore, postgres_url: str) -> None:
        order = new_order(status=OrderStatus.NEW, quantity="2.0000")
        await store.add_orders([order])
        await sql(postgres_url, "UPDATE trading.orders SET rejection_reason = 'theirs' WHERE id = %s", (order.id,))

        async with store.unit_of_work(optimistic=True) as uow:
            assert await uow.get_order(order.id, for_update=True) == order  # as remembered: stale
            with pytest.raises(ConcurrentUpdate):
                await uow.commit()  # nothing written, yet what was read must have been current

    async def test_a_second_read_in_a_unit_sees_what_the_unit_wrote(self, store: PostgresOrderStore) -> None:
        first, second = (new_order(status=OrderStatus.NEW, quantity="2.0000") for _ in range(2))
        await store.add_orders([first, second])
        await fill_under_lock(store, first, "x-1", position("AAPL", "1.0000", "187.25000000"))
        grown = position("AAPL", "2.0000", "374.50000000")

        async with store.unit_of_work(optimistic=True) as uow:
            current = await uow.get_order(second.id, for_update=True)
            assert current is not None
            assert await uow.get_position("AAPL", for_update=True) == position("AAPL", "1.0000", "187.25000000")
            await uow.save_position(grown)
            fill = fill_for(current, "x-2", "1.0000", "187.2500")
            changed = filled(current, fill)
            await uow.add_fill(fill)
            await uow.update_order(changed)
            assert await uow.get_position("AAPL", for_update=True) == grown
            assert await uow.get_order(second.id, for_update=True) == changed
            await uow.commit()

    async def test_a_unit_left_without_commit_stores_nothing_and_the_rows_stay_trusted(
        self, store: PostgresOrderStore, postgres_url: str, sent: list[str]
    ) -> None:
        order = new_order(status=OrderStatus.NEW, quantity="2.0000")
        await store.add_orders([order])
        async with store.unit_of_work(optimistic=True) as uow:
            current = await uow.get_order(order.id, for_update=True)
            assert current is not None
            await uow.update_order(filled(current, fill_for(current, "x-1", "1.0000", "187.2500")))
        sent.clear()

        async with store.unit_of_work(optimistic=True) as uow:
            assert await uow.get_order(order.id, for_update=True) == order
            await uow.commit()

        assert len(sent) == 1  # the check of what was read, and no lock
        assert await store.get_order(order.id) == order


def test_native_placeholders_are_numbered_in_order() -> None:
    query = NativeQuery.of("UPDATE t SET (a, b) = (%s, %s::numeric) WHERE id = %s")

    assert query == "UPDATE t SET (a, b) = ($1, $2::numeric) WHERE id = $3"
    assert NativeQuery.of("SELECT 1") == "SELECT 1"


class TestGroupCommit:
    async def test_writes_that_wait_together_go_out_as_one_statement(
        self, store: PostgresOrderStore, postgres_url: str, sent: list[str]
    ) -> None:
        orders = [new_order(status=OrderStatus.NEW, quantity="1.0000") for _ in range(12)]

        await asyncio.gather(*(store.add_orders([order], [submitted(order)]) for order in orders))

        assert len(sent) < len(orders)  # the first alone, the rest merged while it was in flight
        for order in orders:
            assert await store.get_order(order.id) == order
        assert await counts(postgres_url) == (0, 12)

    async def test_a_write_that_spoils_a_merged_statement_fails_alone(
        self, store: PostgresOrderStore, postgres_url: str
    ) -> None:
        taken = new_order(status=OrderStatus.NEW, client_order_id="taken-1")
        await store.add_orders([taken])
        again = new_order(status=OrderStatus.NEW, client_order_id="taken-1")
        others = [new_order(status=OrderStatus.NEW) for _ in range(6)]
        writes = [store.add_orders([order], [submitted(order)]) for order in [*others[:3], again, *others[3:]]]

        outcomes = await asyncio.gather(*writes, return_exceptions=True)

        assert [type(o) for o in outcomes] == [type(None)] * 3 + [DuplicateClientOrderId] + [type(None)] * 3
        for order in others:
            assert await store.get_order(order.id) == order
        assert await store.get_order(again.id) is None
        assert await counts(postgres_url) == (0, 6)

    async def test_a_writer_cancelled_while_it_waits_holds_nobody_up(self, postgres_url: str) -> None:
        store = await PostgresOrderStore.open(postgres_url, payload_of=payload_of, max_size=2)
        try:
            orders = [new_order(status=OrderStatus.NEW) for _ in range(5)]
            tasks = [asyncio.create_task(store.add_orders([order])) for order in orders]
            await asyncio.sleep(0)  # the first is sending; the others wait for it
            tasks[2].cancel()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            later = new_order(status=OrderStatus.NEW)
            await asyncio.wait_for(store.add_orders([later]), 5)  # the group commit is free again
        finally:
            await store.close()

        assert isinstance(outcomes[2], asyncio.CancelledError)
        assert [o for i, o in enumerate(outcomes) if i != 2] == [None] * 4
        stored = await sql(postgres_url, "SELECT id::text FROM trading.orders")
        assert {r[0] for r in stored} == {o.id for i, o in enumerate([*orders, later]) if i != 2}

    async def test_when_the_database_cannot_be_reached_a_merged_write_is_not_sent_again_one_by_one(
        self, postgres_url: str
    ) -> None:
        pool = CountingPool(postgres_url)  # never opened: every connection asked of it is refused
        store = PostgresOrderStore(pool, payload_of=payload_of)
        orders = [new_order(status=OrderStatus.NEW) for _ in range(5)]

        outcomes = await asyncio.gather(*(store.add_orders([o]) for o in orders), return_exceptions=True)

        assert all(isinstance(o, StoreError) for o in outcomes)
        assert pool.asked == 2  # the first alone, then the other four merged: no retries one by one

    async def test_writes_of_the_same_row_are_not_merged(
        self, store: PostgresOrderStore, postgres_url: str, sent: list[str]
    ) -> None:
        flying, twice, other = (new_order(status=OrderStatus.NEW) for _ in range(3))
        await store.add_orders([flying, twice, other])
        sent.clear()
        async with opened_pool(postgres_url) as pool:
            group = GroupCommit(pool)
            writes = [
                rejected(flying, "in flight"),  # sent alone; the others wait for it
                rejected(twice, "first"),
                rejected(twice, "second"),  # the same row as the one before: waits for it
                rejected(other, "merged"),  # another row: goes with "first"
            ]

            await asyncio.gather(*(group.write(batch) for batch in writes))

        assert len(sent) == 3
        reasons = [await store.get_order(o.id) for o in (flying, twice, other)]
        assert [o.rejection_reason if o else None for o in reasons] == ["in flight", "second", "merged"]


class CountingPool(AsyncConnectionPool[Any]):
    """A real pool, never opened, that counts the connections asked of it: one per statement tried."""

    def __init__(self, url: str) -> None:
        super().__init__(
            url, open=False, min_size=1, max_size=2, kwargs=connection_options(url), connection_class=StoreConnection
        )
        self.asked = 0

    async def getconn(self, timeout: float | None = None) -> Any:  # noqa: ASYNC109  # the pool's own signature
        self.asked += 1
        await asyncio.sleep(0.01)  # as a round trip would: the other writes queue up meanwhile
        return await super().getconn(timeout)


@asynccontextmanager
async def opened_pool(url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    """A pool of the store's connections, as `PostgresOrderStore.open` makes it."""
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url, open=False, min_size=1, max_size=4, kwargs=connection_options(url), connection_class=StoreConnection
    )
    await pool.open(wait=True)
    try:
        yield pool
    finally:
        await pool.close()


def rejected(order: Order, reason: str) -> WriteBatch:
    """One write of `order`'s row, with `reason` as its rejection reason."""
    batch = WriteBatch()
    changed = attrs.evolve(order, rejection_reason=reason)
    batch.write(("order", order.id), WriteKind.ORDER, (*rows.order_params(changed), order.id))
    return batch


class TestEngineRedoesWithLocks:
    async def test_a_position_another_replica_changed_is_read_afresh_and_the_fill_applies_to_it(
        self, postgres_url: str
    ) -> None:
        clock = TestClock(datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
        exchange = PaperExchange(
            clock,
            config=PaperConfig(
                starting_cash=Decimal(1_000_000),
                listings=(Listing(symbol="AAPL", price=Decimal("100.00"), sector="Tech"),),
                volatility_bp=0,
            ),
        )
        store = await PostgresOrderStore.open(postgres_url, payload_of=event_payload)
        limits = RiskLimits(max_position_size_percent=Decimal(100), max_daily_loss_percent=Decimal(100))
        engine = TradingEngine(
            broker=exchange, store=store, clock=clock, market_data=exchange, config=EngineConfig(limits=limits)
        )
        try:
            await engine.start()
            buy = OrderRequest.create(symbol="AAPL", side="buy", type="market", quantity=10)
            await engine.submit(buy)
            # Another replica bought 5 more at 100 and wrote the position: this process does not know.
            await sql(
                postgres_url,
                "UPDATE trading.positions SET quantity = 15, cost_basis = 1500, cost_basis_exact = 1500"
                " WHERE symbol = 'AAPL'",
            )

            result = await engine.submit(buy)
            held = await store.get_position("AAPL")
        finally:
            await store.close()

        assert result.order.status is OrderStatus.FILLED
        assert held is not None
        assert (held.quantity, held.cost_basis) == (Decimal(25), Decimal(2500))


class TestTwoReplicas:
    async def test_fills_two_replicas_apply_at_once_in_one_symbol_all_count(
        self, postgres_url: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Each replica trusts the position as it last wrote it; the other keeps changing it."""
        caplog.set_level(logging.INFO, logger="trading_core.ledger")
        replicas = [await PostgresOrderStore.open(postgres_url, payload_of=event_payload) for _ in range(2)]
        clock = TestClock(moment())
        ledgers = [OrderLedger(store, Book(), clock) for store in replicas]
        per_replica = 12
        orders = [[new_order(quantity="1.0000") for _ in range(per_replica)] for _ in ledgers]
        try:
            for ledger, mine in zip(ledgers, orders, strict=True):
                await ledger.insert(mine)

            async def fill_all(ledger: OrderLedger, mine: list[Order], price: str) -> None:
                for order in mine:
                    accepted, update = accepted_and_filled(order, Decimal(price), clock.now())
                    await ledger.apply_updates(order.id, order.symbol, [update], accepted=accepted)

            await asyncio.gather(
                *(fill_all(ledger, mine, p) for ledger, mine, p in zip(ledgers, orders, ("100", "200"), strict=True))
            )
            held = await replicas[0].get_position("AAPL")
            stored = [await replicas[1].get_order(o.id) for mine in orders for o in mine]
        finally:
            for store in replicas:
                await store.close()

        assert held is not None
        assert held.quantity == 2 * per_replica
        assert held.cost_basis == per_replica * Decimal(100) + per_replica * Decimal(200)
        assert all(o is not None and o.status is OrderStatus.FILLED for o in stored)
        assert await counts(postgres_url) == (2 * per_replica, 3 * 2 * per_replica)
        assert any("with locks" in r.getMessage() for r in caplog.records)  # the other replica did get in the way


def accepted_and_filled(order: Order, price: Decimal, at: datetime) -> tuple[BrokerOrder, TradeUpdate]:
    """The broker's answer to `order` and the trade update that fills all of it at `price`."""
    broker_order = BrokerOrder(
        broker_order_id=BrokerOrderId(f"b-{order.id}"),
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side,
        type=order.type,
        time_in_force=order.time_in_force,
        quantity=order.quantity,
        status=OrderStatus.FILLED,
        created_at=at,
        updated_at=at,
        submitted_at=at,
        filled_quantity=order.quantity,
        filled_average_price=price,
        limit_price=order.limit_price,
        filled_at=at,
    )
    fill = TradeUpdate(
        event=TradeEvent.FILL,
        order=broker_order,
        timestamp=at,
        execution_id=ExecutionId(f"x-{order.id}"),
        price=price,
        quantity=order.quantity,
    )
    return broker_order, fill
