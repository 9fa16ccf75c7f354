"""The Alpaca adapter, open on the session's simulator (reset for each test)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.alpaca.broker import AlpacaBroker
from apps.alpaca_sim import SimServer
from tests.contract.alpaca.support import opened_broker, running_engine
from trading_core.engine import TradingEngine


@pytest.fixture
async def broker(alpaca_sim: SimServer) -> AsyncIterator[AlpacaBroker]:
    async with opened_broker(alpaca_sim) as opened:
        yield opened


@pytest.fixture
async def engine(broker: AlpacaBroker) -> AsyncIterator[TradingEngine]:
    async with running_engine(broker, broker) as running:
        yield running
