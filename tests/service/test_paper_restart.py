"""The service on PostgreSQL and the paper exchange, stopped and started again: the account carries on.

Positions and cash come back, and an order left resting is worked again under its broker id.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.memory import InMemoryEventBus
from adapters.paper import PaperExchange
from apps.bootstrap import build
from apps.container import Container
from tests.service.conftest import settings_with
from trading_core import OrderRequest
from trading_core.enums import OrderStatus
from trading_core.history import PortfolioSnapshot, day_bounds
from trading_core.market import eastern_date


def service_on(postgres_url: str, data: Path) -> Container:
    settings = settings_with(
        DATABASE_URL=postgres_url,
        TRADING_ENGINE_EMBEDDED_NATS="false",
        TRADING_ENGINE_EMBEDDED_DATA_DIR=str(data),
        TRADING_ENGINE_BROKER_TYPE="paper",
        TRADING_ENGINE_BROKER_PAPER_STARTING_CASH="50000",
        TRADING_ENGINE_ORDERS_CANCEL_ON_SHUTDOWN="false",  # as after a crash: orders are left open
    )
    return build(settings, bus=InMemoryEventBus())


def market(symbol: str, side: str, quantity: int) -> OrderRequest:
    return OrderRequest.create(symbol=symbol, side=side, type="market", quantity=quantity)


def limit(symbol: str, side: str, quantity: int, price: str) -> OrderRequest:
    return OrderRequest.create(symbol=symbol, side=side, type="limit", quantity=quantity, limit_price=price)


async def test_positions_and_cash_survive_a_restart_and_reconciliation_finds_nothing_to_change(
    postgres_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = service_on(postgres_url, tmp_path)
    await first.open()
    engine = first.engine
    await engine.submit(market("AAPL", "buy", 10))
    await engine.submit(market("MSFT", "buy", 5))
    exchange = engine.broker
    assert isinstance(exchange, PaperExchange)
    exchange.set_price("AAPL", Decimal("201.50"))
    await engine.submit(market("AAPL", "sell", 4))  # the last AAPL trade: the price goes on from it
    await engine.submit(market("MSFT", "sell", 5))  # closed: only its realised P&L and cash remain
    resting = (await engine.submit(limit("NVDA", "buy", 3, "1.00"))).order  # far below the price: it rests
    before_account = await first.engine.broker.get_account()
    before_positions = await first.engine.broker.list_positions()
    await first.close()

    second = service_on(postgres_url, tmp_path)
    with caplog.at_level(logging.WARNING):
        await second.open()
    try:
        account = await second.engine.broker.get_account()
        positions = await second.engine.broker.list_positions()
        assert account.cash == before_account.cash != Decimal(50_000)
        assert account.account_id == before_account.account_id  # the same account, carried on
        assert [(p.symbol, p.quantity, p.cost_basis) for p in positions] == [
            (p.symbol, p.quantity, p.cost_basis) for p in before_positions
        ]
        assert [(p.symbol, p.quantity) for p in positions] == [("AAPL", Decimal(6))]
        assert second.engine.book.positions["AAPL"].quantity == Decimal(6)
        assert not [r for r in caplog.records if "differs" in r.getMessage()]  # nothing to adopt
        assert not [r for r in caplog.records if "could not reconcile" in r.getMessage()]
        assert "carried on from the store: 1 positions, 1 open orders" in second.describe()

        exchange = second.engine.broker
        assert isinstance(exchange, PaperExchange)
        assert exchange.price("AAPL") == Decimal("201.50")
        assert account.equity == before_account.equity  # the same positions at the same prices
        assert (await exchange.get_order(resting.broker_order_id)).status is OrderStatus.NEW  # type: ignore[arg-type]
        exchange.set_price("NVDA", Decimal("0.99"))  # the resting order, worked again, fills
        for _ in range(200):
            if (await second.engine.get_order(resting.id)).status is OrderStatus.FILLED:
                break
            await asyncio.sleep(0.01)
        assert (await second.engine.get_order(resting.id)).filled_quantity == Decimal(3)
        assert second.engine.book.positions["NVDA"].quantity == Decimal(3)
    finally:
        await second.close()


async def test_the_days_pnl_and_its_loss_limit_survive_a_restart(postgres_url: str, tmp_path: Path) -> None:
    """A restart is no new day: the day's P&L counts from the same baseline (`last_equity`), so the
    daily loss limit is not handed a fresh budget by a crash. An account that began today counts
    from its starting cash."""
    first = service_on(postgres_url, tmp_path)
    await first.open()
    try:
        exchange = first.engine.broker
        assert isinstance(exchange, PaperExchange)
        await first.engine.submit(market("AAPL", "buy", 10))
        exchange.set_price("AAPL", exchange.price("AAPL") - Decimal("12.34"))
        await first.engine.submit(market("AAPL", "sell", 10))
        before = await first.engine.get_account()
        lost = (await first.engine.risk_status()).daily_pnl
        assert lost == Decimal("-123.40")
    finally:
        await first.close()

    second = service_on(postgres_url, tmp_path)
    await second.open()
    try:
        after = await second.engine.get_account()
        assert after.last_equity == before.last_equity == Decimal(50_000)
        assert (await second.engine.risk_status()).daily_pnl == lost
    finally:
        await second.close()


async def test_after_a_restart_the_day_counts_from_the_last_value_before_it_began(
    postgres_url: str, tmp_path: Path
) -> None:
    first = service_on(postgres_url, tmp_path)
    await first.open()
    try:
        await first.engine.submit(market("AAPL", "buy", 10))
        yesterday_evening = day_bounds(eastern_date(first.engine.now()))[0] - timedelta(hours=4)
        snapshot = PortfolioSnapshot(
            taken_at=yesterday_evening,
            equity=Decimal("49876.50"),
            cash=Decimal("49876.50"),
            exposure=Decimal(0),
            realized_pnl=Decimal(0),
            unrealized_pnl=Decimal(0),
        )
        await first.engine.store.add_snapshot(snapshot)
    finally:
        await first.close()

    second = service_on(postgres_url, tmp_path)
    await second.open()
    try:
        assert (await second.engine.get_account()).last_equity == Decimal("49876.50")
    finally:
        await second.close()
