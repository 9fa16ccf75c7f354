"""Every risk rejection reached through the engine: the order is kept, rejected, with its code."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import attrs
import pytest

from adapters.memory import InMemoryOrderStore
from adapters.paper import PaperConfig, PaperExchange
from tests.unit.engine.conftest import GENEROUS, limit, market, started_engine, types
from trading_core import Event, OrderStatus, RiskLimits, SubmitStatus, TestClock, TradingState
from trading_core.engine import TradingEngine
from trading_core.requests import OrderRequest


async def assert_rejected(engine: TradingEngine, request: OrderRequest, code: str) -> None:
    result = await engine.submit(request)

    assert result.status is SubmitStatus.REJECTED
    assert result.validation is not None
    assert result.validation.rejection_code == code
    stored = await engine.get_order(result.order.id)
    assert (stored.status, stored.rejection_code) == (OrderStatus.REJECTED, code)


async def test_insufficient_funds(engine: TradingEngine, exchange: PaperExchange) -> None:
    exchange.set_price("AAPL", Decimal("100.00"))

    await assert_rejected(engine, market("AAPL", "buy", 100_000), "INSUFFICIENT_FUNDS")


class TestPositionLimit:
    @pytest.fixture
    def limits(self) -> RiskLimits:
        return attrs.evolve(GENEROUS, max_position_size_percent=Decimal(10))

    async def test_one_share_over_ten_percent_is_refused(self, engine: TradingEngine, exchange: PaperExchange) -> None:
        exchange.set_price("AAPL", Decimal("100.00"))

        await assert_rejected(engine, market("AAPL", "buy", 1001), "POSITION_LIMIT")
        assert (await engine.submit(market("AAPL", "buy", 1000))).status is SubmitStatus.ACCEPTED


async def test_market_closed(engine: TradingEngine, exchange: PaperExchange, events: list[Event]) -> None:
    exchange.close_market()
    await engine.session_closed()

    await assert_rejected(engine, market("AAPL", "buy", 1), "MARKET_CLOSED")
    assert types(events) == ["trade.order.rejected"]


async def test_symbol_not_tradable(engine: TradingEngine) -> None:
    await assert_rejected(engine, market("SIVB", "buy", 1), "SYMBOL_NOT_TRADABLE")


async def test_an_unknown_symbol_is_refused_as_not_tradable_not_for_want_of_a_price(engine: TradingEngine) -> None:
    await assert_rejected(engine, market("ZZZZ", "buy", 1), "SYMBOL_NOT_TRADABLE")
    validation = await engine.validate(market("ZZZZ", "buy", 1))
    assert validation.rejection_reason == "ZZZZ is not a known asset"


async def test_short_sale_of_a_non_shortable_symbol(engine: TradingEngine) -> None:
    await assert_rejected(engine, market("GME", "sell", 1), "SYMBOL_NOT_TRADABLE")


async def test_wash_trade_against_our_own_resting_order(engine: TradingEngine, exchange: PaperExchange) -> None:
    exchange.set_price("AAPL", Decimal("100.00"))
    await engine.submit(market("AAPL", "buy", 10))
    await engine.submit(limit("AAPL", "sell", 10, "120.00"))

    await assert_rejected(engine, market("AAPL", "buy", 1), "WASH_TRADE")


class TestSectorLimit:
    @pytest.fixture
    def limits(self) -> RiskLimits:
        return attrs.evolve(GENEROUS, max_sector_exposure_percent=Decimal(30))

    async def test_second_tech_name_over_thirty_percent_is_refused(
        self, engine: TradingEngine, exchange: PaperExchange
    ) -> None:
        exchange.set_price("AAPL", Decimal("100.00"))
        exchange.set_price("MSFT", Decimal("100.00"))
        await engine.submit(market("AAPL", "buy", 2000))

        await assert_rejected(engine, market("MSFT", "buy", 1001), "SECTOR_LIMIT")
        assert (await engine.submit(market("MSFT", "buy", 1000))).status is SubmitStatus.ACCEPTED


class TestDailyLoss:
    @pytest.fixture
    def limits(self) -> RiskLimits:
        return attrs.evolve(GENEROUS, max_daily_loss_percent=Decimal(3))

    async def test_a_breach_refuses_new_exposure_and_switches_to_reducing_only(
        self, engine: TradingEngine, exchange: PaperExchange
    ) -> None:
        exchange.set_price("AAPL", Decimal("100.00"))
        await engine.submit(market("AAPL", "buy", 5000))
        exchange.set_price("AAPL", Decimal("90.00"))  # 50,000 lost on 1,000,000: 5 %

        await assert_rejected(engine, market("MSFT", "buy", 1), "DAILY_LOSS_LIMIT")

        assert engine.trading_state is TradingState.REDUCING_ONLY
        reduce = await engine.submit(market("AAPL", "sell", 100))
        assert reduce.status is SubmitStatus.ACCEPTED
        exchange.set_price("AAPL", Decimal("100.00"))  # recovered, but the state holds until reset
        await assert_rejected(engine, market("MSFT", "buy", 1), "DAILY_LOSS_LIMIT")
        record = await engine.reset_trading_state(by="ops@example.com")
        assert (record.state, record.changed_by) == (TradingState.ACTIVE, "ops@example.com")
        assert (await engine.submit(market("MSFT", "buy", 1))).status is SubmitStatus.ACCEPTED

    async def test_the_breach_ends_on_the_next_trading_day(
        self, engine: TradingEngine, exchange: PaperExchange, clock: TestClock
    ) -> None:
        exchange.set_price("AAPL", Decimal("100.00"))
        await engine.submit(market("AAPL", "buy", 5000))
        exchange.set_price("AAPL", Decimal("90.00"))
        await assert_rejected(engine, market("MSFT", "buy", 1), "DAILY_LOSS_LIMIT")

        exchange.close_market()  # the close rolls yesterday's equity forward
        clock.advance(timedelta(days=1))
        exchange.open_market()

        assert (await engine.submit(market("MSFT", "buy", 1))).status is SubmitStatus.ACCEPTED
        assert engine.trading_state is TradingState.ACTIVE


class TestMaxOpenPositions:
    @pytest.fixture
    def limits(self) -> RiskLimits:
        return attrs.evolve(GENEROUS, max_open_positions=1)

    async def test_a_second_position_is_refused(self, engine: TradingEngine) -> None:
        await engine.submit(market("AAPL", "buy", 1))

        await assert_rejected(engine, market("MSFT", "buy", 1), "MAX_OPEN_POSITIONS")
        assert (await engine.submit(market("AAPL", "buy", 1))).status is SubmitStatus.ACCEPTED


class TestDayTradeBudget:
    @pytest.fixture
    def paper_config(self) -> PaperConfig:
        return PaperConfig(starting_cash=Decimal(20_000))

    @pytest.fixture
    def limits(self) -> RiskLimits:
        return attrs.evolve(GENEROUS, enable_day_trade_budget=True)

    async def test_the_fourth_day_trade_in_five_days_is_refused(
        self, engine: TradingEngine, exchange: PaperExchange
    ) -> None:
        exchange.set_price("AAPL", Decimal("100.00"))
        for _ in range(3):
            await engine.submit(market("AAPL", "buy", 1))
            assert (await engine.submit(market("AAPL", "sell", 1))).status is SubmitStatus.ACCEPTED
        await engine.submit(market("AAPL", "buy", 1))

        await assert_rejected(engine, market("AAPL", "sell", 1), "PDT_RESTRICTED")
        account = await engine.get_account()
        assert (account.daytrade_count, account.pattern_day_trader) == (3, True)


class TestHalt:
    async def test_a_halt_refuses_new_exposure_and_lets_reductions_through(
        self, engine: TradingEngine, exchange: PaperExchange
    ) -> None:
        exchange.set_price("AAPL", Decimal("100.00"))
        await engine.submit(market("AAPL", "buy", 10))

        record = await engine.halt_trading(by="ops@example.com", reason="news")

        assert (record.state, record.changed_by, record.reason) == (TradingState.HALTED, "ops@example.com", "news")
        await assert_rejected(engine, market("MSFT", "buy", 1), "TRADING_HALTED")
        assert (await engine.submit(market("AAPL", "sell", 10))).status is SubmitStatus.ACCEPTED

    async def test_a_halt_outlives_a_restart_and_a_new_trading_day(
        self, engine: TradingEngine, exchange: PaperExchange, store: InMemoryOrderStore, clock: TestClock
    ) -> None:
        await engine.halt_trading(by="ops@example.com")
        exchange.close_market()
        clock.advance(timedelta(days=1))
        exchange.open_market()

        restarted = await started_engine(exchange, clock, store=store)

        await assert_rejected(restarted, market("MSFT", "buy", 1), "TRADING_HALTED")
        assert restarted.trading_state is TradingState.HALTED

    async def test_the_reset_ends_a_halt(self, engine: TradingEngine) -> None:
        await engine.halt_trading(by="ops@example.com")

        await engine.reset_trading_state(by="ops@example.com")

        assert (await engine.submit(market("MSFT", "buy", 1))).status is SubmitStatus.ACCEPTED


async def test_cancel_all_cancels_each_open_order_and_lists_what_it_could_not(
    engine: TradingEngine, exchange: PaperExchange
) -> None:
    exchange.set_price("AAPL", Decimal("100.00"))
    resting = [await engine.submit(limit("AAPL", "buy", 1, "90.00")) for _ in range(3)]

    result = await engine.cancel_all_orders()

    assert {o.id for o in result.cancelled} == {r.order.id for r in resting}
    assert result.failed == ()
    assert engine.book.open_orders == {}
    assert (await engine.cancel_all_orders()).cancelled == ()
