"""The paper exchange's account, queries, clock, prices and trade update stream."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from adapters.paper import DEFAULT_LISTINGS, AccountType, PaperConfig
from tests.unit.paper_support import MONDAY_10AM_ET, D, new_exchange, order
from trading_core.broker_models import BrokerOrder
from trading_core.clock import TestClock
from trading_core.enums import OrderStatus
from trading_core.errors import OrderNotFound
from trading_core.market import Session
from trading_core.ports import OrderFilter
from trading_core.values import BrokerOrderId, ClientOrderId, Symbol


class TestAccount:
    async def test_fresh_account_has_its_starting_cash(self) -> None:
        account = await new_exchange().get_account()

        assert (D(100_000), D(100_000), D(200_000), D(100_000), D(2), True) == (
            account.cash,
            account.equity,
            account.buying_power,
            account.last_equity,
            account.multiplier,
            account.shorting_enabled,
        )

    async def test_market_buy_moves_cash_equity_and_buying_power_to_the_cent(self) -> None:
        exchange = new_exchange(account_type="cash")

        await exchange.submit_order(order("AAPL", quantity=7))  # 1,330.00
        await exchange.submit_order(order("MSFT", quantity="2.5"))  # 1,037.50
        exchange.set_price("AAPL", D("191.37"))
        account = await exchange.get_account()

        assert D("97632.50") == account.cash
        assert D("97632.50") + D(7) * D("191.37") + D("1037.50") == account.equity
        assert D("97632.50") == account.buying_power
        assert D("9.59") == account.daily_pnl

    async def test_short_sale_adds_cash_and_leaves_equity_alone(self) -> None:
        exchange = new_exchange()

        await exchange.submit_order(order(side="sell", quantity=100))  # 19,000
        account = await exchange.get_account()

        assert (D(119_000), D(100_000), D(181_000)) == (account.cash, account.equity, account.buying_power)

    async def test_position_shows_average_entry_cost_basis_and_current_price(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order(quantity=10))
        exchange.set_price("AAPL", D("191.00"))
        await exchange.submit_order(order(quantity=20))

        [position] = await exchange.list_positions()

        assert (Symbol("AAPL"), D(30), D("190.6667"), D(5720), D("191.00")) == (
            position.symbol,
            position.quantity,
            position.average_entry_price,
            position.cost_basis,
            position.current_price,
        )

    async def test_partial_close_keeps_the_remaining_cost_basis(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order(quantity=10))
        exchange.set_price("AAPL", D("200.00"))

        await exchange.submit_order(order(side="sell", quantity=4))
        [position] = await exchange.list_positions()

        assert (D(6), D(1140), D("190.0000")) == (position.quantity, position.cost_basis, position.average_entry_price)
        assert D(100_040) == (await exchange.get_account()).cash + D(6) * D("190.00")

    async def test_close_rolls_last_equity_to_the_closing_equity(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order(quantity=10))
        exchange.set_price("AAPL", D("195.00"))

        exchange.close_market()
        account = await exchange.get_account()

        assert (D(100_050), D(0)) == (account.last_equity, account.daily_pnl)

    async def test_cash_account_multiplier_is_one_and_it_cannot_short(self) -> None:
        account = await new_exchange(account_type="cash").get_account()

        assert (D(1), False, D(100_000)) == (account.multiplier, account.shorting_enabled, account.buying_power)

    async def test_the_account_keeps_its_id_and_each_read_is_a_new_value(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order(quantity=10))
        first, account = await exchange.get_account(), await exchange.get_account()

        assert first == account
        assert first.account_id == account.account_id != (await new_exchange().get_account()).account_id
        assert first is not account


class TestOrderQueries:
    async def test_get_order_of_an_unknown_id_is_not_found(self) -> None:
        with pytest.raises(OrderNotFound):
            await new_exchange().get_order(BrokerOrderId(str(uuid.uuid4())))

    async def test_get_order_by_client_id(self) -> None:
        exchange = new_exchange()
        answer = await exchange.submit_order(order(client_order_id="mine"))

        found = await exchange.get_order_by_client_id(ClientOrderId("mine"))
        missing = await exchange.get_order_by_client_id(ClientOrderId("other"))

        assert found is not None
        assert (answer.broker_order_id, OrderStatus.FILLED) == (found.broker_order_id, found.status)
        assert missing is None

    async def test_list_orders_filters_open_closed_and_all_newest_first(self) -> None:
        clock = TestClock(MONDAY_10AM_ET)
        exchange = new_exchange(clock)
        filled = await exchange.submit_order(order())
        clock.advance(timedelta(seconds=1))
        resting = await exchange.submit_order(order(type="limit", limit_price="150.00"))
        clock.advance(timedelta(seconds=1))
        cancelled = await exchange.submit_order(order(type="limit", limit_price="151.00"))
        await exchange.cancel_order(cancelled.broker_order_id)

        def ids(orders: list[BrokerOrder]) -> list[str]:
            return [o.broker_order_id for o in orders]

        assert [resting.broker_order_id] == ids(await exchange.list_orders())
        assert [cancelled.broker_order_id, filled.broker_order_id] == ids(
            await exchange.list_orders(status=OrderFilter.CLOSED)
        )
        assert [cancelled.broker_order_id, resting.broker_order_id, filled.broker_order_id] == ids(
            await exchange.list_orders(status=OrderFilter.ALL)
        )
        assert [cancelled.broker_order_id, resting.broker_order_id] == ids(
            await exchange.list_orders(status=OrderFilter.ALL, after=MONDAY_10AM_ET)
        )
        assert [cancelled.broker_order_id] == ids(await exchange.list_orders(status=OrderFilter.ALL, limit=1))

    async def test_closed_order_retention_forgets_the_oldest_closed_orders(self) -> None:
        exchange = new_exchange(closed_order_retention=2)
        first = await exchange.submit_order(order(client_order_id="first"))
        await exchange.submit_order(order(side="sell", client_order_id="second"))
        await exchange.submit_order(order(client_order_id="third"))

        with pytest.raises(OrderNotFound):
            await exchange.get_order(first.broker_order_id)
        assert len(await exchange.list_orders(status=OrderFilter.ALL)) == 2
        assert await exchange.get_order_by_client_id(ClientOrderId("first")) is None


class TestMarketClock:
    async def test_open_market_reports_the_regular_session_and_todays_close(self) -> None:
        clock = await new_exchange().get_clock()

        assert (clock.is_open, clock.session, clock.timestamp) == (True, Session.REGULAR, MONDAY_10AM_ET)
        assert datetime(2026, 3, 2, 21, 0, tzinfo=UTC) == clock.next_close
        assert datetime(2026, 3, 3, 14, 30, tzinfo=UTC) == clock.next_open

    async def test_closed_on_friday_evening_next_session_is_monday(self) -> None:
        friday_evening = datetime(2026, 3, 6, 23, 0, tzinfo=UTC)  # 18:00 in New York
        exchange = new_exchange(TestClock(friday_evening), market_open=False)

        clock = await exchange.get_clock()

        assert (clock.is_open, clock.session) == (False, Session.CLOSED)
        assert datetime(2026, 3, 9, 13, 30, tzinfo=UTC) == clock.next_open  # daylight saving time began
        assert datetime(2026, 3, 9, 20, 0, tzinfo=UTC) == clock.next_close

    async def test_open_and_close_move_the_clock(self) -> None:
        exchange = new_exchange()

        exchange.close_market()
        closed = (await exchange.get_clock()).is_open
        exchange.open_market()

        assert (closed, (await exchange.get_clock()).is_open) == (False, True)


class TestAssetsAndPrices:
    async def test_assets_carry_sector_and_flags(self) -> None:
        exchange = new_exchange()

        assets = {a.symbol: a for a in await exchange.list_assets()}

        assert len(DEFAULT_LISTINGS) == len(assets)
        assert (
            assets[Symbol("AAPL")].sector,
            assets[Symbol("AAPL")].tradable,
            assets[Symbol("AAPL")].shortable,
            assets[Symbol("AAPL")].fractionable,
        ) == ("Information Technology", True, True, True)
        assert (
            assets[Symbol("SIVB")].tradable,
            assets[Symbol("GME")].shortable,
            assets[Symbol("AMC")].fractionable,
        ) == (False, False, False)
        assert uuid.UUID(assets[Symbol("XOM")].asset_id).version == 5

    async def test_unknown_asset_is_none(self) -> None:
        assert await new_exchange().get_asset(Symbol("ZZZZ")) is None

    async def test_latest_quote_is_the_current_price_and_when_it_was_set(self) -> None:
        clock = TestClock(MONDAY_10AM_ET)
        exchange = new_exchange(clock)
        clock.advance(timedelta(minutes=5))
        exchange.set_price("XOM", D("116.25"))

        quote = await exchange.latest_quote(Symbol("XOM"))

        assert quote is not None
        assert (D("116.25"), D("116.25"), D("116.25"), clock.now()) == (
            quote.price,
            quote.bid,
            quote.ask,
            quote.timestamp,
        )
        assert await exchange.latest_quote(Symbol("ZZZZ")) is None

    async def test_random_walk_is_reproducible_from_its_seed_and_moves_in_cents(self) -> None:
        one, two, other = new_exchange(seed=7), new_exchange(seed=7), new_exchange(seed=8)

        for exchange in (one, two, other):
            exchange.step_prices(50)
        prices = [[e.price(listing.symbol) for listing in DEFAULT_LISTINGS] for e in (one, two, other)]

        assert prices[0] == prices[1]
        assert prices[0] != prices[2]
        assert all(p == p.quantize(D("0.01")) and p > 0 for p in prices[0])

    async def test_random_walk_fills_the_orders_it_crosses(self) -> None:
        exchange = new_exchange(volatility_bp=100)
        await exchange.submit_order(order("AAPL", type="limit", limit_price="189.99"))
        await exchange.submit_order(order("MSFT", quantity=5))
        await exchange.submit_order(order("MSFT", side="sell", type="limit", limit_price="415.01", quantity=5))
        exchange.drain_updates()

        exchange.step_prices(200)
        filled = {u.order.symbol for u in exchange.drain_updates() if u.order.status is OrderStatus.FILLED}

        assert {"AAPL", "MSFT"} == filled

    async def test_set_price_refuses_an_unlisted_symbol_and_a_bad_price(self) -> None:
        exchange = new_exchange()

        with pytest.raises(KeyError):
            exchange.set_price("ZZZZ", D(1))
        with pytest.raises(ValueError, match="greater than 0"):
            exchange.set_price("AAPL", D(0))


class TestTradeUpdateStream:
    async def test_drain_takes_the_updates_once(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order())

        first, second = exchange.drain_updates(), exchange.drain_updates()

        assert (len(first), len(second)) == (2, 0)

    async def test_next_updates_waits_for_the_next_update(self) -> None:
        exchange = new_exchange()
        waiting = asyncio.create_task(exchange.next_updates())
        await asyncio.sleep(0)
        assert not waiting.done()

        await exchange.submit_order(order())
        updates = await asyncio.wait_for(waiting, timeout=1)

        assert [u.event for u in updates] == ["new", "fill"]

    async def test_next_updates_returns_at_once_when_updates_are_there(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order())

        updates = await asyncio.wait_for(exchange.next_updates(), timeout=1)

        assert len(updates) == 2

    async def test_undrained_updates_beyond_the_bound_drop_the_oldest(self) -> None:
        exchange = new_exchange(max_pending_updates=3)

        await exchange.submit_order(order(quantity=1))
        await exchange.submit_order(order(quantity=1))

        assert ([u.event for u in exchange.drain_updates()], exchange.dropped_updates) == (["fill", "new", "fill"], 1)

    async def test_fill_carries_a_uuid_execution_id_and_the_position_after_it(self) -> None:
        exchange = new_exchange()
        await exchange.submit_order(order(quantity=3))
        exchange.drain_updates()

        await exchange.submit_order(order(side="sell", quantity=2))
        fill = exchange.drain_updates()[-1]

        assert fill.execution_id is not None
        assert uuid.UUID(fill.execution_id).version == 4
        assert uuid.UUID(fill.order.broker_order_id).version == 4
        assert D(1) == fill.position_quantity


async def test_health_reports_the_broker_connected() -> None:
    assert await new_exchange().health() == {"broker": "connected"}


def test_config_takes_the_account_type_by_name() -> None:
    config = PaperConfig(account_type="cash")  # as a settings file gives it

    assert (config.account_type, config.effective_multiplier, config.can_short) == (AccountType.CASH, D(1), False)
