"""Risk with order classes: exits counted once, held legs not at the market, and the spec's stop-loss."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import pytest

from apps.config import ConfigError, parse_settings
from tests.unit.builders import AAPL, D, context, order, position, request
from trading_core.enums import OrderClass, OrderStatus, Side
from trading_core.order_classes import StopLoss, TakeProfit, leg_requests
from trading_core.orders import Order
from trading_core.protective import unfilled_once
from trading_core.requests import OrderRequest
from trading_core.risk import RiskLimits, Sizing
from trading_core.risk.protection import with_protection
from trading_core.risk.rules import wash_trade
from trading_core.values import OrderId

LIMITS = RiskLimits(stop_loss_percent=D(2), take_profit_percent=D(4))


def group(parent_request: Any, *, status: OrderStatus, leg_status: OrderStatus) -> list[Order]:
    """A parent and its legs as the book holds them."""
    parent = order(parent_request, status=status, order_id="parent")
    legs = [
        attrs.evolve(order(leg, status=leg_status, order_id=role.value), leg_of=parent.id)
        for role, leg in leg_requests(parent_request).items()
    ]
    return [attrs.evolve(parent, legs=tuple(OrderId(leg.id) for leg in legs)), *legs]


def limit_bracket() -> OrderRequest:
    """A limit buy of 10 AAPL at 100 with a take-profit at 110 and a stop-loss at 95."""
    return request(
        type="limit",
        limit_price="100",
        order_class="bracket",
        take_profit={"limit_price": "110"},
        stop_loss={"stop_price": "95"},
    )


class TestExposureCountedOnce:
    def test_an_oco_exit_pair_holds_its_quantity_once(self) -> None:
        oco = request(
            side="sell",
            type="limit",
            order_class="oco",
            take_profit={"limit_price": "110"},
            stop_loss={"stop_price": "95"},
        )
        pair = group(oco, status=OrderStatus.NEW, leg_status=OrderStatus.NEW)
        ctx = context(positions=[position(AAPL, 10, 100)], open_orders=pair)

        sized = Sizing.of(request(side="sell", quantity="5"), ctx)

        # The pair sells the 10 held once: a sale of 5 more opens a short of 5, not of 15.
        assert sized.value == D(500)

    def test_a_brackets_held_legs_add_nothing_to_its_entrys(self) -> None:
        bracket = limit_bracket()
        orders = group(bracket, status=OrderStatus.NEW, leg_status=OrderStatus.HELD)
        ctx = context(open_orders=orders)

        assert Sizing.of(request(side="sell", quantity="5"), ctx).value == D(500)
        # The entry counts on its own side as any buy does.
        assert Sizing.of(request(quantity="5"), ctx).value == D(1500)

    def test_a_working_brackets_legs_count_once_against_the_position(self) -> None:
        bracket = limit_bracket()
        orders = group(bracket, status=OrderStatus.FILLED, leg_status=OrderStatus.NEW)[1:]
        ctx = context(positions=[position(AAPL, 10, 100)], open_orders=orders)

        assert Sizing.of(request(side="sell", quantity="10"), ctx).value == D(1000)

    def test_a_brackets_take_profit_working_beside_its_held_stop_loss_counts_once(self) -> None:
        """As at Alpaca, once the entry has filled the take-profit is `new` and the stop-loss stays
        `held` while it works: the pair sells the 10 held once, neither twice nor not at all."""
        bracket = limit_bracket()
        _, take_profit, stop_loss = group(bracket, status=OrderStatus.FILLED, leg_status=OrderStatus.NEW)
        orders = [take_profit, attrs.evolve(stop_loss, status=OrderStatus.HELD)]
        ctx = context(positions=[position(AAPL, 10, 100)], open_orders=orders)

        assert unfilled_once(orders) == 10
        assert Sizing.of(request(side="sell", quantity="10"), ctx).value == D(1000)


class TestWashTrade:
    """Alpaca's rule, with its exceptions: complex orders and trailing stops."""

    STOP = request(side="sell", type="stop", stop_price="95")

    @staticmethod
    def verdict(new: OrderRequest, *resting: Order) -> str | None:
        ctx = context(open_orders=resting)
        rejection = wash_trade(new, Sizing.of(new, ctx), ctx, RiskLimits())
        return None if rejection is None else rejection.code

    def test_a_market_buy_against_a_resting_simple_stop_is_refused(self) -> None:
        assert self.verdict(request(), order(self.STOP, status=OrderStatus.NEW)) == "WASH_TRADE"

    def test_a_leg_resting_or_held_is_no_wash_trade(self) -> None:
        for status in (OrderStatus.HELD, OrderStatus.NEW):
            leg = attrs.evolve(order(self.STOP, status=status), leg_of=OrderId("parent"))
            assert self.verdict(request(), leg) is None

    def test_a_resting_oco_or_trailing_stop_is_no_wash_trade(self) -> None:
        oco = request(
            side="sell",
            type="limit",
            order_class="oco",
            take_profit={"limit_price": "110"},
            stop_loss={"stop_price": "95"},
        )
        trailing = request(side="sell", type="trailing_stop", trail_percent="2")
        assert self.verdict(request(), order(oco, status=OrderStatus.NEW)) is None
        assert self.verdict(request(), order(trailing, status=OrderStatus.NEW)) is None

    def test_a_complex_order_or_a_trailing_stop_passes_against_a_resting_limit(self) -> None:
        resting = order(request(side="sell", type="limit", limit_price="101"), status=OrderStatus.NEW)
        bracket = request(order_class="bracket", take_profit={"limit_price": "110"}, stop_loss={"stop_price": "95"})
        assert self.verdict(request(), resting) == "WASH_TRADE"
        assert self.verdict(bracket, resting) is None
        assert self.verdict(request(type="trailing_stop", trail_price="1"), resting) is None


class TestStopLossPercent:
    def test_unset_by_default_nothing_is_attached(self) -> None:
        r = request()
        assert with_protection(r, opening=True, mark=D(100), limits=RiskLimits()) is r

    def test_a_market_buy_goes_as_a_bracket_priced_from_the_mark(self) -> None:
        r = with_protection(request(), opening=True, mark=D(100), limits=LIMITS)
        assert r.order_class is OrderClass.BRACKET
        assert (r.take_profit, r.stop_loss) == (TakeProfit(D(104)), StopLoss(D(98)))

    def test_a_limit_entry_is_measured_from_its_limit_in_whole_cents_away_from_it(self) -> None:
        r = with_protection(request(type="limit", limit_price="101.37"), opening=True, mark=D(90), limits=LIMITS)
        assert (r.take_profit, r.stop_loss) == (TakeProfit(D("105.43")), StopLoss(D("99.34")))

    def test_a_sale_short_has_its_exits_the_other_way(self) -> None:
        r = with_protection(request(side="sell"), opening=True, mark=D(100), limits=LIMITS)
        assert (r.side, r.take_profit, r.stop_loss) == (Side.SELL, TakeProfit(D(96)), StopLoss(D(102)))

    def test_a_stop_entry_goes_as_an_oto_with_its_stop_loss(self) -> None:
        r = with_protection(request(type="stop", stop_price="105"), opening=True, mark=D(100), limits=LIMITS)
        assert (r.order_class, r.take_profit, r.stop_loss) == (OrderClass.OTO, None, StopLoss(D("102.9")))

    def test_a_take_profit_alone_goes_as_an_oto(self) -> None:
        limits = RiskLimits(take_profit_percent=D(1))
        r = with_protection(request(), opening=True, mark=D(100), limits=limits)
        assert (r.order_class, r.take_profit, r.stop_loss) == (OrderClass.OTO, TakeProfit(D(101)), None)

    def test_a_tiny_percentage_still_leaves_a_cent(self) -> None:
        limits = RiskLimits(stop_loss_percent=D("0.0001"), take_profit_percent=D("0.0001"))
        r = with_protection(request(), opening=True, mark=D(100), limits=limits)
        assert (r.take_profit, r.stop_loss) == (TakeProfit(D("100.01")), StopLoss(D("99.99")))

    @pytest.mark.parametrize(
        "kw",
        [
            {"opening": False, "r": request()},
            {"opening": True, "r": request(order_class="oto", stop_loss={"stop_price": "90"})},
            {"opening": True, "r": request(type="trailing_stop", trail_price="1")},
            {"opening": True, "r": request(type="limit", limit_price="100", extended_hours=True)},
        ],
    )
    def test_orders_that_reduce_have_exits_or_cannot_carry_them_go_as_they_are(self, kw: dict[str, Any]) -> None:
        r = kw["r"]
        assert with_protection(r, opening=kw["opening"], mark=D(100), limits=LIMITS) is r

    def test_no_price_to_measure_from(self) -> None:
        r = request()
        assert with_protection(r, opening=True, mark=None, limits=LIMITS) is r


class TestConfig:
    def test_the_keys_are_unset_by_default_and_reach_the_limits(self) -> None:
        assert parse_settings("trading-engine: {}\n", {}).risk.limits().stop_loss_percent is None
        text = "trading-engine:\n  risk:\n    stopLossPercent: 2.5\n    takeProfitPercent: 5\n"
        limits = parse_settings(text, {}).risk.limits()
        assert (limits.stop_loss_percent, limits.take_profit_percent) == (Decimal("2.5"), Decimal(5))

    def test_from_the_environment(self) -> None:
        limits = parse_settings("trading-engine: {}\n", {"TRADING_ENGINE_RISK_STOP_LOSS_PERCENT": "3"}).risk.limits()
        assert limits.stop_loss_percent == 3

    @pytest.mark.parametrize("value", ["0", "100", "-1"])
    def test_a_stop_loss_of_nothing_or_everything_is_refused(self, value: str) -> None:
        with pytest.raises(ConfigError) as e:
            parse_settings(f"trading-engine:\n  risk:\n    stopLossPercent: {value}\n", {})
        assert "stopLossPercent" in str(e.value)
