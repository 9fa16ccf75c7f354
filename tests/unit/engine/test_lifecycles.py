"""Whole order lifecycles through the engine, the paper exchange and the in-memory store and bus."""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapters.paper import PaperConfig, PaperExchange
from apps.service.metrics import TradingMetrics
from tests.unit.engine.conftest import limit, market, types
from trading_core import ApiStatus, Event, OrderStatus, OrderType, RiskLimits, SubmitStatus
from trading_core.engine import EngineConfig, MarketClosedPolicy, TradingEngine
from trading_core.requests import OrderRequest


class TestMarketOrders:
    async def test_market_buy_fills_and_opens_a_position(
        self, engine: TradingEngine, exchange: PaperExchange, events: list[Event]
    ) -> None:
        exchange.set_price("AAPL", Decimal("100.00"))

        result = await engine.submit(market("AAPL", "buy", 10))

        assert result.status is SubmitStatus.ACCEPTED
        assert result.order.status is OrderStatus.FILLED
        assert result.order.filled_quantity == Decimal(10)
        assert result.order.average_fill_price == Decimal("100.0000")
        position = await engine.get_position("AAPL")
        assert (position.quantity, position.average_entry_price) == (Decimal(10), Decimal("100.0000"))
        assert types(events) == ["trade.order.submitted", "trade.order.filled", "trade.position.opened"]


class TestPartialFills:
    @pytest.fixture
    def paper_config(self) -> PaperConfig:
        return PaperConfig(starting_cash=Decimal(1_000_000), fill_parts=3)

    async def test_partial_fills_accumulate_to_the_order_quantity(
        self, engine: TradingEngine, events: list[Event]
    ) -> None:
        result = await engine.submit(market("MSFT", "buy", 9))

        assert result.order.filled_quantity == Decimal(9)
        assert types(events).count("trade.order.partial") == 2
        assert types(events).count("trade.order.filled") == 1
        fills = await engine.store.list_fills(result.order.id)
        assert sum(f.quantity for f in fills) == Decimal(9)


class TestRestingOrders:
    async def test_limit_order_rests_then_fills_when_the_price_crosses(
        self, engine: TradingEngine, exchange: PaperExchange
    ) -> None:
        exchange.set_price("AAPL", Decimal("100.00"))
        result = await engine.submit(limit("AAPL", "buy", 5, "99.00"))
        assert result.order.status is OrderStatus.NEW

        exchange.set_price("AAPL", Decimal("98.50"))
        await engine.process_updates()

        order = await engine.get_order(result.order.id)
        assert order.status is OrderStatus.FILLED
        assert order.average_fill_price is not None
        assert order.average_fill_price <= Decimal("99.00")

    async def test_cancel_of_a_resting_order(
        self, engine: TradingEngine, exchange: PaperExchange, events: list[Event]
    ) -> None:
        exchange.set_price("AAPL", Decimal("100.00"))
        placed = await engine.submit(limit("AAPL", "buy", 5, "90.00"))

        cancelled = await engine.cancel(placed.order.id)

        assert cancelled.status is OrderStatus.CANCELED
        assert cancelled.api_status is ApiStatus.CANCELLED
        assert "trade.order.cancelled" in types(events)

    async def test_replace_changes_price_and_quantity(self, engine: TradingEngine, exchange: PaperExchange) -> None:
        exchange.set_price("AAPL", Decimal("100.00"))
        placed = await engine.submit(limit("AAPL", "buy", 5, "90.00"))

        replaced = await engine.replace(placed.order.id, quantity=Decimal(8), limit_price=Decimal("91.00"))

        old = await engine.get_order(placed.order.id)
        new = replaced.order
        assert (new.quantity, new.limit_price, new.replaces) == (Decimal(8), Decimal("91.00"), old.id)
        assert (old.status, old.replaced_by) == (OrderStatus.REPLACED, new.id)
        assert new.status is OrderStatus.NEW

    async def test_stop_order_triggers_when_the_price_falls_through_it(
        self, engine: TradingEngine, exchange: PaperExchange
    ) -> None:
        exchange.set_price("AAPL", Decimal("100.00"))
        await engine.submit(market("AAPL", "buy", 10))
        stop = OrderRequest.create(symbol="AAPL", side="sell", type=OrderType.STOP, quantity=10, stop_price="95.00")
        placed = await engine.submit(stop)

        exchange.set_price("AAPL", Decimal("94.00"))
        await engine.process_updates()

        order = await engine.get_order(placed.order.id)
        assert order.status is OrderStatus.FILLED
        with pytest.raises(LookupError):
            await engine.get_position("AAPL")

    async def test_day_order_expires_at_the_close(
        self, engine: TradingEngine, exchange: PaperExchange, events: list[Event]
    ) -> None:
        exchange.set_price("AAPL", Decimal("100.00"))
        placed = await engine.submit(limit("AAPL", "buy", 5, "90.00"))

        exchange.close_market()
        await engine.process_updates()

        order = await engine.get_order(placed.order.id)
        assert (order.status, order.api_status) == (OrderStatus.EXPIRED, ApiStatus.CANCELLED)
        cancelled = [e for e in events if e.TYPE == "trade.order.cancelled"]
        assert [getattr(e, "reason", None) for e in cancelled] == ["expired"]


class TestPositions:
    async def test_open_increase_reduce_flip_and_close_realise_the_right_pnl(
        self, engine: TradingEngine, exchange: PaperExchange, events: list[Event]
    ) -> None:
        """Buy 10 @100, buy 10 @110 (avg 105), sell 5 @120 (+75), sell 25 @100 (-75, then short 10),
        buy 10 @90 (+100): realised P&L 100 in all, flat at the end."""
        steps = [("buy", 10, "100.00"), ("buy", 10, "110.00"), ("sell", 5, "120.00"), ("sell", 25, "100.00")]
        for side, qty, px in steps:
            exchange.set_price("AAPL", Decimal(px))
            await engine.submit(market("AAPL", side, qty))
        short = await engine.get_position("AAPL")
        assert (short.side.value, short.quantity, short.average_entry_price) == (
            "short",
            Decimal(10),
            Decimal("100.0000"),
        )

        exchange.set_price("AAPL", Decimal("90.00"))
        await engine.submit(market("AAPL", "buy", 10))

        realised = sum(
            (
                getattr(e, "realized_pnl", Decimal(0))
                for e in events
                if e.TYPE in ("trade.order.filled", "trade.order.partial")
            ),
            Decimal(0),
        )
        assert realised == Decimal(100)
        position_events = [e.TYPE for e in events if e.TYPE.startswith("trade.position")]
        assert position_events == [
            "trade.position.opened",
            "trade.position.updated",
            "trade.position.updated",
            "trade.position.closed",
            "trade.position.opened",
            "trade.position.closed",
        ]
        assert (await engine.list_positions()).positions == ()

    async def test_a_sale_through_zero_is_split_into_close_then_open(
        self, engine: TradingEngine, exchange: PaperExchange
    ) -> None:
        exchange.set_price("AAPL", Decimal("100.00"))
        await engine.submit(market("AAPL", "buy", 10))

        result = await engine.submit(market("AAPL", "sell", 25))

        assert result.order.quantity == Decimal(10)
        assert result.follow_up is not None
        assert result.follow_up.quantity == Decimal(15)
        follow_up = await engine.get_order(result.follow_up.id)
        assert (follow_up.status, follow_up.parent_id) == (OrderStatus.FILLED, result.order.id)
        position = await engine.get_position("AAPL")
        assert (position.side.value, position.quantity) == ("short", Decimal(15))

    async def test_close_all_positions_flattens_every_symbol(self, engine: TradingEngine) -> None:
        await engine.submit(market("AAPL", "buy", 10))
        await engine.submit(market("MSFT", "sell", 3))

        results = await engine.close_all_positions()

        assert sorted(r.order.symbol for r in results) == ["AAPL", "MSFT"]
        assert all(r.order.status is OrderStatus.FILLED for r in results)
        assert (await engine.list_positions()).positions == ()

    async def test_close_part_of_a_position(self, engine: TradingEngine) -> None:
        await engine.submit(market("AAPL", "buy", 10))

        await engine.close_position("AAPL", Decimal(4))

        assert (await engine.get_position("AAPL")).quantity == Decimal(6)


class TestSubmissionRules:
    async def test_a_repeated_client_order_id_returns_the_first_order(self, engine: TradingEngine) -> None:
        first = await engine.submit(market("AAPL", "buy", 1, client_order_id="strategy-7-0001"))

        again = await engine.submit(market("AAPL", "buy", 1, client_order_id="strategy-7-0001"))

        assert again.order.id == first.order.id
        page = await engine.list_orders(status="all")  # type: ignore[arg-type]
        assert len(page.orders) == 1

    async def test_shutdown_cancels_pending_orders(self, engine: TradingEngine, exchange: PaperExchange) -> None:
        exchange.set_price("AAPL", Decimal("100.00"))
        a = await engine.submit(limit("AAPL", "buy", 1, "90.00"))
        b = await engine.submit(limit("AAPL", "buy", 1, "91.00"))

        cancelled = await engine.shutdown()

        assert cancelled == 2
        for placed in (a, b):
            assert (await engine.get_order(placed.order.id)).status is OrderStatus.CANCELED


class TestQueuedWhileClosed:
    @pytest.fixture
    def engine_config(self, limits: RiskLimits) -> EngineConfig:
        return EngineConfig(limits=limits, market_closed_policy=MarketClosedPolicy.QUEUE)

    async def test_a_market_order_queued_while_closed_goes_out_at_the_open(
        self, engine: TradingEngine, exchange: PaperExchange
    ) -> None:
        exchange.close_market()
        await engine.session_closed()

        queued = await engine.submit(market("AAPL", "buy", 2))

        assert (queued.status, queued.order.status) == (SubmitStatus.PENDING, OrderStatus.ACCEPTED)
        exchange.open_market()
        assert await engine.session_opened() == 1
        assert (await engine.get_order(queued.order.id)).status is OrderStatus.FILLED


class TestSplitOrders:
    async def test_replacing_the_held_opening_half_keeps_it_waiting_for_the_close(
        self, engine: TradingEngine, exchange: PaperExchange
    ) -> None:
        exchange.set_price("AAPL", Decimal("100.00"))
        await engine.submit(market("AAPL", "buy", 10))
        split = await engine.submit(limit("AAPL", "sell", 25, "105.00"))
        assert split.follow_up is not None

        replaced = await engine.replace(split.follow_up.id, quantity=Decimal(12))

        assert replaced.order.parent_id == split.order.id
        exchange.set_price("AAPL", Decimal("106.00"))
        await engine.process_updates()
        assert (await engine.get_order(replaced.order.id)).status is OrderStatus.FILLED
        position = await engine.get_position("AAPL")
        assert (position.side.value, position.quantity) == ("short", Decimal(12))


class TestMetricsCountOrders:
    @pytest.fixture
    def paper_config(self) -> PaperConfig:
        return PaperConfig(starting_cash=Decimal(1_000_000), fill_parts=3)

    async def test_an_order_filled_in_three_parts_reached_partially_filled_once(
        self, engine: TradingEngine, exchange: PaperExchange
    ) -> None:
        metrics = TradingMetrics()
        engine.subscribe(metrics.on_event)
        exchange.set_price("AAPL", Decimal("100.00"))

        await engine.submit(market("AAPL", "buy", 9))
        await engine.process_updates()

        counted = {dict(labels)["status"]: int(n) for labels, n in metrics.orders_total.values.items()}
        assert counted == {"submitted": 1, "partially_filled": 1, "filled": 1}
