"""Order classes: brackets, OTOs and OCOs as requests and orders, each refusal naming its field."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from trading_core.enums import OrderClass, OrderType, Side, TimeInForce
from trading_core.errors import InvalidOrder
from trading_core.order_classes import (
    LegRole,
    StopLoss,
    TakeProfit,
    check_exits_against,
    leg_client_order_id,
    leg_requests,
)
from trading_core.orders import Order
from trading_core.requests import OrderRequest, split_at_flat
from trading_core.values import ClientOrderId, new_order_id

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
BRACKET: dict[str, Any] = {
    "symbol": "AAPL",
    "side": "buy",
    "quantity": "10",
    "type": "limit",
    "limit_price": "100",
    "order_class": "bracket",
    "take_profit": {"limit_price": "110"},
    "stop_loss": {"stop_price": "95"},
}


def create(**kw: Any) -> OrderRequest:
    return OrderRequest.create(**{**BRACKET, **kw})


def field_refused(**kw: Any) -> str:
    with pytest.raises(InvalidOrder) as e:
        create(**kw)
    assert e.value.code == "INVALID_ORDER"
    return e.value.field


class TestValidClasses:
    def test_a_bracket_keeps_its_class_and_exits(self) -> None:
        r = create()
        assert r.order_class is OrderClass.BRACKET
        assert r.take_profit == TakeProfit(Decimal("110"))
        assert r.stop_loss == StopLoss(Decimal("95"))

    def test_a_market_bracket_with_a_stop_limit_loss(self) -> None:
        r = create(type="market", limit_price=None, stop_loss={"stop_price": "95", "limit_price": "94.50"})
        assert r.stop_loss == StopLoss(Decimal("95"), Decimal("94.5"))

    def test_exits_may_be_given_as_values(self) -> None:
        r = create(take_profit=TakeProfit(Decimal("120")), stop_loss=StopLoss(Decimal("90")))
        assert (r.take_profit, r.stop_loss) == (TakeProfit(Decimal("120")), StopLoss(Decimal("90")))

    def test_an_oco_takes_its_limit_from_its_take_profit(self) -> None:
        r = create(side="sell", order_class="oco", limit_price=None)
        assert r.type is OrderType.LIMIT
        assert r.limit_price == Decimal("110")

    def test_a_short_sellers_oco_buys_below_for_profit_and_above_to_stop(self) -> None:
        r = create(
            side="buy",
            order_class="oco",
            limit_price=None,
            take_profit={"limit_price": "90"},
            stop_loss={"stop_price": "105"},
        )
        assert r.limit_price == Decimal("90")

    @pytest.mark.parametrize("exit_given", [{"take_profit": None}, {"stop_loss": None}])
    def test_an_oto_takes_one_exit(self, exit_given: dict[str, Any]) -> None:
        assert create(order_class="oto", **exit_given).order_class is OrderClass.OTO

    def test_an_oto_entry_may_be_a_stop(self) -> None:
        r = create(order_class="oto", type="stop", limit_price=None, stop_price="101", stop_loss=None)
        assert r.type is OrderType.STOP

    def test_an_empty_class_is_simple(self) -> None:
        r = OrderRequest.create(symbol="AAPL", side="buy", type="market", quantity="1", order_class="")
        assert r.order_class is OrderClass.SIMPLE

    def test_a_sell_entry_bracket_mirrors_a_buy(self) -> None:
        r = create(side="sell", take_profit={"limit_price": "90"}, stop_loss={"stop_price": "105"})
        assert r.side is Side.SELL

    def test_the_class_is_part_of_what_a_repeat_must_ask_for(self) -> None:
        simple = create(order_class="simple", take_profit=None, stop_loss=None)
        assert not create().repeats(simple)
        assert create().repeats(create())


class TestRefusals:
    @pytest.mark.parametrize(
        ("kw", "field"),
        [
            ({"order_class": "simple"}, "take_profit"),
            ({"order_class": "simple", "take_profit": None}, "stop_loss"),
            ({"order_class": "mleg"}, "order_class"),
            ({"type": "stop", "limit_price": None, "stop_price": "101"}, "type"),
            ({"type": "trailing_stop", "limit_price": None, "trail_price": "1"}, "type"),
            ({"take_profit": None}, "take_profit"),
            ({"stop_loss": None}, "stop_loss"),
            ({"order_class": "oto", "take_profit": None, "stop_loss": None}, "take_profit"),
            ({"order_class": "oto"}, "stop_loss"),
            ({"order_class": "oco", "type": "market", "limit_price": None}, "type"),
            ({"order_class": "oco", "side": "sell", "limit_price": "111"}, "limit_price"),
            ({"time_in_force": "ioc"}, "time_in_force"),
            ({"extended_hours": True}, "extended_hours"),
            ({"type": "market", "limit_price": None, "quantity": None, "notional": "1000"}, "notional"),
            # take-profit at or below the stop-loss (for a buy's sell exits)
            ({"type": "market", "limit_price": None, "take_profit": {"limit_price": "95"}}, "take_profit.limit_price"),
            (
                {"type": "market", "limit_price": None, "take_profit": {"limit_price": "95.00"}},
                "take_profit.limit_price",
            ),
            # exits on the wrong side of a limit entry
            ({"take_profit": {"limit_price": "100"}}, "take_profit.limit_price"),
            ({"stop_loss": {"stop_price": "100.00"}}, "stop_loss.stop_price"),
            ({"stop_loss": {"stop_price": "101"}, "take_profit": {"limit_price": "120"}}, "stop_loss.stop_price"),
            ({"side": "sell"}, "take_profit.limit_price"),
            ({"side": "sell", "take_profit": {"limit_price": "90"}}, "stop_loss.stop_price"),
            # a stop-limit's limit beyond its stop, sub-penny exits, malformed exits
            ({"stop_loss": {"stop_price": "95", "limit_price": "96"}}, "stop_loss.limit_price"),
            ({"take_profit": {"limit_price": "110.005"}}, "take_profit.limit_price"),
            ({"stop_loss": {"stop_price": "95.001"}}, "stop_loss.stop_price"),
            ({"take_profit": {}}, "take_profit.limit_price"),
            ({"take_profit": {"limit_price": "-1"}}, "take_profit.limit_price"),
            ({"take_profit": {"limit_price": "110", "stop_price": "1"}}, "take_profit.stop_price"),
            ({"take_profit": "110"}, "take_profit"),
            ({"stop_loss": {"limit_price": "95"}}, "stop_loss.stop_price"),
            ({"stop_loss": {"stop_price": "abc"}}, "stop_loss.stop_price"),
        ],
    )
    def test_each_invalid_combination_names_its_field(self, kw: dict[str, Any], field: str) -> None:
        assert field_refused(**kw) == field

    def test_a_trail_on_another_type_and_both_trails_stay_refused(self) -> None:
        assert field_refused(trail_price="1") == "trail_price"
        simple = {"order_class": "simple", "take_profit": None, "stop_loss": None, "limit_price": None}
        both = {"type": "trailing_stop", "trail_price": "1", "trail_percent": "1"}
        assert field_refused(**simple, **both) == "trail_price"

    def test_a_market_entrys_exits_are_checked_against_the_price_given(self) -> None:
        r = create(type="market", limit_price=None)
        check_exits_against(r, Decimal("100"))
        with pytest.raises(InvalidOrder) as e:
            check_exits_against(r, Decimal("94.99"))
        assert e.value.field == "stop_loss.stop_price"
        with pytest.raises(InvalidOrder) as e:
            check_exits_against(r, Decimal("109.995"))
        assert e.value.field == "take_profit.limit_price"


class TestLegs:
    def test_a_brackets_legs_are_simple_exits_for_the_entrys_quantity(self) -> None:
        legs = leg_requests(create(time_in_force="gtc", stop_loss={"stop_price": "95", "limit_price": "94"}))
        tp, sl = legs[LegRole.TAKE_PROFIT], legs[LegRole.STOP_LOSS]
        assert (tp.side, tp.type, tp.limit_price, tp.quantity) == (
            Side.SELL,
            OrderType.LIMIT,
            Decimal(110),
            Decimal(10),
        )
        assert (sl.side, sl.type, sl.stop_price, sl.limit_price) == (
            Side.SELL,
            OrderType.STOP_LIMIT,
            Decimal(95),
            Decimal(94),
        )
        assert {leg.order_class for leg in legs.values()} == {OrderClass.SIMPLE}
        assert {leg.time_in_force for leg in legs.values()} == {TimeInForce.GTC}
        assert all(leg.take_profit is None and leg.stop_loss is None for leg in legs.values())

    def test_an_ocos_one_leg_is_its_stop_loss_on_its_own_side(self) -> None:
        legs = leg_requests(create(side="sell", order_class="oco", limit_price=None))
        assert list(legs) == [LegRole.STOP_LOSS]
        assert legs[LegRole.STOP_LOSS].side is Side.SELL

    def test_an_otos_one_leg(self) -> None:
        legs = leg_requests(create(order_class="oto", take_profit=None))
        assert list(legs) == [LegRole.STOP_LOSS]

    def test_leg_client_order_ids_are_derived_and_distinct(self) -> None:
        parent = ClientOrderId("strat-1")
        ids = {leg_client_order_id(parent, role) for role in LegRole}
        assert len(ids) == 2
        assert leg_client_order_id(parent, LegRole.STOP_LOSS) == leg_client_order_id(parent, LegRole.STOP_LOSS)
        assert all(len(i) <= 48 for i in ids)

    def test_an_order_keeps_its_class_and_exits_and_is_no_leg(self) -> None:
        r = create()
        order = Order.from_request(r, order_id=new_order_id(NOW), client_order_id=ClientOrderId("c"), now=NOW)
        assert (order.order_class, order.take_profit, order.stop_loss) == (r.order_class, r.take_profit, r.stop_loss)
        assert (order.legs, order.leg_of, order.is_leg) == ((), None, False)
        assert OrderRequest.from_order(order, client_order_id=None) == r

    def test_an_order_with_a_class_is_not_split_at_flat(self) -> None:
        r = create(side="sell", take_profit={"limit_price": "90"}, stop_loss={"stop_price": "105"})
        assert split_at_flat(r, Decimal(5)) == (r, None)
