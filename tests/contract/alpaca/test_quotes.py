"""Quotes from the market-data stream: the simulator's price changes reach `latest_quote` without REST.

The simulator counts every `/v2` request (`requests`) and those to the data API (`data_requests`).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from adapters.alpaca.broker import AlpacaBroker
from apps.alpaca_sim import SimServer
from tests.contract.alpaca.support import eventually, opened_broker
from tests.contract.alpaca_sim_support import api, limit, market
from trading_core.values import Symbol

AAPL = Symbol("AAPL")
MSFT = Symbol("MSFT")


async def subscribed(sim: SimServer, *symbols: str) -> None:
    await asyncio.to_thread(sim.wait_for_data_stream, quotes=list(symbols), timeout=5)


async def price_of(broker: AlpacaBroker, symbol: Symbol) -> Decimal | None:
    quote = await broker.latest_quote(symbol)
    return quote.price if quote is not None else None


async def test_a_price_change_reaches_latest_quote_with_no_request(broker: AlpacaBroker, alpaca_sim: SimServer) -> None:
    first = await broker.latest_quote(AAPL)
    await subscribed(alpaca_sim, "AAPL")
    before = alpaca_sim.state()

    alpaca_sim.set_price("AAPL", "201.50")
    await eventually(lambda: broker.quotes.current(AAPL, 0) is not None, what="the stream's quote")
    answers = [await price_of(broker, AAPL) for _ in range(50)]
    after = alpaca_sim.state()

    assert first is not None
    assert first.price == Decimal(190)
    assert answers == [Decimal("201.50")] * 50
    assert (after["requests"], after["data_requests"]) == (before["requests"], before["data_requests"])
    trade = broker.quotes.trade(AAPL)
    assert trade is not None
    assert (trade.price, trade.size) == (Decimal("201.50"), Decimal(100))


async def test_a_symbol_wanted_later_joins_the_subscription_on_the_same_connection(
    broker: AlpacaBroker, alpaca_sim: SimServer
) -> None:
    await broker.latest_quote(AAPL)
    await subscribed(alpaca_sim, "AAPL")
    await broker.latest_quote(MSFT)
    await subscribed(alpaca_sim, "AAPL", "MSFT")
    alpaca_sim.set_price("MSFT", "402.00")

    await eventually(lambda: broker.quotes.current(MSFT, 0) is not None, what="MSFT from the stream")

    assert await price_of(broker, MSFT) == Decimal("402.00")
    assert broker.quotes.connections == 1
    assert alpaca_sim.state()["data_connections"] == 1


async def test_without_the_stream_a_cached_quote_is_answered_until_it_is_too_old_then_rest(
    alpaca_sim: SimServer,
) -> None:
    async with opened_broker(alpaca_sim, quote_max_age=0.3) as broker:
        await broker.latest_quote(AAPL)
        await subscribed(alpaca_sim, "AAPL")
        alpaca_sim.set_price("AAPL", "195.00")
        await eventually(lambda: broker.quotes.current(AAPL, 0) is not None, what="the stream's quote")

        alpaca_sim.drop_data_stream(refuse=30)  # the stream stays down
        alpaca_sim.set_price("AAPL", "196.00")  # a change the stream cannot deliver
        before = alpaca_sim.state()["data_requests"]
        within_age = await price_of(broker, AAPL)
        await asyncio.sleep(0.4)
        too_old = await price_of(broker, AAPL)
        again = await price_of(broker, AAPL)
        after = alpaca_sim.state()["data_requests"]

    assert within_age == Decimal("195.00")
    assert too_old == again == Decimal("196.00")
    assert after - before == 1


async def test_a_dropped_stream_reconnects_and_subscribes_again(broker: AlpacaBroker, alpaca_sim: SimServer) -> None:
    await broker.latest_quote(AAPL)
    await broker.latest_quote(MSFT)
    await subscribed(alpaca_sim, "AAPL", "MSFT")

    alpaca_sim.drop_data_stream()
    await eventually(lambda: broker.quotes.connections == 2, what="a second connection")
    await subscribed(alpaca_sim, "AAPL", "MSFT")
    before = alpaca_sim.state()["requests"]
    alpaca_sim.set_price("MSFT", "399.00")
    await eventually(lambda: broker.quotes.current(MSFT, 0) is not None, what="MSFT after the reconnection")

    assert await price_of(broker, MSFT) == Decimal("399.00")
    assert alpaca_sim.state()["requests"] == before


async def test_symbols_held_or_with_open_orders_are_subscribed_from_the_listings(
    broker: AlpacaBroker, alpaca_sim: SimServer
) -> None:
    async with api(alpaca_sim) as http:
        await http.post("/v2/orders", json=market("MSFT", qty="2"))
        await http.post("/v2/orders", json=limit("NVDA", qty="1", price="1"))

    await broker.list_positions()
    await broker.list_orders()

    await subscribed(alpaca_sim, "MSFT", "NVDA")
    assert broker.quotes.wanted == [MSFT, Symbol("NVDA")]


async def test_a_quote_read_over_rest_spends_the_data_budget_not_the_trading_one(
    broker: AlpacaBroker, alpaca_sim: SimServer
) -> None:
    trading, data = broker.rest.budget.granted, broker.rest.data_budget.granted

    await broker.latest_quote(AAPL)

    assert (broker.rest.budget.granted - trading, broker.rest.data_budget.granted - data) == (0, 1)
    assert broker.rest.budget is not broker.rest.data_budget


async def test_the_streams_quotes_are_pushed_as_marks_and_said_current_only_while_live(
    broker: AlpacaBroker, alpaca_sim: SimServer
) -> None:
    """`watch_marks` hears each quote; `pushing` says the last one is current while the stream keeps
    the symbol live, and no longer once it is lost (the engine then asks `latest_quote` again)."""
    pushed: list[tuple[Symbol, Decimal]] = []
    broker.watch_marks(lambda symbol, price: pushed.append((symbol, price)))
    await broker.latest_quote(AAPL)
    await subscribed(alpaca_sim, "AAPL")

    alpaca_sim.set_price("AAPL", "201.50")
    await eventually(lambda: (AAPL, Decimal("201.50")) in pushed, what="the quote pushed")
    assert broker.pushing(AAPL)
    assert not broker.pushing(MSFT)  # never wanted: not on the stream

    alpaca_sim.drop_data_stream(refuse=30)
    await eventually(lambda: not broker.pushing(AAPL), what="the symbol no longer live")
