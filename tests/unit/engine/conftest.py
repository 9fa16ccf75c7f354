"""The engine wired to the paper exchange and the in-memory store and bus, all in one process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from adapters.codec.events import event_payload
from adapters.memory.store import InMemoryOrderStore
from adapters.paper import PaperConfig, PaperExchange
from trading_core import Event, OrderRequest, RiskLimits, TestClock
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.errors import StoreError
from trading_core.orders import Order as StoredOrder

MONDAY_10AM_ET = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)

GENEROUS = RiskLimits(
    max_position_size_percent=Decimal(100),
    max_sector_exposure_percent=Decimal(100),
    max_daily_loss_percent=Decimal(50),
    enable_day_trade_budget=False,
)
"""Limits that let ordinary test orders through, so each test meets only the rule it is about."""


@pytest.fixture
def clock() -> TestClock:
    return TestClock(MONDAY_10AM_ET)


@pytest.fixture
def paper_config() -> PaperConfig:
    return PaperConfig(starting_cash=Decimal(1_000_000))


@pytest.fixture
def limits() -> RiskLimits:
    return GENEROUS


@pytest.fixture
def engine_config(limits: RiskLimits) -> EngineConfig:
    return EngineConfig(limits=limits)


@pytest.fixture
def exchange(clock: TestClock, paper_config: PaperConfig) -> PaperExchange:
    return PaperExchange(clock, config=paper_config)


@pytest.fixture
def store() -> InMemoryOrderStore:
    return InMemoryOrderStore(payload_of=event_payload)


@pytest.fixture
async def engine(
    exchange: PaperExchange, store: InMemoryOrderStore, clock: TestClock, engine_config: EngineConfig
) -> AsyncIterator[TradingEngine]:
    engine = TradingEngine(broker=exchange, store=store, clock=clock, market_data=exchange, config=engine_config)
    await engine.start()
    return engine


async def started_engine(
    exchange: PaperExchange,
    clock: TestClock,
    config: EngineConfig | None = None,
    *,
    store: InMemoryOrderStore | None = None,
) -> TradingEngine:
    """An engine on `exchange` (a paper exchange, or one that misbehaves) and `store` (a fresh
    in-memory one by default; another engine's, for a restart)."""
    engine = TradingEngine(
        broker=exchange,
        store=store or InMemoryOrderStore(payload_of=event_payload),
        clock=clock,
        market_data=exchange,
        config=config or EngineConfig(limits=GENEROUS),
    )
    await engine.start()
    return engine


@pytest.fixture
def events(engine: TradingEngine) -> list[Event]:
    """Every event the engine commits, in order."""
    seen: list[Event] = []
    engine.subscribe(seen.append)
    return seen


def types(events: list[Event]) -> list[str]:
    return [e.TYPE for e in events]


Order = Callable[..., OrderRequest]


def market(symbol: str, side: str, quantity: int | str, **extra: object) -> OrderRequest:
    return OrderRequest.create(symbol=symbol, side=side, type="market", quantity=quantity, **extra)


def limit(symbol: str, side: str, quantity: int | str, price: str, **extra: object) -> OrderRequest:
    return OrderRequest.create(symbol=symbol, side=side, type="limit", quantity=quantity, limit_price=price, **extra)


class SlowStore(InMemoryOrderStore):
    """Stores new orders after giving way to other tasks, as a database round trip does."""

    refuse = False

    async def add_orders(self, orders: Sequence[StoredOrder], events: Sequence[Event] = ()) -> None:
        await asyncio.sleep(0)
        if self.refuse:
            raise StoreError("the database refused the operation")
        await super().add_orders(orders, events)
