"""What only the PostgreSQL store does: refuse what the schema cannot hold, fill the spec's
columns for SQL readers, keep payloads exact in JSONB, survive dropped connections, report health."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from adapters.postgres import PostgresOrderStore, outbox
from adapters.postgres.connections import LivenessCheck, StoreConnection, connection_options
from adapters.postgres.outbox import decode_payload
from tests.contract.builders import fill_for, filled, new_order, payload_of, position, submitted
from trading_core.enums import OrderStatus
from trading_core.errors import StoreError


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[PostgresOrderStore]:
    opened = await PostgresOrderStore.open(postgres_url, payload_of=payload_of, max_size=3)
    try:
        yield opened
    finally:
        await opened.close()


async def fetch(url: str, query: str) -> list[tuple[object, ...]]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cursor = await conn.execute(query.encode())
        return await cursor.fetchall()


def _pids(found: list[tuple[object, ...]]) -> str:
    return ", ".join(str(int(row[0])) for row in found)  # type: ignore[call-overload]


class TestRefusals:
    @pytest.mark.parametrize(
        "changes",
        [
            {"quantity": Decimal("1.00001")},
            {"limit_price": Decimal("187.12345")},
            {"filled_quantity": Decimal("NaN")},
            {"created_at": datetime(2026, 3, 2, 14, 30)},  # naive on purpose
        ],
        ids=["five places", "price with five places", "not a number", "naive time"],
    )
    async def test_a_value_the_schema_would_change_is_refused(self, store: PostgresOrderStore, changes: dict) -> None:
        order = new_order(**changes)

        async with store.unit_of_work() as uow:
            with pytest.raises(StoreError):
                await uow.add_order(order)

        assert await store.get_order(order.id) is None

    async def test_a_database_error_comes_out_as_a_store_error_from_psycopg(self, store: PostgresOrderStore) -> None:
        too_big = new_order(quantity="100000000000.0000")

        async with store.unit_of_work() as uow:
            with pytest.raises(StoreError) as raised:
                await uow.add_order(too_big)

        assert isinstance(raised.value.__cause__, psycopg.Error)
        assert raised.value.details["sqlstate"] == "22003"

    async def test_a_closed_store_raises_store_errors(self, postgres_url: str) -> None:
        closed = await PostgresOrderStore.open(postgres_url, payload_of=payload_of)
        await closed.close()

        with pytest.raises(StoreError):
            await closed.get_order(new_order().id)
        with pytest.raises(StoreError):  # a unit takes its connection at its first statement
            async with closed.unit_of_work() as uow:
                await uow.get_order(new_order().id, for_update=True)


class TestColumnsForSqlReaders:
    async def test_the_spec_columns_hold_the_values_the_api_shows(
        self, store: PostgresOrderStore, postgres_url: str
    ) -> None:
        order = new_order(quantity="3.0000", status=OrderStatus.NEW)
        fills = [fill_for(order, "x-1", "1.0000", "10.0000"), fill_for(order, "x-2", "2.0000", "10.0001", seconds=1)]
        done = filled(filled(order, fills[0]), fills[1])
        short = position("TSLA", "-3.0000", "-750.33335000")
        async with store.unit_of_work() as uow:
            await uow.add_order(order)
            for fill in fills:
                await uow.add_fill(fill)
            await uow.update_order(done)
            await uow.save_position(short)
            await uow.commit()

        orders = await fetch(
            postgres_url, "SELECT status, filled_quantity, average_fill_price, filled_notional FROM trading.orders"
        )
        positions = await fetch(
            postgres_url,
            "SELECT quantity, side, average_entry_price, cost_basis, cost_basis_exact, realized_pnl"
            " FROM trading.positions",
        )
        assert orders == [("filled", Decimal("3.0000"), Decimal("10.0001"), Decimal("30.00020000"))]
        assert positions == [
            (
                Decimal("3.0000"),
                "short",
                Decimal("250.1111"),
                Decimal("-750.33"),
                Decimal("-750.33335000"),
                Decimal("-12.34567800"),
            )
        ]

    async def test_payloads_are_jsonb_with_every_digit(self, store: PostgresOrderStore, postgres_url: str) -> None:
        order = new_order(quantity="10.5000")
        async with store.unit_of_work() as uow:
            await uow.add_order(order)
            await uow.add_events([submitted(order)])
            await uow.commit()

        found = await fetch(
            postgres_url,
            "SELECT jsonb_typeof(payload->'order'->'quantity'), payload->'order'->>'quantity' FROM trading.outbox",
        )
        assert found == [("number", "10.5000")]


class TestClaims:
    async def test_a_claimed_payload_is_decoded_when_first_read_then_kept(
        self, store: PostgresOrderStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        decoded: list[str] = []

        def counted(text: str) -> Mapping[str, Any]:
            decoded.append(text)
            return decode_payload(text)

        monkeypatch.setattr(outbox, "decode_payload", counted)
        order = new_order(quantity="10.5000")
        async with store.unit_of_work() as uow:
            await uow.add_order(order)
            await uow.add_events([submitted(order)])
            await uow.commit()

        async with store.claim_outbox() as batch:
            (message,) = batch.messages
            assert decoded == []  # not decoded by the claim
            first = message.payload
            assert message.payload is first
            assert len(decoded) == 1
            await batch.mark_sent([message.event_id])

        assert first == payload_of(submitted(order)) | {"eventId": first["eventId"]}
        assert str(first["order"]["quantity"]) == "10.5000"

    async def test_marks_commit_without_waiting_for_the_disk_and_only_they(self, postgres_url: str) -> None:
        """A mark a crash loses only sends its events again, which the bus drops by id: not worth a flush."""
        made: list[psycopg.AsyncConnection[Any]] = []

        async def remember(conn: psycopg.AsyncConnection[Any]) -> None:
            made.append(conn)

        async with store_on_one_connection(postgres_url, configure=remember) as store:
            async with store.unit_of_work() as uow:
                await uow.add_events([submitted(new_order()) for _ in range(2)])
                await uow.commit()
            (conn,) = made  # the pool's only connection: each claim below holds it

            async def setting() -> tuple[Any, ...] | None:
                return await (await conn.execute("SHOW synchronous_commit")).fetchone()

            async with store.claim_outbox(limit=1) as batch:
                default = await setting()
                await batch.mark_sent([batch.messages[0].event_id])
                marking = await setting()
            async with store.claim_outbox() as batch:
                after = await setting()
                left = len(batch.messages)

        assert marking == ("off",)
        assert after == default  # for that transaction only
        assert left == 1


class TestConnections:
    async def test_a_connection_the_server_dropped_is_replaced(
        self, store: PostgresOrderStore, postgres_url: str
    ) -> None:
        order = new_order()
        async with store.unit_of_work() as uow:
            await uow.add_order(order)
            await uow.commit()

        killed = await fetch(
            postgres_url,
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        for _ in range(1000):  # termination is asynchronous: wait until they are gone
            if not await fetch(postgres_url, f"SELECT 1 FROM pg_stat_activity WHERE pid IN ({_pids(killed)})"):
                break
            await asyncio.sleep(0.01)

        assert killed
        assert await store.get_order(order.id) == order
        async with store.unit_of_work() as uow:
            await uow.update_order(attrs.evolve(order, status=OrderStatus.NEW))
            await uow.commit()
        assert await store.ping() is True

    async def test_ping_says_when_the_database_does_not_answer(self) -> None:
        nowhere = await PostgresOrderStore.open(
            "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=1",
            payload_of=payload_of,
            wait=False,
            ping_timeout=0.5,
        )
        try:
            assert await nowhere.ping() is False
        finally:
            await nowhere.close()

    async def test_a_request_waits_for_a_connection_no_longer_than_the_pool_timeout(self) -> None:
        nowhere = await PostgresOrderStore.open(
            "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=1",
            payload_of=payload_of,
            wait=False,
            pool_timeout=0.5,
        )
        try:
            started = asyncio.get_running_loop().time()
            with pytest.raises(StoreError):
                await nowhere.get_order(new_order().id)
            assert asyncio.get_running_loop().time() - started < 5  # the default was 30 s
        finally:
            await nowhere.close()

    async def test_opening_on_an_unreachable_database_is_a_store_error(self) -> None:
        with pytest.raises(StoreError):
            await PostgresOrderStore.open(
                "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=1", payload_of=payload_of, pool_timeout=1
            )

    async def test_open_can_apply_the_migrations_first(self, postgres_empty_url: str) -> None:
        order = new_order()

        async with await PostgresOrderStore.open(postgres_empty_url, payload_of=payload_of, migrate=True) as fresh:
            async with fresh.unit_of_work() as uow:
                await uow.add_order(order)
                await uow.commit()
            found = await fresh.get_order(order.id)

        assert found == order


class TestStatements:
    """What a fill's change sends: the guards of the service's submit path (benchmarks/service.py)."""

    async def test_a_change_under_locks_sends_five_statements_on_cursors_kept_for_them(
        self, postgres_url: str, sent: list[str]
    ) -> None:
        pool = await one_connection_pool(postgres_url)
        store = PostgresOrderStore(pool, payload_of=payload_of)  # as `open` makes it, on a pool we can look into
        orders = [new_order(status=OrderStatus.NEW, quantity="1.0000") for _ in range(2)]
        try:
            for order in orders:
                async with store.unit_of_work() as uow:
                    await uow.add_order(order)
                    await uow.commit()
            sent.clear()
            held = None
            for order in orders:
                fill = fill_for(order, f"x-{order.id}", "1.0000", "187.2500")
                after = position("AAPL", "1.0000", "187.25000000") if held is None else position("AAPL", "2.0000")
                async with store.unit_of_work() as uow:
                    current = await uow.get_order(order.id, for_update=True)
                    held = await uow.get_position(order.symbol, for_update=True)
                    assert current is not None
                    await uow.add_fill(fill)
                    await uow.update_order(filled(current, fill))
                    await uow.save_position(after)
                    await uow.add_events([submitted(order)])
                    await uow.commit()
            async with pool.connection() as conn:
                kept = dict(conn.statement_cursors)
        finally:
            await store.close()

        assert len(sent) == 10  # each change: lock and read the order and its position (one round trip), write all
        assert len(set(sent)) == 5
        assert set(sent) <= set(kept)
        assert (await fetch(postgres_url, "SELECT count(*) FROM trading.fills"))[0] == (2,)

    async def test_a_unit_cancelled_while_it_waits_for_a_lock_leaves_nothing_and_a_usable_pool(
        self, postgres_url: str
    ) -> None:
        store = await PostgresOrderStore.open(postgres_url, payload_of=payload_of, max_size=2)
        order = new_order(status=OrderStatus.NEW, quantity="1.0000")
        fill = fill_for(order, "x-1", "1.0000", "187.2500")
        try:
            async with store.unit_of_work() as uow:
                await uow.add_order(order)
                await uow.commit()

            async def waiting_writer() -> None:
                async with store.unit_of_work() as uow:
                    current = await uow.get_order(order.id, for_update=True)  # waits for the holder
                    assert current is not None
                    await uow.update_order(attrs.evolve(current, status=OrderStatus.CANCELED))
                    await uow.commit()

            async with store.unit_of_work() as holder:
                assert await holder.get_order(order.id, for_update=True) is not None
                waiter = asyncio.create_task(waiting_writer())
                await asyncio.sleep(0.3)
                waiter.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await waiter
                await holder.add_fill(fill)
                await holder.update_order(filled(order, fill))
                await holder.commit()

            for _ in range(3):  # both pooled connections serve again
                async with store.unit_of_work() as uow:
                    current = await uow.get_order(order.id, for_update=True)
                    await uow.commit()
        finally:
            await store.close()

        assert current is not None
        assert current.status is OrderStatus.FILLED
        assert current.execution_ids == {"x-1"}


async def one_connection_pool(url: str, **options: Any) -> AsyncConnectionPool[Any]:
    """An open pool of one of the store's connections, as `PostgresOrderStore.open` makes them."""
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url,
        open=False,
        min_size=1,
        max_size=1,
        kwargs=connection_options(url),
        connection_class=StoreConnection,
        check=LivenessCheck(),
        **options,
    )
    await pool.open(wait=True)
    return pool


@asynccontextmanager
async def store_on_one_connection(url: str, **options: Any) -> AsyncIterator[PostgresOrderStore]:
    """The store on `one_connection_pool` (its options: a `configure` callback, say), closed after."""
    store = PostgresOrderStore(await one_connection_pool(url, **options), payload_of=payload_of)
    try:
        yield store
    finally:
        await store.close()
