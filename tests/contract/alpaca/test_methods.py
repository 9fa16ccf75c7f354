"""Every method of the Broker and MarketData ports, over real sockets against the simulator."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from adapters.alpaca.broker import AlpacaBroker
from apps.alpaca_sim import SimServer
from tests.contract.alpaca.support import collect_updates, eventually, opened_broker, order, sim_settings
from trading_core.enums import OrderStatus
from trading_core.errors import BrokerError, OrderNotCancelable, OrderNotFound
from trading_core.market import Session
from trading_core.orders import TradeEvent
from trading_core.ports import OrderFilter
from trading_core.values import BrokerOrderId, ClientOrderId, Symbol


def _filled(updates: list) -> bool:  # type: ignore[type-arg]
    return any(u.event is TradeEvent.FILL for u in updates)


class TestOrders:
    async def test_a_market_order_is_accepted_then_its_fill_arrives_on_the_stream(self, broker: AlpacaBroker) -> None:
        sent = order("AAPL", "buy", "5")

        accepted = await broker.submit_order(sent)
        updates = await collect_updates(broker, _filled)

        assert accepted.client_order_id == sent.client_order_id
        assert accepted.status in (OrderStatus.NEW, OrderStatus.ACCEPTED, OrderStatus.FILLED)
        fill = next(u for u in updates if u.event is TradeEvent.FILL)
        assert fill.order.broker_order_id == accepted.broker_order_id
        assert (fill.quantity, fill.price, fill.position_quantity) == (Decimal(5), Decimal(190), Decimal(5))
        assert fill.execution_id is not None

    async def test_an_order_is_found_by_its_id_and_by_our_client_order_id(self, broker: AlpacaBroker) -> None:
        sent = order("MSFT", "buy", "2", type="limit", limit_price="400", time_in_force="gtc")
        accepted = await broker.submit_order(sent)

        by_id = await broker.get_order(accepted.broker_order_id)
        by_client = await broker.get_order_by_client_id(sent.client_order_id)

        assert by_id == by_client
        assert (by_id.limit_price, by_id.quantity, by_id.status) == (Decimal(400), Decimal(2), OrderStatus.NEW)

    async def test_unknown_orders(self, broker: AlpacaBroker) -> None:
        assert await broker.get_order_by_client_id(ClientOrderId("nobody-sent-this")) is None
        with pytest.raises(OrderNotFound):
            await broker.get_order(BrokerOrderId("6a1f7a43-8f47-4a3a-9a1e-6a1f7a438f47"))
        with pytest.raises(OrderNotFound):
            await broker.get_order(BrokerOrderId("not-a-uuid"))
        with pytest.raises(OrderNotFound):
            await broker.cancel_order(BrokerOrderId("6a1f7a43-8f47-4a3a-9a1e-6a1f7a438f47"))

    async def test_listings_of_open_and_closed_orders(self, broker: AlpacaBroker) -> None:
        before = datetime.now(UTC) - timedelta(seconds=1)
        resting = [
            await broker.submit_order(order("AAPL", "buy", "1", type="limit", limit_price=p, time_in_force="gtc"))
            for p in ("150", "151", "152")
        ]
        filled = await broker.submit_order(order("KO", "buy", "1"))
        await collect_updates(broker, _filled)

        open_ids = [o.broker_order_id for o in await broker.list_orders(status=OrderFilter.OPEN)]
        closed_ids = [o.broker_order_id for o in await broker.list_orders(status=OrderFilter.CLOSED, after=before)]
        newest_two = await broker.list_orders(status=OrderFilter.ALL, limit=2)

        assert open_ids == [o.broker_order_id for o in reversed(resting)]  # newest first
        assert closed_ids == [filled.broker_order_id]
        assert len(newest_two) == 2
        assert await broker.list_orders(status=OrderFilter.CLOSED, after=datetime.now(UTC) + timedelta(1)) == []

    async def test_a_cancel_is_confirmed_on_the_stream_and_cannot_be_repeated(self, broker: AlpacaBroker) -> None:
        resting = await broker.submit_order(order("AAPL", "buy", "3", type="limit", limit_price="100"))

        await broker.cancel_order(resting.broker_order_id)
        updates = await collect_updates(broker, lambda us: any(u.event is TradeEvent.CANCELED for u in us))

        assert updates[-1].order.status is OrderStatus.CANCELED
        with pytest.raises(OrderNotCancelable):
            await broker.cancel_order(resting.broker_order_id)

    async def test_a_replacement_is_a_new_order_that_replaces_the_old(self, broker: AlpacaBroker) -> None:
        old = await broker.submit_order(order("AAPL", "buy", "3", type="limit", limit_price="100", time_in_force="gtc"))
        new_id = ClientOrderId("replacement-1")

        new = await broker.replace_order(
            old.broker_order_id, client_order_id=new_id, quantity=Decimal(4), limit_price=Decimal("101.5")
        )
        updates = await collect_updates(broker, lambda us: any(u.event is TradeEvent.REPLACED for u in us))

        assert (new.client_order_id, new.replaces, new.quantity, new.limit_price) == (
            new_id,
            old.broker_order_id,
            Decimal(4),
            Decimal("101.5"),
        )
        replaced = next(u for u in updates if u.event is TradeEvent.REPLACED)
        assert replaced.order.status is OrderStatus.REPLACED
        assert (await broker.get_order(old.broker_order_id)).replaced_by == new.broker_order_id


class TestAccountAndMarket:
    async def test_positions_follow_fills(self, broker: AlpacaBroker) -> None:
        await broker.submit_order(order("AAPL", "buy", "10"))
        await collect_updates(broker, _filled)

        [position] = await broker.list_positions()

        assert (position.symbol, position.quantity, position.average_entry_price) == ("AAPL", 10, 190)
        assert position.cost_basis == Decimal(1900)

    async def test_the_account(self, broker: AlpacaBroker) -> None:
        account = await broker.get_account()

        assert account.cash == Decimal(100_000)
        assert account.equity == Decimal(100_000)
        assert account.buying_power > 0
        assert account.account_id

    async def test_the_clock_and_the_session(self, broker: AlpacaBroker) -> None:
        clock = await broker.get_clock()

        assert clock.is_open
        assert clock.session is Session.REGULAR
        assert clock.timestamp.tzinfo is not None

    async def test_assets(self, broker: AlpacaBroker) -> None:
        gme = await broker.get_asset(Symbol("GME"))

        assert gme is not None
        assert (gme.symbol, gme.tradable, gme.shortable) == ("GME", True, False)
        assert await broker.get_asset(Symbol("ZZZZ")) is None

    async def test_the_latest_quote(self, broker: AlpacaBroker, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_price("AAPL", "191.25")

        quote = await broker.latest_quote(Symbol("AAPL"))

        assert quote is not None
        assert quote.price == Decimal("191.25")
        assert await broker.latest_quote(Symbol("ZZZZ")) is None


class TestLifecycleAndHealth:
    async def test_health_says_both_connected_and_sees_the_stream_drop(
        self, broker: AlpacaBroker, alpaca_sim: SimServer
    ) -> None:
        assert await broker.health() == {"alpaca": "connected", "websocket": "connected"}

        alpaca_sim.drop_stream()
        await eventually(lambda: broker.stream.connections >= 2 and broker.stream.ready.is_set())

        assert (await broker.health())["websocket"] == "connected"

    async def test_nothing_is_sent_before_open(self, alpaca_sim: SimServer) -> None:
        async with httpx.AsyncClient() as client:
            broker = AlpacaBroker(client, sim_settings(alpaca_sim), rng=random.Random(1))

            with pytest.raises(BrokerError, match="not open"):
                await broker.submit_order(order())

        assert alpaca_sim.state()["orders"] == 0

    async def test_wrong_keys_are_refused_without_retrying(self, alpaca_sim: SimServer) -> None:
        async with httpx.AsyncClient() as client:
            broker = AlpacaBroker(client, sim_settings(alpaca_sim, secret_key="wrong"), rng=random.Random(1))

            with pytest.raises(BrokerError) as refused:
                await broker.get_account()
            health = await broker.health()

        assert (refused.value.status, refused.value.retryable) == (401, False)
        assert health["alpaca"].startswith("unavailable")

    async def test_a_stream_that_refuses_the_keys_keeps_open_from_succeeding(self, alpaca_sim: SimServer) -> None:
        from adapters.alpaca.config import StreamSettings

        with pytest.raises(BrokerError, match="not ready"):
            async with opened_broker(alpaca_sim, secret_key="wrong", stream=StreamSettings(ready_timeout=0.5)):
                pass

    async def test_context_manager_opens_and_closes(self, alpaca_sim: SimServer) -> None:
        async with httpx.AsyncClient() as client, AlpacaBroker(client, sim_settings(alpaca_sim)) as broker:
            assert broker.stream.ready.is_set()
        await eventually(lambda: alpaca_sim.state()["stream_listening"] == 0)
