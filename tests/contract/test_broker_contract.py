"""The Broker port's contract, held by the in-process paper exchange and by the Alpaca adapter.

The same tests run against `PaperExchange` (in process) and against `AlpacaBroker` talking to the
simulator over real sockets; the simulator serves a paper exchange configured alike, so both
sides answer with the same prices, the same listings and the same refusal codes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.contract.alpaca.support import collect_updates, order
from tests.contract.conftest import Venue
from trading_core.broker_models import TradeUpdate
from trading_core.enums import OrderStatus
from trading_core.errors import BrokerRejected, OrderNotCancelable, OrderNotFound
from trading_core.orders import TradeEvent
from trading_core.ports import Broker, MarketData, OrderFilter
from trading_core.values import BrokerOrderId, ClientOrderId, Symbol


def _has(event: TradeEvent, broker_order_id: BrokerOrderId) -> Callable[[list[TradeUpdate]], bool]:
    return lambda updates: any(u.event is event and u.order.broker_order_id == broker_order_id for u in updates)


async def _filled(broker: Broker, broker_order_id: BrokerOrderId) -> list[TradeUpdate]:
    return await collect_updates(broker, _has(TradeEvent.FILL, broker_order_id))


class TestSubmit:
    async def test_a_market_order_fills_and_its_updates_are_drained(self, venue: Venue) -> None:
        sent = order("AAPL", "buy", "10")

        accepted = await venue.broker.submit_order(sent)
        updates = await _filled(venue.broker, accepted.broker_order_id)

        assert accepted.client_order_id == sent.client_order_id
        events = [u.event for u in updates if u.order.broker_order_id == accepted.broker_order_id]
        assert events == [TradeEvent.NEW, TradeEvent.FILL]
        fill = updates[-1]
        assert (fill.quantity, fill.price, fill.order.filled_quantity) == (Decimal(10), Decimal(190), Decimal(10))
        assert fill.order.status is OrderStatus.FILLED
        assert venue.broker.drain_updates() == []

    async def test_a_limit_order_rests_until_the_price_crosses(self, venue: Venue) -> None:
        accepted = await venue.broker.submit_order(order("AAPL", "buy", "5", type="limit", limit_price="185"))
        assert accepted.status is OrderStatus.NEW

        venue.set_price("AAPL", "184.50")
        updates = await _filled(venue.broker, accepted.broker_order_id)

        assert updates[-1].price == Decimal("184.50")  # the better price, at or under the limit

    async def test_a_stop_order_triggers_when_the_price_falls_through_it(self, venue: Venue) -> None:
        bought = await venue.broker.submit_order(order("AAPL", "buy", "10"))
        await _filled(venue.broker, bought.broker_order_id)
        stop = await venue.broker.submit_order(order("AAPL", "sell", "10", type="stop", stop_price="180"))
        assert stop.status is OrderStatus.NEW

        venue.set_price("AAPL", "179")
        await _filled(venue.broker, stop.broker_order_id)

        assert await venue.broker.list_positions() == []


class TestLookups:
    async def test_by_id_by_client_id_and_in_listings(self, venue: Venue) -> None:
        before = datetime.now(UTC) - timedelta(seconds=1)
        resting = await venue.broker.submit_order(order("MSFT", "buy", "1", type="limit", limit_price="400"))
        filled = await venue.broker.submit_order(order("KO", "buy", "1"))
        await _filled(venue.broker, filled.broker_order_id)

        by_id = await venue.broker.get_order(resting.broker_order_id)
        by_client = await venue.broker.get_order_by_client_id(resting.client_order_id)
        open_ids = [o.broker_order_id for o in await venue.broker.list_orders(status=OrderFilter.OPEN)]
        closed = await venue.broker.list_orders(status=OrderFilter.CLOSED, after=before)

        assert by_id == by_client
        assert by_id.status is OrderStatus.NEW
        assert open_ids == [resting.broker_order_id]
        assert [o.broker_order_id for o in closed] == [filled.broker_order_id]

    async def test_a_listing_bounded_by_submission_time(self, venue: Venue) -> None:
        first = await venue.broker.submit_order(order("MSFT", "buy", "1", type="limit", limit_price="400"))
        second = await venue.broker.submit_order(order("MSFT", "buy", "1", type="limit", limit_price="401"))
        third = await venue.broker.submit_order(order("MSFT", "buy", "1", type="limit", limit_price="402"))

        listed = await venue.broker.list_orders(
            status=OrderFilter.ALL, after=first.submitted_at, until=third.submitted_at
        )

        assert [o.broker_order_id for o in listed] == [second.broker_order_id]
        before_third = await venue.broker.list_orders(status=OrderFilter.ALL, until=third.submitted_at)
        assert [o.broker_order_id for o in before_third] == [second.broker_order_id, first.broker_order_id]

    async def test_what_does_not_exist(self, venue: Venue) -> None:
        assert await venue.broker.get_order_by_client_id(ClientOrderId("never-sent")) is None
        with pytest.raises(OrderNotFound):
            await venue.broker.get_order(BrokerOrderId("6a1f7a43-8f47-4a3a-9a1e-6a1f7a438f47"))
        with pytest.raises(OrderNotFound):
            await venue.broker.cancel_order(BrokerOrderId("6a1f7a43-8f47-4a3a-9a1e-6a1f7a438f47"))
        assert await venue.broker.get_asset(Symbol("ZZZZ")) is None


class TestCancelAndReplace:
    async def test_a_cancel_ends_in_canceled(self, venue: Venue) -> None:
        resting = await venue.broker.submit_order(order("AAPL", "buy", "2", type="limit", limit_price="150"))

        await venue.broker.cancel_order(resting.broker_order_id)
        await collect_updates(venue.broker, _has(TradeEvent.CANCELED, resting.broker_order_id))

        assert (await venue.broker.get_order(resting.broker_order_id)).status is OrderStatus.CANCELED

    async def test_a_filled_order_cannot_be_cancelled(self, venue: Venue) -> None:
        filled = await venue.broker.submit_order(order("AAPL", "buy", "1"))
        await _filled(venue.broker, filled.broker_order_id)

        with pytest.raises(OrderNotCancelable):
            await venue.broker.cancel_order(filled.broker_order_id)

    async def test_a_replacement_replaces(self, venue: Venue) -> None:
        old = await venue.broker.submit_order(
            order("AAPL", "buy", "2", type="limit", limit_price="150", time_in_force="gtc")
        )

        new = await venue.broker.replace_order(
            old.broker_order_id, client_order_id=ClientOrderId("contract-r"), limit_price=Decimal(151)
        )
        await collect_updates(venue.broker, _has(TradeEvent.REPLACED, old.broker_order_id))

        assert (new.replaces, new.limit_price, new.quantity, new.status) == (
            old.broker_order_id,
            Decimal(151),
            Decimal(2),
            OrderStatus.NEW,
        )
        replaced = await venue.broker.get_order(old.broker_order_id)
        assert (replaced.status, replaced.replaced_by) == (OrderStatus.REPLACED, new.broker_order_id)


class TestAccount:
    async def test_positions_account_clock_asset_and_quote(self, venue: Venue) -> None:
        bought = await venue.broker.submit_order(order("AAPL", "buy", "10"))
        await _filled(venue.broker, bought.broker_order_id)

        [position] = await venue.broker.list_positions()
        account = await venue.broker.get_account()
        clock = await venue.broker.get_clock()
        asset = await venue.broker.get_asset(Symbol("GME"))
        market_data: MarketData = venue.broker
        quote = await market_data.latest_quote(Symbol("AAPL"))

        assert (position.symbol, position.quantity, position.cost_basis) == ("AAPL", Decimal(10), Decimal(1900))
        assert (account.cash, account.equity) == (Decimal(98_100), Decimal(100_000))
        assert clock.is_open
        assert asset is not None
        assert (asset.tradable, asset.shortable, asset.fractionable) == (True, False, True)
        assert quote is not None
        assert quote.price == Decimal(190)
        assert set((await venue.broker.health()).values()) == {"connected"}


class TestRefusals:
    @pytest.mark.parametrize(
        ("sent", "code"),
        [
            (order("AAPL", "buy", "10000"), "INSUFFICIENT_FUNDS"),
            (order("SIVB", "buy", "1"), "SYMBOL_NOT_TRADABLE"),
            (order("ZZZZ", "buy", "1"), "SYMBOL_NOT_TRADABLE"),
            (order("AMC", "buy", "0.5"), "SYMBOL_NOT_TRADABLE"),
            (order("GME", "sell", "1"), "SYMBOL_NOT_TRADABLE"),
            (order("AAPL", "buy", "1", type="limit"), "INVALID_ORDER"),
        ],
        ids=["funds", "not-tradable", "unknown", "fraction", "not-shortable", "no-limit-price"],
    )
    async def test_the_same_refusal_codes(self, venue: Venue, sent: Any, code: str) -> None:
        with pytest.raises(BrokerRejected) as refused:
            await venue.broker.submit_order(sent)

        assert code == refused.value.code

    async def test_a_client_order_id_is_never_taken_twice(self, venue: Venue) -> None:
        first = await venue.broker.submit_order(
            order("AAPL", "buy", "1", type="limit", limit_price="100", client_order_id="c-dup")
        )
        await venue.broker.cancel_order(first.broker_order_id)

        with pytest.raises(BrokerRejected) as refused:
            await venue.broker.submit_order(order("AAPL", "buy", "1", client_order_id="c-dup"))

        assert refused.value.code == "DUPLICATE_CLIENT_ORDER_ID"

    async def test_a_sale_through_zero_is_refused(self, venue: Venue) -> None:
        bought = await venue.broker.submit_order(order("AAPL", "buy", "5"))
        await _filled(venue.broker, bought.broker_order_id)

        with pytest.raises(BrokerRejected) as refused:
            await venue.broker.submit_order(order("AAPL", "sell", "8"))

        assert refused.value.code == "INSUFFICIENT_QUANTITY"  # Alpaca's "insufficient qty available"
