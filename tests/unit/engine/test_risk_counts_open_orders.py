"""Open orders count as exposure in the risk checks, and orders sent at once are checked one after another.

A limit must hold whatever way the orders come: resting limit orders that would all fill, or
submissions that arrive while another is still being stored.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import attrs
import pytest

from adapters.codec.events import event_payload
from adapters.memory.store import InMemoryOrderStore
from adapters.paper import PaperExchange
from tests.unit.engine.conftest import GENEROUS, SlowStore, limit, market
from trading_core import RiskLimits, SubmitStatus
from trading_core.engine import TradingEngine
from trading_core.errors import StoreError


@pytest.fixture
def store() -> InMemoryOrderStore:
    return SlowStore(payload_of=event_payload)


class TestPositionLimit:
    @pytest.fixture
    def limits(self) -> RiskLimits:
        return attrs.evolve(GENEROUS, max_position_size_percent=Decimal(10))  # 100,000 of 1,000,000

    async def test_orders_sent_together_stop_at_the_limit(self, engine: TradingEngine, exchange: PaperExchange) -> None:
        exchange.set_price("AAPL", Decimal("100.00"))

        results = await asyncio.gather(*(engine.submit(market("AAPL", "buy", 100)) for _ in range(12)))

        statuses = [r.status for r in results]
        assert statuses.count(SubmitStatus.ACCEPTED) == 10
        assert {r.validation.rejection_code for r in results if r.validation and not r.validation.approved} == {
            "POSITION_LIMIT"
        }
        assert (await engine.get_position("AAPL")).quantity == 1000

    async def test_a_resting_buy_counts_as_if_it_had_filled(
        self, engine: TradingEngine, exchange: PaperExchange
    ) -> None:
        exchange.set_price("AAPL", Decimal("100.00"))
        assert (await engine.submit(limit("AAPL", "buy", 600, "99.00"))).status is SubmitStatus.ACCEPTED

        refused = await engine.submit(limit("AAPL", "buy", 500, "99.00"))  # 1,100 x 99 = 108,900

        assert refused.validation is not None
        assert refused.validation.rejection_code == "POSITION_LIMIT"
        assert (await engine.submit(limit("AAPL", "buy", 400, "99.00"))).status is SubmitStatus.ACCEPTED

    async def test_a_resting_sell_counts_against_what_another_sell_reduces(
        self, engine: TradingEngine, exchange: PaperExchange
    ) -> None:
        exchange.set_price("AAPL", Decimal("100.00"))
        await engine.submit(market("AAPL", "buy", 1000))
        await engine.submit(limit("AAPL", "sell", 1000, "120.00"))  # would close the whole position

        # Were the resting sell not counted, this would only reduce and always pass; with it, it
        # would open a short of 1,500 (150,000), over the limit.
        refused = await engine.submit(limit("AAPL", "sell", 1500, "100.00", time_in_force="gtc"))

        assert refused.validation is not None
        assert refused.validation.rejection_code == "POSITION_LIMIT"


class TestSectorLimit:
    @pytest.fixture
    def limits(self) -> RiskLimits:
        return attrs.evolve(GENEROUS, max_sector_exposure_percent=Decimal(30))

    async def test_a_resting_order_in_another_name_counts_for_its_sector(
        self, engine: TradingEngine, exchange: PaperExchange
    ) -> None:
        exchange.set_price("AAPL", Decimal("100.00"))
        exchange.set_price("MSFT", Decimal("100.00"))
        await engine.submit(limit("AAPL", "buy", 2000, "95.00"))  # rests: 2,000 x 100 at the mark

        refused = await engine.submit(market("MSFT", "buy", 1001))

        assert refused.validation is not None
        assert refused.validation.rejection_code == "SECTOR_LIMIT"
        assert (await engine.submit(market("MSFT", "buy", 1000))).status is SubmitStatus.ACCEPTED


class TestMaxOpenPositions:
    @pytest.fixture
    def limits(self) -> RiskLimits:
        return attrs.evolve(GENEROUS, max_open_positions=1)

    async def test_a_resting_order_in_a_new_symbol_takes_a_place(
        self, engine: TradingEngine, exchange: PaperExchange
    ) -> None:
        exchange.set_price("AAPL", Decimal("100.00"))
        await engine.submit(limit("AAPL", "buy", 1, "90.00"))

        refused = await engine.submit(market("MSFT", "buy", 1))

        assert refused.validation is not None
        assert refused.validation.rejection_code == "MAX_OPEN_POSITIONS"
        assert (await engine.submit(limit("AAPL", "buy", 1, "91.00"))).status is SubmitStatus.ACCEPTED

    async def test_orders_sent_together_in_new_symbols_open_one_position(self, engine: TradingEngine) -> None:
        results = await asyncio.gather(*(engine.submit(market(s, "buy", 1)) for s in ("AAPL", "MSFT", "XOM")))

        assert [r.status for r in results].count(SubmitStatus.ACCEPTED) == 1
        assert len((await engine.list_positions()).positions) == 1


async def test_an_order_the_store_refused_is_not_held_open(engine: TradingEngine, store: SlowStore) -> None:
    store.refuse = True

    with pytest.raises(StoreError):
        await engine.submit(market("AAPL", "buy", 1))

    assert engine.book.open_orders == {}
    assert engine.book.open_by_symbol == {}
