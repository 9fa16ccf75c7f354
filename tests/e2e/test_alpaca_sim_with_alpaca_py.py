"""Alpaca's own SDK (alpaca-py) against the simulator, unchanged: every answer parses into its models."""

from __future__ import annotations

import queue
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import pytest

from apps.alpaca_sim import SimServer, SimSettings
from trading_core.clock import TestClock
from trading_core.market import EASTERN

with warnings.catch_warnings():
    # alpaca-py imports websockets.legacy, deprecated since websockets 14
    warnings.simplefilter("ignore", DeprecationWarning)
    from alpaca.common.exceptions import APIError
    from alpaca.data.enums import Adjustment, DataFeed
    from alpaca.data.historical import StockHistoricalDataClient
    from alpaca.data.live import StockDataStream
    from alpaca.data.models import Bar, BarSet, Quote, Snapshot, Trade
    from alpaca.data.requests import (
        StockBarsRequest,
        StockLatestQuoteRequest,
        StockLatestTradeRequest,
        StockSnapshotRequest,
    )
    from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import OrderClass, OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
    from alpaca.trading.models import Calendar, Clock, Order, Position, TradeAccount, TradeUpdate
    from alpaca.trading.requests import (
        ClosePositionRequest,
        GetCalendarRequest,
        GetOrderByIdRequest,
        GetOrdersRequest,
        LimitOrderRequest,
        MarketOrderRequest,
        OrderRequest,
        ReplaceOrderRequest,
        StopLimitOrderRequest,
        StopLossRequest,
        StopOrderRequest,
        TakeProfitRequest,
        TrailingStopOrderRequest,
    )
    from alpaca.trading.stream import TradingStream


WAIT = 10.0


@pytest.fixture
def client(alpaca_sim: SimServer) -> TradingClient:
    return TradingClient("test", "test", paper=True, url_override=alpaca_sim.url)


def buy(symbol: str = "AAPL", qty: float = 10) -> MarketOrderRequest:
    return MarketOrderRequest(symbol=symbol, qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)


class TestAccountClockCalendarAssets:
    def test_account_parses_with_its_balances_as_strings(self, client: TradingClient) -> None:
        account = client.get_account()

        assert isinstance(account, TradeAccount)
        assert (account.cash, account.buying_power, account.status) == ("100000", "200000", "ACTIVE")
        assert account.account_number.startswith("PA")

    def test_clock_parses(self, client: TradingClient) -> None:
        clock = client.get_clock()

        assert isinstance(clock, Clock)
        assert clock.is_open
        assert clock.next_close > clock.timestamp

    def test_calendar_parses_open_and_close_as_times_of_each_weekday(self, client: TradingClient) -> None:
        days = client.get_calendar(GetCalendarRequest(start=date(2026, 3, 2), end=date(2026, 3, 8)))

        assert all(isinstance(d, Calendar) for d in days)
        assert [date(2026, 3, d) for d in range(2, 7)] == [d.date for d in days]
        assert (days[0].open.hour, days[0].open.minute, days[0].close.hour) == (9, 30, 16)

    def test_on_the_nyse_calendar_the_clock_and_a_holiday_week_parse_unchanged(self) -> None:
        """The simulator's default: Thanksgiving 2025 is absent, the day after closes at 13:00."""
        thanksgiving_noon = datetime(2025, 11, 27, 12, tzinfo=EASTERN)
        with SimServer(SimSettings(rate_limit=0), clock=TestClock(thanksgiving_noon.astimezone(UTC))) as sim:
            nyse = TradingClient("test", "test", paper=True, url_override=sim.url)
            clock = nyse.get_clock()
            days = nyse.get_calendar(GetCalendarRequest(start=date(2025, 11, 24), end=date(2025, 11, 30)))

        assert isinstance(clock, Clock)
        assert (clock.is_open, clock.timestamp) == (False, thanksgiving_noon)
        assert (clock.next_open, clock.next_close) == (
            datetime(2025, 11, 28, 9, 30, tzinfo=EASTERN),
            datetime(2025, 11, 28, 13, tzinfo=EASTERN),
        )
        assert [d.date.day for d in days] == [24, 25, 26, 28]
        assert [(d.close.hour, d.close.minute) for d in days] == [(16, 0), (16, 0), (16, 0), (13, 0)]

    def test_assets_parse_listed_and_one_by_symbol_or_id(self, client: TradingClient) -> None:
        assets = client.get_all_assets()
        apple = client.get_asset("AAPL")

        assert "AAPL" in {a.symbol for a in assets}
        assert apple == client.get_asset(apple.id)
        assert (apple.tradable, apple.fractionable) == (True, True)


ORDER_REQUESTS: dict[str, OrderRequest] = {
    "market day": buy(),
    "market gtc": MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC),
    "market ioc": MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.IOC),
    "market fok": MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.FOK),
    "market cls": MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.CLS),
    "fractional": MarketOrderRequest(symbol="AAPL", qty=0.5, side=OrderSide.BUY, time_in_force=TimeInForce.DAY),
    "limit": LimitOrderRequest(
        symbol="MSFT", qty=2, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=400.25
    ),
    "limit extended hours": LimitOrderRequest(
        symbol="MSFT",
        qty=2,
        side=OrderSide.BUY,
        time_in_force=TimeInForce.DAY,
        limit_price=400.25,
        extended_hours=True,
    ),
    "stop": StopOrderRequest(symbol="NVDA", qty=3, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, stop_price=130),
    "stop limit": StopLimitOrderRequest(
        symbol="NVDA", qty=3, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, stop_price=130, limit_price=131.5
    ),
    "client order id": MarketOrderRequest(
        symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id="strat7-000183"
    ),
}


class TestOrders:
    @pytest.mark.parametrize("request_", ORDER_REQUESTS.values(), ids=ORDER_REQUESTS.keys())
    def test_each_order_type_is_accepted_and_parses(self, client: TradingClient, request_: OrderRequest) -> None:
        order = client.submit_order(request_)

        assert isinstance(order, Order)
        assert order.status in (OrderStatus.NEW, OrderStatus.ACCEPTED)
        assert (request_.symbol, request_.type, request_.time_in_force) == (
            order.symbol,
            order.type,
            order.time_in_force,
        )
        assert order.id == client.get_order_by_id(order.id).id

    def test_opg_is_taken_while_the_market_is_closed(self, client: TradingClient, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_market(is_open=False)

        order = client.submit_order(
            MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.OPG)
        )

        assert order.status == OrderStatus.ACCEPTED

    def test_market_order_is_filled_when_read_back(self, client: TradingClient) -> None:
        order = client.submit_order(buy(qty=10))

        read = client.get_order_by_id(order.id)

        assert (read.status, read.filled_qty, read.filled_avg_price) == (OrderStatus.FILLED, "10", "190")

    def test_get_by_client_order_id(self, client: TradingClient) -> None:
        order = client.submit_order(
            LimitOrderRequest(
                symbol="AAPL",
                qty=1,
                side=OrderSide.BUY,
                time_in_force=TimeInForce.GTC,
                limit_price=100,
                client_order_id="mine-1",
            )
        )

        assert order.id == client.get_order_by_client_id("mine-1").id

    def test_list_filters_by_status_symbols_side_and_direction(self, client: TradingClient) -> None:
        filled = client.submit_order(buy("AAPL", 1))
        resting = client.submit_order(
            LimitOrderRequest(symbol="MSFT", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=10)
        )

        open_orders = client.get_orders()
        every = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, direction="asc", nested=True))
        apple = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, symbols=["AAPL"]))
        sells = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, side=OrderSide.SELL))
        closed = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED, limit=1))

        assert [resting.id] == [o.id for o in open_orders]
        assert [filled.id, resting.id] == [o.id for o in every]
        assert [filled.id] == [o.id for o in apple]
        assert sells == []
        assert [filled.id] == [o.id for o in closed]

    def test_list_pages_with_after_and_until(self, client: TradingClient) -> None:
        first = client.submit_order(buy(qty=1))
        second = client.submit_order(buy(qty=1))

        after = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, after=first.submitted_at))
        until = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, until=second.submitted_at))

        assert [second.id] == [o.id for o in after]
        assert [first.id] == [o.id for o in until]

    def test_replace_answers_the_new_order_and_the_old_one_is_replaced(self, client: TradingClient) -> None:
        old = client.submit_order(
            LimitOrderRequest(symbol="AAPL", qty=5, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=150)
        )

        new = client.replace_order_by_id(old.id, ReplaceOrderRequest(qty=7, limit_price=151.5))
        old_now = client.get_order_by_id(old.id)

        assert (old.id, "7", "151.5") == (new.replaces, new.qty, new.limit_price)
        assert (OrderStatus.REPLACED, new.id) == (old_now.status, old_now.replaced_by)
        assert old_now.replaced_at is not None

    def test_cancel_one_then_all(self, client: TradingClient) -> None:
        orders = [
            client.submit_order(
                LimitOrderRequest(
                    symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=100 + i
                )
            )
            for i in range(3)
        ]

        client.cancel_order_by_id(orders[0].id)
        answers = client.cancel_orders()

        assert client.get_order_by_id(orders[0].id).status == OrderStatus.CANCELED
        assert {o.id for o in orders[1:]} == {a.id for a in answers}
        assert {200} == {a.status for a in answers}
        assert client.get_orders() == []

    def test_refusals_are_api_errors_with_alpacas_code(self, client: TradingClient) -> None:
        with pytest.raises(APIError) as refused:
            client.submit_order(buy(qty=10_000))
        with pytest.raises(APIError) as unknown:
            client.get_order_by_id(UUID("00000000-0000-4000-8000-000000000000"))

        assert (refused.value.status_code, refused.value.code) == (403, 40310000)
        assert (unknown.value.status_code, unknown.value.code) == (404, 40410000)


class TestProtectiveOrders:
    """Order classes and trailing stops as alpaca-py sends and reads them (AAPL stands at 190)."""

    def nested(self, client: TradingClient, order_id: UUID) -> Order:
        order = client.get_order_by_id(order_id, GetOrderByIdRequest(nested=True))
        assert isinstance(order, Order)
        return order

    def test_a_brackets_stop_fills_as_the_price_falls_and_its_take_profit_is_cancelled(
        self, client: TradingClient, alpaca_sim: SimServer
    ) -> None:
        order = client.submit_order(
            MarketOrderRequest(
                symbol="AAPL",
                qty=10,
                side=OrderSide.BUY,
                time_in_force=TimeInForce.GTC,
                order_class=OrderClass.BRACKET,
                take_profit=TakeProfitRequest(limit_price=200),
                stop_loss=StopLossRequest(stop_price=180),
            )
        )
        assert order.legs is not None
        legs = [(leg.order_class, leg.type.value, leg.side, leg.limit_price, leg.stop_price) for leg in order.legs]

        alpaca_sim.set_price("AAPL", "179")
        after = self.nested(client, order.id)
        listed = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, nested=True))

        assert order.order_class == OrderClass.BRACKET
        assert legs == [
            (OrderClass.BRACKET, "limit", OrderSide.SELL, "200", None),
            (OrderClass.BRACKET, "stop", OrderSide.SELL, None, "180"),
        ]
        assert after.legs is not None
        assert [leg.status for leg in after.legs] == [OrderStatus.CANCELED, OrderStatus.FILLED]
        assert [o.id for o in listed] == [order.id]  # the legs are rolled into it
        assert client.get_all_positions() == []

    def test_an_otos_stop_loss_is_held_until_its_entry_fills(
        self, client: TradingClient, alpaca_sim: SimServer
    ) -> None:
        order = client.submit_order(
            LimitOrderRequest(
                symbol="AAPL",
                qty=5,
                side=OrderSide.BUY,
                time_in_force=TimeInForce.DAY,
                limit_price=185,
                order_class=OrderClass.OTO,
                stop_loss=StopLossRequest(stop_price=180, limit_price=179.5),
            )
        )
        assert order.legs is not None
        held = [(leg.status, leg.type.value, leg.limit_price) for leg in order.legs]

        alpaca_sim.set_price("AAPL", "185")
        after = self.nested(client, order.id)

        assert held == [(OrderStatus.HELD, "stop_limit", "179.5")]
        assert after.status == OrderStatus.FILLED
        assert after.legs is not None
        assert [leg.status for leg in after.legs] == [OrderStatus.NEW]

    def test_an_oco_takes_profit_and_cancels_its_stop(self, client: TradingClient, alpaca_sim: SimServer) -> None:
        client.submit_order(buy(qty=10))
        order = client.submit_order(
            LimitOrderRequest(
                symbol="AAPL",
                qty=10,
                side=OrderSide.SELL,
                time_in_force=TimeInForce.GTC,
                order_class=OrderClass.OCO,
                take_profit=TakeProfitRequest(limit_price=200),
                stop_loss=StopLossRequest(stop_price=180),
            )
        )

        alpaca_sim.set_price("AAPL", "200.5")
        after = self.nested(client, order.id)

        assert (order.order_class, order.limit_price) == (OrderClass.OCO, "200")
        assert after.status == OrderStatus.FILLED
        assert after.legs is not None
        assert [leg.status for leg in after.legs] == [OrderStatus.CANCELED]
        assert client.get_all_positions() == []

    @pytest.mark.parametrize(("trail", "stop_at_200"), [({"trail_price": 5}, "195"), ({"trail_percent": 2}, "196")])
    def test_a_trailing_stop_follows_its_high_water_mark(
        self, client: TradingClient, alpaca_sim: SimServer, trail: dict[str, float], stop_at_200: str
    ) -> None:
        client.submit_order(buy(qty=10))
        order = client.submit_order(
            TrailingStopOrderRequest(symbol="AAPL", qty=10, side=OrderSide.SELL, time_in_force=TimeInForce.GTC, **trail)
        )

        alpaca_sim.set_price("AAPL", "200")
        risen = client.get_order_by_id(order.id)
        alpaca_sim.set_price("AAPL", stop_at_200)
        filled = client.get_order_by_id(order.id)

        assert (order.type.value, order.hwm) == ("trailing_stop", "190")
        assert (risen.hwm, risen.stop_price, risen.status) == ("200", stop_at_200, OrderStatus.NEW)
        assert (filled.status, filled.filled_avg_price) == (OrderStatus.FILLED, stop_at_200)

    @pytest.mark.parametrize(
        ("trail", "new_trail", "stop_at_200"), [({"trail_price": 5}, 2, "198"), ({"trail_percent": 2}, 1, "198")]
    )
    def test_a_trailing_stops_trail_is_replaced_from_the_mark_it_reached(
        self, client: TradingClient, alpaca_sim: SimServer, trail: dict[str, float], new_trail: float, stop_at_200: str
    ) -> None:
        client.submit_order(buy(qty=10))
        order = client.submit_order(
            TrailingStopOrderRequest(symbol="AAPL", qty=10, side=OrderSide.SELL, time_in_force=TimeInForce.GTC, **trail)
        )
        alpaca_sim.set_price("AAPL", "200")

        new = client.replace_order_by_id(order.id, ReplaceOrderRequest(trail=new_trail))
        alpaca_sim.set_price("AAPL", stop_at_200)

        assert (new.replaces, new.hwm, new.stop_price) == (order.id, "200", stop_at_200)
        assert client.get_order_by_id(order.id).status == OrderStatus.REPLACED
        assert client.get_order_by_id(new.id).status == OrderStatus.FILLED


class TestPositions:
    def test_positions_parse_with_decimals_as_strings(self, client: TradingClient) -> None:
        client.submit_order(buy("AAPL", 10))

        positions = client.get_all_positions()
        one = client.get_open_position("AAPL")

        assert [one] == positions
        assert isinstance(one, Position)
        assert (one.qty, one.avg_entry_price, one.market_value, one.side) == ("10", "190", "1900", "long")

    def test_close_with_qty_or_percentage_places_a_sell(self, client: TradingClient) -> None:
        client.submit_order(buy("AAPL", 10))

        by_qty = client.close_position("AAPL", ClosePositionRequest(qty="4"))
        by_percentage = client.close_position("AAPL", ClosePositionRequest(percentage="50"))

        assert (by_qty.side, by_qty.qty) == (OrderSide.SELL, "4")
        assert (by_percentage.side, by_percentage.qty) == (OrderSide.SELL, "3")
        assert client.get_open_position("AAPL").qty == "3"

    def test_close_all_cancels_orders_and_flattens(self, client: TradingClient) -> None:
        client.submit_order(buy("AAPL", 2))
        client.submit_order(
            MarketOrderRequest(symbol="TSLA", qty=3, side=OrderSide.SELL, time_in_force=TimeInForce.DAY)
        )
        client.submit_order(
            LimitOrderRequest(symbol="MSFT", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=1)
        )

        answers = client.close_all_positions(cancel_orders=True)

        assert {("AAPL", 200), ("TSLA", 200)} == {(a.symbol, a.status) for a in answers}
        assert {OrderSide.SELL, OrderSide.BUY} == {a.body.side for a in answers if isinstance(a.body, Order)}
        assert (client.get_all_positions(), client.get_orders()) == ([], [])


class TestMarketData:
    def test_latest_trade_and_quote_parse(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_price("AAPL", "191.25")
        data = StockHistoricalDataClient("test", "test", url_override=alpaca_sim.url)

        trade = data.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols=["AAPL", "MSFT"]))
        quote = data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="AAPL"))

        assert (trade["AAPL"].price, trade["MSFT"].price) == (191.25, 415.0)
        assert (quote["AAPL"].bid_price, quote["AAPL"].ask_price) == (191.25, 191.25)

    def test_bars_of_several_symbols_parse_into_a_barset(self, alpaca_sim: SimServer) -> None:
        for price in ("191.25", "188.50", "189.00"):
            alpaca_sim.set_price("AAPL", price)
        data = StockHistoricalDataClient("test", "test", url_override=alpaca_sim.url)
        today = datetime.now(EASTERN).replace(hour=0, minute=0, second=0, microsecond=0)

        days = data.get_stock_bars(
            StockBarsRequest(
                symbol_or_symbols=["AAPL", "MSFT"],
                timeframe=TimeFrame.Day,
                start=today,
                feed=DataFeed.IEX,
                adjustment=Adjustment.RAW,
            )
        )
        minutes = data.get_stock_bars(
            StockBarsRequest(symbol_or_symbols="AAPL", timeframe=TimeFrame(5, TimeFrameUnit.Minute), start=today)
        )

        assert isinstance(days, BarSet)
        (aapl,) = days["AAPL"]
        assert isinstance(aapl, Bar)
        assert (aapl.open, aapl.high, aapl.low, aapl.close, aapl.volume) == (190.0, 191.25, 188.5, 189.0, 400)
        assert aapl.timestamp == today.astimezone(UTC)
        assert days["MSFT"][0].close == 415.0
        assert sum(b.volume for b in minutes["AAPL"]) == 400

    def test_snapshots_parse_with_their_latest_trade_quote_and_bars(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_price("AAPL", "192.40")
        data = StockHistoricalDataClient("test", "test", url_override=alpaca_sim.url)

        snapshots = data.get_stock_snapshot(StockSnapshotRequest(symbol_or_symbols=["AAPL", "MSFT"]))

        assert set(snapshots) == {"AAPL", "MSFT"}
        snap = snapshots["AAPL"]
        assert isinstance(snap, Snapshot)
        assert (snap.latest_trade.price, snap.latest_quote.bid_price) == (192.4, 192.4)
        assert (snap.minute_bar.close, snap.daily_bar.open, snap.daily_bar.close) == (192.4, 190.0, 192.4)
        assert snap.previous_daily_bar is None  # the simulator's history starts with it


@contextmanager
def running_stream(sim: SimServer) -> Iterator[queue.Queue[Any]]:
    """alpaca-py's TradingStream on its own thread and loop; yields the updates it hands its handler."""
    received: queue.Queue[Any] = queue.Queue()
    trading_stream = TradingStream("test", "test", paper=True, url_override=sim.stream_url)

    async def on_update(update: TradeUpdate) -> None:
        received.put(update)

    trading_stream.subscribe_trade_updates(on_update)
    thread = threading.Thread(target=trading_stream.run, daemon=True)
    thread.start()
    try:
        yield received
    finally:
        trading_stream.stop()
        sim.drop_stream()  # wakes its receive loop at once (it polls its stop queue every 5 s)
        thread.join(WAIT)
    assert not thread.is_alive()


@pytest.fixture
def stream(alpaca_sim: SimServer) -> Iterator[queue.Queue[Any]]:
    with running_stream(alpaca_sim) as received:
        alpaca_sim.wait_for_stream(listening=1, timeout=WAIT)
        yield received


class TestTradingStream:
    def test_receives_new_then_fill_of_a_market_order(self, client: TradingClient, stream: queue.Queue[Any]) -> None:
        order = client.submit_order(buy("AAPL", 10))

        updates = [stream.get(timeout=WAIT) for _ in range(2)]

        assert all(isinstance(u, TradeUpdate) for u in updates)
        assert [u.event for u in updates] == ["new", "fill"]
        assert {order.id} == {u.order.id for u in updates}
        fill = updates[1]
        assert (fill.qty, fill.price, fill.position_qty) == (10.0, 190.0, 10.0)
        assert isinstance(fill.execution_id, UUID)
        assert fill.order.status == OrderStatus.FILLED

    def test_two_streams_on_one_key_both_receive_every_update(
        self, client: TradingClient, alpaca_sim: SimServer
    ) -> None:
        with running_stream(alpaca_sim) as first, running_stream(alpaca_sim) as second:
            alpaca_sim.wait_for_stream(listening=2, timeout=WAIT)
            order = client.submit_order(buy("MSFT", 3))
            got = [[first.get(timeout=WAIT) for _ in range(2)], [second.get(timeout=WAIT) for _ in range(2)]]
            connections = alpaca_sim.state()["stream_connections"]

        assert [[u.event for u in updates] for updates in got] == [["new", "fill"], ["new", "fill"]]
        assert {u.order.id for updates in got for u in updates} == {order.id}
        assert connections == 2


@contextmanager
def running_data_stream(sim: SimServer, *symbols: str) -> Iterator[queue.Queue[Any]]:
    """alpaca-py's StockDataStream on its own thread, subscribed to the quotes and trades of `symbols`."""
    received: queue.Queue[Any] = queue.Queue()
    data_stream = StockDataStream("test", "test", url_override=sim.data_stream_url("iex"))

    async def on_data(item: Any) -> None:
        received.put(item)

    data_stream.subscribe_quotes(on_data, *symbols)
    data_stream.subscribe_trades(on_data, *symbols)
    thread = threading.Thread(target=data_stream.run, daemon=True)
    thread.start()
    try:
        yield received
    finally:
        data_stream.stop()
        sim.drop_data_stream()  # wakes its receive loop at once (it polls its stop queue every 5 s)
        thread.join(WAIT)
    assert not thread.is_alive()


class TestStockDataStream:
    def test_reads_the_trade_and_quote_of_a_price_change(self, alpaca_sim: SimServer) -> None:
        with running_data_stream(alpaca_sim, "AAPL") as received:
            alpaca_sim.wait_for_data_stream(quotes=["AAPL"], timeout=WAIT)
            alpaca_sim.set_price("AAPL", "192.34")
            trade, quote = received.get(timeout=WAIT), received.get(timeout=WAIT)

        assert isinstance(trade, Trade)
        assert isinstance(quote, Quote)
        assert (trade.symbol, trade.price, trade.size) == ("AAPL", 192.34, 100)
        assert (quote.symbol, quote.bid_price, quote.ask_price) == ("AAPL", 192.34, 192.34)
        assert quote.timestamp.tzinfo is not None

    def test_follows_the_walk_for_its_symbols_only(self, alpaca_sim: SimServer) -> None:
        with running_data_stream(alpaca_sim, "MSFT") as received:
            alpaca_sim.wait_for_data_stream(quotes=["MSFT"], timeout=WAIT)
            alpaca_sim.set_price("AAPL", "150.00")
            alpaca_sim.set_price("MSFT", "401.01")
            got = [received.get(timeout=WAIT) for _ in range(2)]

        assert {(type(item).__name__, item.symbol) for item in got} == {("Trade", "MSFT"), ("Quote", "MSFT")}
