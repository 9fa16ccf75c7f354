"""Random listings on both stores at once: the same data gives the same pages and cursors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.memory import InMemoryOrderStore
from adapters.postgres import PostgresOrderStore
from tests.contract.builders import moment, new_order, payload_of
from tests.contract.test_order_store import store_all
from trading_core.enums import OrderStatus
from trading_core.ports import OrderFilter, OrderStore

Stores = tuple[asyncio.AbstractEventLoop, InMemoryOrderStore, PostgresOrderStore]


@pytest.fixture
def stores(postgres_url: str) -> Iterator[Stores]:
    """Both stores, kept across Hypothesis examples so that they hold the same growing history."""
    loop = asyncio.new_event_loop()
    postgres = loop.run_until_complete(PostgresOrderStore.open(postgres_url, payload_of=payload_of))
    try:
        yield loop, InMemoryOrderStore(payload_of=payload_of), postgres
    finally:
        loop.run_until_complete(postgres.close())
        loop.close()


async def every_page(store: OrderStore, status: OrderFilter, limit: int) -> list[tuple[list[str], str | None]]:
    pages: list[tuple[list[str], str | None]] = []
    cursor: str | None = None
    while True:
        page = await store.list_orders(status=status, limit=limit, cursor=cursor)
        pages.append(([o.id for o in page.orders], page.next_cursor))
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


orders = st.builds(
    lambda second, micro, status: new_order(created_at=moment(second).replace(microsecond=micro), status=status),
    second=st.integers(0, 3),  # few instants: ties that only the id breaks
    micro=st.sampled_from([0, 1, 999_999]),
    status=st.sampled_from(list(OrderStatus)),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batch=st.lists(orders, min_size=1, max_size=6), status=st.sampled_from(list(OrderFilter)), limit=st.integers(1, 5)
)
def test_both_stores_list_the_same_pages(stores: Stores, batch: list[Any], status: OrderFilter, limit: int) -> None:
    loop, memory, postgres = stores
    for store in (memory, postgres):
        loop.run_until_complete(store_all(store, *batch))

    expected = loop.run_until_complete(every_page(memory, status, limit))
    actual = loop.run_until_complete(every_page(postgres, status, limit))

    assert actual == expected
    assert loop.run_until_complete(postgres.count_pending_orders()) == loop.run_until_complete(
        memory.count_pending_orders()
    )
    assert loop.run_until_complete(postgres.last_order_at()) == loop.run_until_complete(memory.last_order_at())
