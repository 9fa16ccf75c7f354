"""The store under test: every contract test runs on the in-memory store and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from adapters.memory import InMemoryOrderStore
from adapters.postgres import PostgresOrderStore
from adapters.postgres.connections import StoreConnection
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


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement the PostgreSQL store's connections run, in order."""
    texts: list[str] = []
    run = StoreConnection.run

    async def counted(conn: StoreConnection, query: str, params: tuple[object, ...]) -> psycopg.AsyncCursor[Any]:
        texts.append(query)
        return await run(conn, query, params)

    monkeypatch.setattr(StoreConnection, "run", counted)
    return texts
