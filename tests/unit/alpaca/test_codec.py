"""Alpaca JSON read into the core's models, and orders written as Alpaca reads them."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from adapters.alpaca import codec
from trading_core.enums import OrderStatus, OrderType, Side, TimeInForce
from trading_core.market import Session
from trading_core.orders import Order, TradeEvent
from trading_core.values import ClientOrderId, OrderId, Symbol

from .wire import fill_json, order_json


class TestDecode:
    def test_numbers_with_a_fraction_are_exact_decimals(self) -> None:
        """`0.1` read as a float would be 0.1000000000000000055...; it must stay 0.1."""
        data = codec.decode(b'{"bp": 0.1, "n": 3}')

        assert Decimal("0.1") == data["bp"]
        assert data["n"] == 3

    def test_non_json_is_a_wire_error(self) -> None:
        with pytest.raises(codec.WireError):
            codec.decode(b"<html>403 Forbidden</html>")


class TestOrder:
    def test_every_member_is_read_with_decimals_and_nanosecond_times(self) -> None:
        order = codec.broker_order(order_json(status="partially_filled", filled_qty="4", filled_avg_price="172.38"))

        assert order.broker_order_id == "04186cf5-a0d9-4884-b4a1-fc918f756949"
        assert order.client_order_id == "strat7-000183"
        assert (order.symbol, order.side, order.type, order.time_in_force) == (
            "AAPL",
            Side.BUY,
            OrderType.LIMIT,
            TimeInForce.GTC,
        )
        assert (order.quantity, order.filled_quantity, order.filled_average_price) == (
            Decimal(10),
            Decimal(4),
            Decimal("172.38"),
        )
        assert order.limit_price == Decimal("172.4")
        assert order.status is OrderStatus.PARTIALLY_FILLED
        assert datetime(2026, 3, 2, 15, 4, 5, 123456, tzinfo=UTC) == order.created_at

    @pytest.mark.parametrize("status", [s.value for s in OrderStatus])
    def test_all_eighteen_statuses_are_read(self, status: str) -> None:
        assert codec.broker_order(order_json(status=status)).status.value == status

    def test_an_unknown_status_reads_as_new_with_a_warning(self, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.WARNING, logger="adapters.alpaca.codec"):
            order = codec.broker_order(order_json(status="pending_moonshot"))

        assert order.status is OrderStatus.NEW
        assert "pending_moonshot" in caplog.text

    def test_unknown_members_are_ignored_and_missing_times_fall_back(self) -> None:
        order = codec.broker_order(order_json(updated_at=None, subtag="x", commission="0.01", source=None))

        assert order.updated_at == order.submitted_at

    def test_a_float_where_a_decimal_belongs_is_refused(self) -> None:
        """A float means someone parsed JSON lossily before us: refuse rather than round."""
        with pytest.raises(codec.WireError, match="quantity"):
            codec.broker_order(order_json(qty=10.5))

    def test_a_json_number_parsed_exactly_is_accepted(self) -> None:
        order = codec.broker_order(
            codec.decode(b'{"limit_price": 93.5}') | {k: v for k, v in order_json().items() if k != "limit_price"}
        )

        assert order.limit_price == Decimal("93.5")

    def test_a_notional_order_reads_its_filled_quantity_as_quantity(self) -> None:
        order = codec.broker_order(order_json(qty=None, notional="500", filled_qty="2.5", type="market"))

        assert order.quantity == Decimal("2.5")

    def test_an_order_without_an_id_is_a_wire_error(self) -> None:
        data = order_json()
        del data["id"]

        with pytest.raises(codec.WireError):
            codec.broker_order(data)


class TestTradeUpdate:
    def test_a_fill_carries_execution_price_quantities_and_the_order(self) -> None:
        order = order_json(status="partially_filled", filled_qty="3", filled_avg_price="172.38")
        update = codec.trade_update(fill_json(order, event="partial_fill", qty="3", price="172.38"))

        assert update.event is TradeEvent.PARTIAL_FILL
        assert update.is_fill
        assert (update.quantity, update.price, update.position_quantity) == (Decimal(3), Decimal("172.38"), Decimal(3))
        assert update.order.filled_quantity == Decimal(3)

    def test_an_unknown_event_is_kept_as_its_raw_name(self) -> None:
        update = codec.trade_update({"event": "trade_bust", "timestamp": "2026-03-02T15:04:06Z", "order": order_json()})

        assert update.event == "trade_bust"
        assert not update.is_fill

    def test_a_missing_timestamp_falls_back_to_the_order_update_time(self) -> None:
        update = codec.trade_update({"event": "new", "order": order_json()})

        assert update.timestamp == update.order.updated_at

    def test_a_reason_is_kept(self) -> None:
        update = codec.trade_update({"event": "canceled", "order": order_json(), "reason": "TOO_LATE_TO_CANCEL"})

        assert update.reason == "TOO_LATE_TO_CANCEL"


class TestQuantitiesFinerThanFourPlaces:
    """Alpaca reports shares to nine places; the core keeps four: read toward zero, fills adding up."""

    def test_an_order_reads_its_quantities_toward_zero(self) -> None:
        order = codec.broker_order(order_json(qty="0.123456789", filled_qty="0.100000009", status="partially_filled"))

        assert (order.quantity, order.filled_quantity) == (Decimal("0.1234"), Decimal("0.1000"))

    def test_quantities_that_fit_are_read_as_given(self) -> None:
        order = codec.broker_order(order_json(qty="10", filled_qty="0.5"))

        assert (str(order.quantity), str(order.filled_quantity)) == ("10", "0.5")

    def test_the_fills_of_an_order_add_up_to_its_rounded_filled_quantity(self) -> None:
        steps = [("0.012345678", "0.012345678"), ("0.000044444", "0.012390122"), ("0.111066667", "0.123456789")]
        fills = []
        for qty, cumulative in steps:
            order = order_json(qty="0.123456789", filled_qty=cumulative, status="partially_filled")
            fills.append(codec.trade_update(fill_json(order, event="partial_fill", qty=qty, price="172.38")))

        assert [f.quantity for f in fills] == [Decimal("0.0123"), Decimal("0"), Decimal("0.1111")]
        assert sum(f.quantity or 0 for f in fills) == fills[-1].order.filled_quantity == Decimal("0.1234")
        assert fills[-1].position_quantity == Decimal("0.1234")

    def test_a_whole_fill_of_a_fine_quantity(self) -> None:
        order = order_json(qty="0.123456789", filled_qty="0.123456789", status="filled")
        update = codec.trade_update(fill_json(order, event="fill", qty="0.123456789", price="172.38"))

        assert (update.quantity, update.order.quantity, update.order.filled_quantity) == (
            Decimal("0.1234"),
            Decimal("0.1234"),
            Decimal("0.1234"),
        )

    def test_a_position_long_or_short_is_read_toward_zero(self) -> None:
        long = codec.position({"symbol": "AAPL", "qty": "0.123456789", "avg_entry_price": "170", "cost_basis": "21"})
        short = codec.position({"symbol": "AAPL", "qty": "-2.000099999", "avg_entry_price": "170"})

        assert (long.quantity, long.cost_basis) == (Decimal("0.1234"), Decimal(21))
        assert short.quantity == Decimal("-2.0000")


class TestAccountAssetPositionClock:
    def test_an_account_without_the_fields_alpaca_dropped_is_read(self) -> None:
        account = codec.account(
            {"id": "f61630a2", "cash": "97954", "equity": "100024", "buying_power": "96230.5", "multiplier": "2"}
        )

        assert (account.cash, account.buying_power, account.multiplier) == (
            Decimal(97954),
            Decimal("96230.5"),
            Decimal(2),
        )
        assert account.last_equity == account.equity

    def test_an_account_with_them_is_read_too(self) -> None:
        account = codec.account(
            {
                "id": "f61630a2",
                "cash": "1",
                "equity": "2",
                "last_equity": "1.5",
                "buying_power": "3",
                "daytrade_count": 2,
                "pattern_day_trader": False,
                "shorting_enabled": False,
                "trading_blocked": True,
            }
        )

        assert (account.last_equity, account.shorting_enabled, account.trading_blocked) == (Decimal("1.5"), False, True)

    def test_an_asset_is_read_from_its_class_member_layout(self) -> None:
        asset = codec.asset(
            {
                "id": "4be0a7f0-27fb-47b8-9596-eb0cc062bdc3",
                "class": "us_equity",
                "exchange": "NYSE",
                "symbol": "GME",
                "name": "GameStop",
                "status": "active",
                "tradable": True,
                "marginable": True,
                "shortable": False,
                "easy_to_borrow": False,
                "fractionable": True,
                "maintenance_margin_requirement": 30,
                "attributes": [],
            }
        )

        assert (asset.symbol, asset.shortable, asset.exchange) == ("GME", False, "NYSE")

    def test_a_short_position_has_a_negative_quantity(self) -> None:
        position = codec.position({"symbol": "AAPL", "qty": "-12", "avg_entry_price": "170.5", "cost_basis": "-2046"})

        assert (position.quantity, position.average_entry_price, position.cost_basis) == (
            Decimal(-12),
            Decimal("170.5"),
            Decimal(-2046),
        )

    @pytest.mark.parametrize(
        ("timestamp", "is_open", "session"),
        [
            ("2026-03-02T10:15:00-05:00", True, Session.REGULAR),
            ("2026-03-02T08:15:00-05:00", False, Session.PRE_MARKET),
            ("2026-03-02T17:15:00-05:00", False, Session.AFTER_HOURS),
            ("2026-03-02T22:15:00-05:00", False, Session.CLOSED),
            ("2026-03-07T17:15:00-05:00", False, Session.CLOSED),
        ],
    )
    def test_the_clock_names_the_session(self, timestamp: str, is_open: bool, session: Session) -> None:
        clock = codec.clock(
            {
                "timestamp": timestamp,
                "is_open": is_open,
                "next_open": "2026-03-02T09:30:00-05:00" if "T08" in timestamp else "2026-03-03T09:30:00-05:00",
                "next_close": "2026-03-02T16:00:00-05:00",
            }
        )

        assert clock.session is session

    def test_a_quote_is_priced_at_the_middle_of_the_spread(self) -> None:
        data = codec.decode(
            b'{"symbol": "AAPL", "quote": {"t": "2026-03-02T15:04:05.401Z", "bp": 172.37, "bs": 3, "ap": 172.39}}'
        )
        quote = codec.quote(Symbol("AAPL"), data)

        assert quote is not None
        assert (quote.price, quote.bid, quote.ask) == (Decimal("172.38"), Decimal("172.37"), Decimal("172.39"))

    def test_a_quote_without_prices_is_none(self) -> None:
        assert codec.quote(Symbol("AAPL"), {"quote": {"t": "2026-03-02T15:04:05Z", "bp": 0, "ap": 0}}) is None


class TestRequestBodies:
    def test_an_order_body_has_decimal_strings_and_our_client_order_id(self) -> None:
        now = datetime(2026, 3, 2, tzinfo=UTC)
        order = Order(
            id=OrderId.new(),
            client_order_id=ClientOrderId("c-1"),
            symbol=Symbol("AAPL"),
            side=Side.BUY,
            type=OrderType.LIMIT,
            time_in_force=TimeInForce.DAY,
            quantity=Decimal("100.0000"),
            limit_price=Decimal("1E+2"),
            status=OrderStatus.PENDING_NEW,
            created_at=now,
            updated_at=now,
        )

        body = codec.order_body(order)

        assert body == {
            "symbol": "AAPL",
            "qty": "100.0000",
            "side": "buy",
            "type": "limit",
            "time_in_force": "day",
            "client_order_id": "c-1",
            "limit_price": "100",
        }

    def test_a_replace_body_has_only_what_changes(self) -> None:
        body = codec.replace_body(
            client_order_id=ClientOrderId("c-2"),
            quantity=None,
            limit_price=Decimal("99.5"),
            stop_price=None,
            time_in_force=TimeInForce.GTC,
        )

        assert body == {"client_order_id": "c-2", "limit_price": "99.5", "time_in_force": "gtc"}


def test_a_fill_activity_reads_its_execution_id_from_alpacas_id() -> None:
    sample = {
        "activity_type": "FILL",
        "cum_qty": "1",
        "id": "20190524113406977::8efc7b9a-8b2b-4000-9955-d36e7db0df74",
        "leaves_qty": "0",
        "price": "1.63",
        "qty": "1",
        "side": "buy",
        "symbol": "LPCN",
        "transaction_time": "2019-05-24T15:34:06.977Z",
        "order_id": "904837e3-3b76-47ec-b432-046db621571b",
        "type": "fill",
    }

    activity = codec.fill_activity(sample)

    assert activity.execution_id == "8efc7b9a-8b2b-4000-9955-d36e7db0df74"
    assert (activity.order_id, activity.qty, activity.price, activity.cum_qty) == (
        "904837e3-3b76-47ec-b432-046db621571b",
        Decimal(1),
        Decimal("1.63"),
        Decimal(1),
    )
    with pytest.raises(codec.WireError, match="not a FILL activity"):
        codec.fill_activity({**sample, "activity_type": "DIV"})
