"""The store under test: every contract test runs on the in-memory store and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.memory import InMemoryOrderStore
from adapters.postgres import PostgresOrderStore
from tests.contract.builders import payload_of
from trading_core.ports import OrderStore


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[OrderStore]:
    if request.param == "memory":
        yield InMemoryOrderStore(payload_of=payload_of)
        return
    url = request.getfixturevalue("postgres_url")
    opened = await PostgresOrderStore.open(url, payload_of=payload_of, max_size=6)
    try:
        yield opened
    finally:
        await opened.close()
