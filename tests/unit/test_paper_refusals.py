"""The paper exchange refuses what a broker refuses, with the codes our own risk checks use."""

from __future__ import annotations

import attrs
import pytest

from adapters.paper import PaperExchange
from tests.unit.paper_support import D, events, new_exchange, order
from trading_core import codes
from trading_core.enums import OrderType
from trading_core.errors import BrokerRejected
from trading_core.orders import Order
from trading_core.ports import OrderFilter
from trading_core.values import ClientOrderId


async def refusal(exchange: PaperExchange, sent: Order) -> BrokerRejected:
    with pytest.raises(BrokerRejected) as caught:
        await exchange.submit_order(sent)
    return caught.value


class TestBuyingPower:
    async def test_buy_beyond_a_cash_accounts_buying_power_is_refused(self) -> None:
        exchange = new_exchange(account_type="cash")

        refused = await refusal(exchange, order("AAPL", quantity=527))  # 100,130.00 at 190.00

        assert refused.code == codes.INSUFFICIENT_FUNDS
        assert (D(100_000), D("100130.00")) == (refused.details["buying_power"], refused.details["cost_basis"])

    async def test_open_buy_orders_hold_buying_power(self) -> None:
        exchange = new_exchange(account_type="cash")
        await exchange.submit_order(order(type="limit", limit_price="180.00", quantity=500))  # holds 90,000

        refused = await refusal(exchange, order(type="limit", limit_price="180.00", quantity=60))

        assert refused.code == codes.INSUFFICIENT_FUNDS

    async def test_cancelling_an_open_buy_gives_its_buying_power_back(self) -> None:
        exchange = new_exchange(account_type="cash")
        held = await exchange.submit_order(order(type="limit", limit_price="180.00", quantity=500))
        await exchange.cancel_order(held.broker_order_id)

        await exchange.submit_order(order(type="limit", limit_price="180.00", quantity=500))

        assert D(10_000) == (await exchange.get_account()).buying_power

    async def test_margin_account_buys_twice_its_equity(self) -> None:
        exchange = new_exchange()  # margin, multiplier 2

        await exchange.submit_order(order("AAPL", quantity=1000))  # 190,000

        assert D(10_000) == (await exchange.get_account()).buying_power

    async def test_sale_that_reduces_a_position_needs_no_buying_power(self) -> None:
        exchange = new_exchange(account_type="cash")
        await exchange.submit_order(order(quantity=526))  # 99,940.00 of 100,000
        exchange.set_price("AAPL", D("300.00"))

        await exchange.submit_order(order(side="sell", quantity=526))

        assert await exchange.list_positions() == []


class TestAssets:
    async def test_non_tradable_asset_is_refused(self) -> None:
        refused = await refusal(new_exchange(), order("SIVB"))

        assert refused.code == codes.SYMBOL_NOT_TRADABLE

    async def test_unknown_symbol_is_refused(self) -> None:
        refused = await refusal(new_exchange(), order("ZZZZ"))

        assert (refused.code, refused.message) == (codes.SYMBOL_NOT_TRADABLE, 'asset "ZZZZ" not found')

    async def test_fraction_of_a_non_fractionable_asset_is_refused(self) -> None:
        refused = await refusal(new_exchange(), order("AMC", quantity="1.5"))

        assert refused.code == codes.SYMBOL_NOT_TRADABLE

    async def test_whole_shares_of_a_non_fractionable_asset_are_fine(self) -> None:
        exchange = new_exchange()

        await exchange.submit_order(order("AMC", quantity=2))

        assert [D(2)] == [p.quantity for p in await exchange.list_positions()]


class TestShortSales:
    async def test_short_sale_of_a_non_shortable_asset_is_refused(self) -> None:
        refused = await refusal(new_exchange(), order("GME", side="sell", quantity=5))

        assert refused.code == codes.SYMBOL_NOT_TRADABLE
        assert "GME is not shortable" in refused.message

    async def test_cash_account_cannot_sell_what_it_does_not_hold(self) -> None:
        exchange = new_exchange(account_type="cash")
        await exchange.submit_order(order(quantity=10))

        refused = await refusal(exchange, order(side="sell", quantity=15))

        assert refused.code == codes.SYMBOL_NOT_TRADABLE
        assert (D(10), D(10), D(0)) == (
            refused.details["available"],
            refused.details["existing_qty"],
            refused.details["held_for_orders"],
        )

    async def test_shares_held_for_an_open_sale_cannot_be_sold_twice(self) -> None:
        exchange = new_exchange(account_type="cash")
        await exchange.submit_order(order(quantity=10))
        await exchange.submit_order(order(side="sell", type="limit", limit_price="200.00", quantity=8))

        refused = await refusal(exchange, order(side="sell", quantity=5))

        assert (D(2), D(8)) == (refused.details["available"], refused.details["held_for_orders"])

    async def test_a_fraction_cannot_be_sold_short(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order(quantity=2))

        refused = await refusal(exchange, order(side="sell", quantity="2.5"))

        assert refused.code == codes.SYMBOL_NOT_TRADABLE
        assert "fractional orders cannot be sold short" in refused.message
        await exchange.submit_order(order(side="sell", quantity="1.5"))  # a fraction of a long is fine
        assert [D("0.5")] == [p.quantity for p in await exchange.list_positions()]

    async def test_margin_account_sells_short_and_buys_to_cover(self) -> None:
        exchange = new_exchange()

        await exchange.submit_order(order(side="sell", quantity=10))
        short = [p.quantity for p in await exchange.list_positions()]
        exchange.set_price("AAPL", D("180.00"))
        await exchange.submit_order(order(side="buy", quantity=10))

        assert [D(-10)] == short
        assert await exchange.list_positions() == []
        assert D(100_100) == (await exchange.get_account()).cash


class TestFlips:
    async def test_sale_beyond_a_long_position_is_refused(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order(quantity=10))

        refused = await refusal(exchange, order(side="sell", quantity=15))

        assert refused.code == codes.INSUFFICIENT_QUANTITY
        assert "through zero" in refused.message

    async def test_buy_beyond_a_short_position_is_refused(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order(side="sell", quantity=10))

        refused = await refusal(exchange, order(side="buy", quantity=11))

        assert refused.code == codes.INSUFFICIENT_QUANTITY

    async def test_opening_a_short_while_a_buy_is_open_is_refused(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order(type="limit", limit_price="150.00"))

        refused = await refusal(exchange, order(side="sell", quantity=5))

        assert (
            refused.code,
            refused.message,
        ) == (codes.INVALID_ORDER, "cannot open a short sell while a long buy order is open")

    async def test_flip_is_allowed_when_configured(self) -> None:
        exchange = new_exchange(reject_flips=False)
        await exchange.submit_order(order(quantity=10))

        await exchange.submit_order(order(side="sell", quantity=15))
        positions = await exchange.list_positions()

        assert [(D(-5), D("190.00"))] == [(p.quantity, p.average_entry_price) for p in positions]
        assert D(100_950) == (await exchange.get_account()).cash


class TestShape:
    async def test_trailing_stop_without_a_trail_is_refused(self) -> None:
        sent = attrs.evolve(order(), type=OrderType.TRAILING_STOP)

        refused = await refusal(new_exchange(), sent)

        assert refused.code == codes.INVALID_ORDER

    async def test_limit_order_without_a_limit_price_is_refused(self) -> None:
        sent = attrs.evolve(order(), type=OrderType.LIMIT)

        refused = await refusal(new_exchange(), sent)

        assert (refused.code, refused.details["field"]) == (codes.INVALID_ORDER, "limit_price")

    async def test_opg_order_during_the_session_is_refused(self) -> None:
        refused = await refusal(new_exchange(), order(time_in_force="opg"))

        assert refused.code == codes.MARKET_CLOSED

    async def test_fractional_order_cannot_be_replaced(self) -> None:
        exchange = new_exchange()
        old = await exchange.submit_order(order(type="limit", limit_price="150.00", quantity="1.5"))

        with pytest.raises(BrokerRejected) as caught:
            await exchange.replace_order(old.broker_order_id, client_order_id=ClientOrderId("x"), quantity=D(2))

        assert caught.value.code == codes.INVALID_ORDER


async def test_a_fraction_is_taken_only_for_the_day() -> None:
    exchange = new_exchange()

    refused = await refusal(exchange, order(type="limit", limit_price="100.00", quantity="0.5", time_in_force="gtc"))

    assert refused.code == codes.INVALID_ORDER
    assert refused.message == "fractional orders must be day orders, was gtc"
    await exchange.submit_order(order(type="limit", limit_price="100.00", quantity="0.5"))  # day: fine
    await exchange.submit_order(order(type="limit", limit_price="100.00", quantity=1, time_in_force="gtc"))


class TestClientOrderIds:
    async def test_reused_client_order_id_is_refused(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order(client_order_id="strat7-1"))

        refused = await refusal(exchange, order(client_order_id="strat7-1"))

        assert refused.code == "DUPLICATE_CLIENT_ORDER_ID"

    async def test_client_order_id_of_a_cancelled_order_stays_taken(self) -> None:
        exchange = new_exchange()
        first = await exchange.submit_order(order(type="limit", limit_price="150.00", client_order_id="strat7-1"))
        await exchange.cancel_order(first.broker_order_id)

        refused = await refusal(exchange, order(client_order_id="strat7-1"))

        assert refused.code == "DUPLICATE_CLIENT_ORDER_ID"

    async def test_replacement_may_not_reuse_a_client_order_id(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order(client_order_id="taken"))
        old = await exchange.submit_order(order(type="limit", limit_price="150.00"))

        with pytest.raises(BrokerRejected) as caught:
            await exchange.replace_order(old.broker_order_id, client_order_id=ClientOrderId("taken"), quantity=D(1))

        assert caught.value.code == "DUPLICATE_CLIENT_ORDER_ID"


async def test_refused_order_leaves_no_trace() -> None:
    """A refusal has no side effect: no order, no update, no change to the account."""
    exchange = new_exchange(account_type="cash")
    before = await exchange.get_account()

    await refusal(exchange, order(quantity=1000, client_order_id="too-big"))

    assert events(exchange.drain_updates()) == []
    assert await exchange.get_order_by_client_id(ClientOrderId("too-big")) is None
    assert await exchange.list_orders(status=OrderFilter.ALL) == []
    assert before == await exchange.get_account()
