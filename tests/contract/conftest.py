"""The store under test: every contract test runs on the in-memory store and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import attrs
import psycopg
import pytest

from adapters.memory import InMemoryOrderStore
from adapters.paper import PaperExchange
from adapters.postgres import PostgresOrderStore
from adapters.postgres.connections import StoreConnection
from tests.contract.alpaca.support import opened_broker
from tests.contract.builders import payload_of
from trading_core.clock import SystemClock
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


@attrs.frozen
class Venue:
    """A broker under test, with the market's price control beside it."""

    broker: Any  # Broker and MarketData
    set_price: Callable[[str, str], None]


@pytest.fixture(params=["paper", "alpaca"])
async def venue(request: pytest.FixtureRequest) -> AsyncIterator[Venue]:
    """The broker contract's venues: the paper exchange, and the Alpaca adapter over the simulator."""
    if request.param == "paper":
        exchange = PaperExchange(SystemClock())
        yield Venue(exchange, lambda symbol, price: exchange.set_price(symbol, Decimal(price)))
        return
    sim = request.getfixturevalue("alpaca_sim")
    async with opened_broker(sim) as broker:
        yield Venue(broker, sim.set_price)
