"""Each pre-trade rule at its boundaries: at the limit passes, one cent over fails, reductions pass."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading_core import codes
from trading_core.daytrades import DayTrades
from trading_core.enums import OrderStatus, OrderType, Side, TradingState
from trading_core.market import Asset, Session
from trading_core.positions import Position
from trading_core.requests import OrderRequest
from trading_core.risk import rules
from trading_core.risk.context import RiskContext
from trading_core.risk.engine import DEFAULT_RULES
from trading_core.risk.limits import RiskLimits
from trading_core.risk.rules import Rejection, SizedRule
from trading_core.risk.sizing import Sizing, is_reducing, opening_quantity, reference_price
from trading_core.testing import order_requests, positions, reducing_requests, risk_contexts, risk_limits, symbols
from trading_core.values import Symbol

from .builders import AAPL, MSFT, XOM, account, clock, context, eastern, order, position, request

LIMITS = RiskLimits()
EXPOSURE_RULES = {
    "buyingPower": rules.buying_power,
    "positionLimit": rules.position_limit,
    "sectorExposure": rules.sector_exposure,
    "dailyLossLimit": rules.daily_loss_limit,
    "maxOpenPositions": rules.max_open_positions,
}
"""The rules that guard exposure or losses: none may block an order that only reduces."""


def check(rule: SizedRule, req: OrderRequest, ctx: RiskContext, limits: RiskLimits = LIMITS) -> str | None:
    """The rule's code for `req` in `ctx`, or None when it passes."""
    rejection = rule(req, Sizing.of(req, ctx), ctx, limits)
    return None if rejection is None else rejection.code


def buy_limit(qty: str, price: str, symbol: str = "AAPL") -> OrderRequest:
    return request(symbol=symbol, type="limit", quantity=qty, limit_price=price)


def sell(qty: str, symbol: str = "AAPL", **kw: Any) -> OrderRequest:
    return request(symbol=symbol, side="sell", quantity=qty, **kw)


class TestContext:
    @pytest.mark.parametrize(
        ("held", "side", "qty", "opening"),
        [(0, "buy", "10", "10"), (5, "buy", "10", "10"), (15, "sell", "10", "0"), (10, "sell", "10", "0"),
         (4, "sell", "10", "6"), (-4, "buy", "10", "6"), (-4, "sell", "10", "10")],
    )  # fmt: skip
    def test_opening_quantity_is_the_part_that_adds_exposure(
        self, held: int, side: str, qty: str, opening: str
    ) -> None:
        ctx = context(positions=[position(AAPL, held, 100)] if held else [])
        req = request(side=side, quantity=qty)

        assert (Decimal(opening), opening == "0") == (opening_quantity(req, ctx), is_reducing(req, ctx))

    @pytest.mark.parametrize(
        ("kw", "expected"),
        [
            ({"type": "market"}, "100"),
            ({"type": "limit", "limit_price": "95"}, "95"),
            ({"type": "stop", "stop_price": "105"}, "105"),
            ({"type": "stop", "stop_price": "95"}, "100"),
            ({"type": "stop_limit", "stop_price": "105", "limit_price": "106"}, "106"),
            ({"type": "trailing_stop", "trail_price": "1"}, "100"),
        ],
    )
    def test_an_order_is_valued_at_its_limit_else_its_stop_else_the_mark(
        self, kw: dict[str, str], expected: str
    ) -> None:
        assert Decimal(expected) == reference_price(request(**kw), context())

    def test_a_market_order_without_a_mark_has_no_value(self) -> None:
        assert reference_price(request(), context(marks={})) is None

    def test_the_context_shows_the_mappings_it_was_given_as_they_stand(self) -> None:
        """The engine gives its book's own mappings: a request sized later is sized against what they hold then."""
        held: dict[Symbol, Position] = {}
        marks = {AAPL: Decimal(100)}
        ctx = attrs.evolve(context(), positions=held, marks=marks)
        req = sell("10")
        before = (opening_quantity(req, ctx), is_reducing(req, ctx), reference_price(req, ctx))

        held[AAPL] = position(AAPL, 10, 100)
        marks[AAPL] = Decimal(101)

        assert before == (Decimal(10), False, Decimal(100))
        assert (opening_quantity(req, ctx), is_reducing(req, ctx), reference_price(req, ctx)) == (
            Decimal(0),
            True,
            Decimal(101),
        )

    def test_a_rule_cannot_change_what_the_context_shows(self) -> None:
        """Read-only all the way down: the mappings, the open orders by symbol, the open orders in the symbol."""
        resting = order(sell("1"), status=OrderStatus.NEW)
        ctx = attrs.evolve(
            context(positions=[position(AAPL, 5, 100)], open_orders=[resting]),
            working={AAPL: {resting.id: resting}},
        )

        with pytest.raises(TypeError):
            ctx.positions[AAPL] = position(AAPL, 1, 1)  # type: ignore[index]
        with pytest.raises(TypeError):
            ctx.marks[AAPL] = Decimal(1)  # type: ignore[index]
        with pytest.raises(TypeError):
            del ctx.assets[AAPL]  # type: ignore[attr-defined]
        with pytest.raises(TypeError):
            del ctx.working[AAPL][resting.id]  # type: ignore[attr-defined]
        with pytest.raises(AttributeError):
            ctx.open_orders.append(resting)  # type: ignore[attr-defined]
        assert (Decimal(5), (resting,), [resting]) == (
            ctx.held(AAPL),
            ctx.open_orders,
            list(ctx.working[AAPL].values()),
        )

    def test_today_is_the_new_york_date(self) -> None:
        late_evening = datetime(2026, 3, 3, 3, 0, tzinfo=UTC)  # 22:00 on Monday in New York

        assert date(2026, 3, 2) == context(at=late_evening).today


class TestBuyingPower:
    def test_an_order_costing_exactly_the_buying_power_passes(self) -> None:
        assert check(rules.buying_power, buy_limit("10", "100"), context(acct=account(buying_power="1000"))) is None

    def test_one_cent_over_the_buying_power_fails(self) -> None:
        ctx = context(acct=account(buying_power="999.99"))

        assert check(rules.buying_power, buy_limit("10", "100"), ctx) == codes.INSUFFICIENT_FUNDS

    def test_a_market_order_is_valued_at_the_mark(self) -> None:
        ctx = context(acct=account(buying_power="999.99"), marks={AAPL: Decimal("99.999")})

        assert (
            check(rules.buying_power, request(quantity="10"), ctx),
            check(rules.buying_power, request(quantity="10.0001"), ctx),
        ) == (None, codes.INSUFFICIENT_FUNDS)

    def test_a_stop_buy_is_valued_at_the_higher_of_stop_and_mark(self) -> None:
        ctx = context(acct=account(buying_power="1049.99"))

        assert (
            check(rules.buying_power, request(type="stop", stop_price="105", quantity="10"), ctx)
            == codes.INSUFFICIENT_FUNDS
        )

    def test_an_order_it_cannot_value_fails(self) -> None:
        assert check(rules.buying_power, request(), context(marks={})) == codes.INSUFFICIENT_FUNDS

    def test_only_the_opening_part_of_a_flip_needs_buying_power(self) -> None:
        held = [position(AAPL, 10, 90)]
        order15 = sell("15", type="limit", limit_price="100")

        assert (
            check(rules.buying_power, order15, context(acct=account(buying_power="500"), positions=held)),
            check(rules.buying_power, order15, context(acct=account(buying_power="499.99"), positions=held)),
        ) == (None, codes.INSUFFICIENT_FUNDS)

    @pytest.mark.parametrize(("held", "order_side"), [(10, "sell"), (-10, "buy")])
    def test_a_reduction_passes_with_no_buying_power(self, held: int, order_side: str) -> None:
        ctx = context(acct=account(buying_power="0"), positions=[position(AAPL, held, 100)])

        assert check(rules.buying_power, request(side=order_side, quantity="10"), ctx) is None

    @pytest.mark.parametrize(("notional", "mark"), [("657066.49", "5749.00"), ("100", "7"), ("1000", "13.37")])
    def test_a_notional_order_of_exactly_the_buying_power_passes(self, notional: str, mark: str) -> None:
        """notional / mark * mark is not always notional in 28 digits: the cost is the notional itself."""
        ctx = context(acct=account("10000000", buying_power=notional), marks={AAPL: Decimal(mark)})

        assert check(rules.buying_power, request(notional=notional), ctx) is None

    def test_a_notional_order_one_cent_over_fails(self) -> None:
        ctx = context(acct=account(buying_power="99.99"), marks={AAPL: Decimal(7)})

        assert check(rules.buying_power, request(notional="100"), ctx) == codes.INSUFFICIENT_FUNDS

    def test_a_notional_order_without_a_mark_fails(self) -> None:
        """It cannot be valued, so it cannot be shown to fit: refused, not waved through."""
        ctx = context(acct=account(buying_power="100"), marks={})

        assert check(rules.buying_power, request(notional="1000000"), ctx) == codes.INSUFFICIENT_FUNDS


class TestPositionLimit:
    """Equity $100,000 and the default 10 %: a position may be worth $10,000."""

    def test_a_position_at_the_limit_passes(self) -> None:
        assert check(rules.position_limit, buy_limit("1", "10000"), context()) is None

    def test_one_cent_over_the_limit_fails(self) -> None:
        assert check(rules.position_limit, buy_limit("1", "10000.01"), context()) == codes.POSITION_LIMIT

    def test_what_is_held_counts(self) -> None:
        ctx = context(positions=[position(AAPL, 50, 80)])

        assert (
            check(rules.position_limit, buy_limit("50", "100"), ctx),
            check(rules.position_limit, buy_limit("50.0001", "100"), ctx),
        ) == (None, codes.POSITION_LIMIT)

    def test_the_new_side_of_a_flip_counts(self) -> None:
        ctx = context(positions=[position(AAPL, 50, 100)])

        assert (
            check(rules.position_limit, sell("150"), ctx),
            check(rules.position_limit, sell("150.0001"), ctx),
        ) == (None, codes.POSITION_LIMIT)

    def test_a_reduction_of_a_position_over_the_limit_passes(self) -> None:
        ctx = context(positions=[position(AAPL, 500, 100)])

        assert check(rules.position_limit, sell("100"), ctx) is None

    def test_the_limit_follows_the_configuration(self) -> None:
        limits = RiskLimits(max_position_size_percent=Decimal(5))

        assert check(rules.position_limit, buy_limit("1", "5000.01"), context(), limits) == codes.POSITION_LIMIT

    def test_an_order_it_cannot_value_is_left_to_buying_power(self) -> None:
        assert check(rules.position_limit, request(), context(marks={})) is None

    def test_a_notional_order_of_exactly_the_limit_passes(self) -> None:
        ctx = context(acct=account("6570664.90"), marks={AAPL: Decimal("5749.00")})

        assert check(rules.position_limit, request(notional="657066.49"), ctx) is None


class TestSectorExposure:
    """Equity $100,000 and the default 30 %: a sector may be worth $30,000. MSFT holds $20,000."""

    SECTORS: ClassVar[dict[Symbol, str]] = {AAPL: "Technology", MSFT: "Technology", XOM: "Energy"}

    def ctx(self, *held: Position) -> RiskContext:
        return context(positions=[position(MSFT, 200, 90), *held], sectors=self.SECTORS)

    def test_sector_exposure_at_the_limit_passes(self) -> None:
        assert check(rules.sector_exposure, buy_limit("100", "100"), self.ctx()) is None

    def test_one_cent_over_the_limit_fails(self) -> None:
        assert check(rules.sector_exposure, buy_limit("100", "100.01"), self.ctx()) == codes.SECTOR_LIMIT

    def test_shorts_count_as_exposure(self) -> None:
        ctx = context(positions=[position(MSFT, -200, 110)], sectors=self.SECTORS)

        assert check(rules.sector_exposure, buy_limit("100", "100.01"), ctx) == codes.SECTOR_LIMIT

    def test_other_sectors_do_not_count(self) -> None:
        ctx = self.ctx(position(XOM, 1000, 100))

        assert check(rules.sector_exposure, buy_limit("100", "100"), ctx) is None

    def test_a_symbol_without_a_sector_passes(self) -> None:
        ctx = context(positions=[position(MSFT, 1000, 100)], sectors={MSFT: "Technology"})

        assert check(rules.sector_exposure, buy_limit("100", "100"), ctx) is None

    def test_a_reduction_of_a_sector_over_the_limit_passes(self) -> None:
        ctx = self.ctx(position(AAPL, 200, 100))

        assert check(rules.sector_exposure, sell("50"), ctx) is None


class TestDailyLossLimit:
    """Last close $100,000 and the default 3 %: a loss of $3,000 is the most allowed."""

    def test_a_loss_of_exactly_three_percent_passes(self) -> None:
        ctx = context(acct=account("97000", last_equity="100000"))

        assert check(rules.daily_loss_limit, request(), ctx) is None

    def test_one_cent_more_fails(self) -> None:
        ctx = context(acct=account("96999.99", last_equity="100000"))

        assert check(rules.daily_loss_limit, request(), ctx) == codes.DAILY_LOSS_LIMIT

    def test_a_reduction_passes_over_the_limit(self) -> None:
        ctx = context(acct=account("50000", last_equity="100000"), positions=[position(AAPL, 10, 100)])

        assert check(rules.daily_loss_limit, sell("10"), ctx) is None

    def test_a_gain_passes(self) -> None:
        assert check(rules.daily_loss_limit, request(), context(acct=account("200000", last_equity="100000"))) is None

    def test_no_previous_close_passes(self) -> None:
        assert check(rules.daily_loss_limit, request(), context(acct=account("100", last_equity="0"))) is None

    @pytest.mark.parametrize(
        ("state", "code"),
        [(TradingState.REDUCING_ONLY, codes.DAILY_LOSS_LIMIT), (TradingState.HALTED, codes.TRADING_HALTED)],
    )
    def test_a_reducing_only_state_blocks_increases(self, state: TradingState, code: str) -> None:
        ctx = context(trading_state=state, positions=[position(AAPL, 10, 100)])

        assert check(rules.daily_loss_limit, request(), ctx) == code

    def test_a_halt_blocks_increases_even_with_the_day_in_profit(self) -> None:
        ctx = context(trading_state=TradingState.HALTED, acct=account("200000", last_equity="100000"))

        assert check(rules.daily_loss_limit, request(), ctx) == codes.TRADING_HALTED

    @pytest.mark.parametrize("state", [TradingState.REDUCING_ONLY, TradingState.HALTED])
    def test_a_reducing_only_state_lets_reductions_through(self, state: TradingState) -> None:
        ctx = context(trading_state=state, positions=[position(AAPL, 10, 100)])

        assert check(rules.daily_loss_limit, sell("10"), ctx) is None

    def test_a_reducing_only_state_blocks_the_opening_part_of_a_flip(self) -> None:
        ctx = context(trading_state=TradingState.REDUCING_ONLY, positions=[position(AAPL, 10, 100)])

        assert check(rules.daily_loss_limit, sell("10.0001"), ctx) == codes.DAILY_LOSS_LIMIT

    def test_a_reducing_only_state_blocks_a_notional_order_it_cannot_value(self) -> None:
        """With no price, a notional order's size is unknown: it is not shown to reduce."""
        ctx = context(trading_state=TradingState.REDUCING_ONLY, marks={})

        assert check(rules.daily_loss_limit, request(notional="1000000"), ctx) == codes.DAILY_LOSS_LIMIT


class TestMaxOpenPositions:
    def held(self, count: int) -> list[Position]:
        return [position(Symbol(f"S{n}"), 1, 10) for n in range(count)]

    def test_the_twentieth_position_may_open(self) -> None:
        assert check(rules.max_open_positions, request(), context(positions=self.held(19))) is None

    def test_a_twenty_first_may_not(self) -> None:
        assert check(rules.max_open_positions, request(), context(positions=self.held(20))) == codes.MAX_OPEN_POSITIONS

    def test_adding_to_or_reducing_a_held_position_passes_at_the_limit(self) -> None:
        ctx = context(positions=[*self.held(19), position(AAPL, 5, 100)])

        assert (
            check(rules.max_open_positions, request(), ctx),
            check(rules.max_open_positions, sell("5"), ctx),
        ) == (None, None)

    def test_flat_positions_do_not_count(self) -> None:
        ctx = context(positions=[*self.held(19), Position.flat(MSFT)])

        assert check(rules.max_open_positions, request(), ctx) is None


class TestMarketSession:
    def test_an_open_market_takes_any_order(self) -> None:
        assert check(rules.market_session, request(time_in_force="ioc"), context(at=eastern(9, 30))) is None

    @pytest.mark.parametrize("at", [eastern(22), eastern(3), eastern(8), eastern(17)], ids=str)
    def test_a_market_order_is_refused_outside_the_regular_session(self, at: datetime) -> None:
        assert check(rules.market_session, request(), context(at=at)) == codes.MARKET_CLOSED

    @pytest.mark.parametrize(
        "kw",
        [
            {"type": "limit", "limit_price": "10"},
            {"type": "limit", "limit_price": "10", "time_in_force": "gtc"},
            {"type": "stop", "stop_price": "10"},
        ],
    )
    def test_a_resting_order_is_accepted_while_closed(self, kw: dict[str, str]) -> None:
        assert check(rules.market_session, request(**kw), context(at=eastern(22))) is None

    @pytest.mark.parametrize("tif", ["ioc", "fok"])
    def test_an_immediate_order_is_refused_while_closed(self, tif: str) -> None:
        req = request(type="limit", limit_price="10", time_in_force=tif)

        assert check(rules.market_session, req, context(at=eastern(22))) == codes.MARKET_CLOSED

    @pytest.mark.parametrize("at", [eastern(4), eastern(8), eastern(9, 29), eastern(16), eastern(19, 59)], ids=str)
    def test_an_extended_hours_limit_order_is_accepted_in_pre_and_after_market(self, at: datetime) -> None:
        ctx = context(at=at)
        req = request(type="limit", limit_price="10", extended_hours=True)

        assert ctx.clock.session in (Session.PRE_MARKET, Session.AFTER_HOURS)
        assert check(rules.market_session, req, ctx) is None

    @pytest.mark.parametrize(
        ("hour", "minute", "expected"),
        [(19, 0, None), (23, 0, None), (9, 27, None), (9, 28, codes.MARKET_CLOSED), (12, 0, codes.MARKET_CLOSED),
         (18, 59, codes.MARKET_CLOSED)],
    )  # fmt: skip
    def test_opening_auction_orders_are_refused_from_9_28_to_19_00_new_york_time(
        self, hour: int, minute: int, expected: str | None
    ) -> None:
        assert expected == check(rules.market_session, request(time_in_force="opg"), context(at=eastern(hour, minute)))

    @pytest.mark.parametrize(
        ("hour", "minute", "expected"),
        [(15, 49, None), (9, 0, None), (19, 0, None), (15, 50, codes.MARKET_CLOSED), (18, 59, codes.MARKET_CLOSED)],
    )
    def test_closing_auction_orders_are_refused_from_15_50_to_19_00_new_york_time(
        self, hour: int, minute: int, expected: str | None
    ) -> None:
        req = request(type="limit", limit_price="10", time_in_force="cls")

        assert expected == check(rules.market_session, req, context(at=eastern(hour, minute)))

    @pytest.mark.parametrize(
        ("utc", "expected"),
        [
            (datetime(2026, 3, 2, 14, 27, tzinfo=UTC), None),  # 09:27 EST
            (datetime(2026, 3, 2, 14, 28, tzinfo=UTC), codes.MARKET_CLOSED),  # 09:28 EST
            (datetime(2026, 7, 1, 13, 27, tzinfo=UTC), None),  # 09:27 EDT
            (datetime(2026, 7, 1, 13, 28, tzinfo=UTC), codes.MARKET_CLOSED),  # 09:28 EDT
        ],
        ids=str,
    )
    def test_auction_windows_follow_daylight_saving_time(self, utc: datetime, expected: str | None) -> None:
        ctx = context(market=clock(utc, session=Session.PRE_MARKET))

        assert expected == check(rules.market_session, request(time_in_force="opg"), ctx)


class TestSymbolTradable:
    def ctx(self, asset: Asset, **kw: object) -> RiskContext:
        return context(assets=[asset], **kw)  # type: ignore[arg-type]

    def test_a_tradable_asset_passes(self) -> None:
        assert check(rules.symbol_tradable, request(), self.ctx(Asset(symbol=AAPL))) is None

    def test_an_unknown_asset_fails(self) -> None:
        assert check(rules.symbol_tradable, request(symbol="ZZZZ"), context()) == codes.SYMBOL_NOT_TRADABLE

    def test_an_asset_that_is_not_tradable_fails(self) -> None:
        ctx = self.ctx(Asset(symbol=AAPL, tradable=False))

        assert check(rules.symbol_tradable, request(), ctx) == codes.SYMBOL_NOT_TRADABLE

    @pytest.mark.parametrize("flag", ["trading_blocked", "account_blocked"])
    def test_a_blocked_account_fails(self, flag: str) -> None:
        ctx = context(acct=account(**{flag: True}))

        assert check(rules.symbol_tradable, request(), ctx) == codes.SYMBOL_NOT_TRADABLE

    def test_a_fractional_quantity_of_a_non_fractionable_asset_fails(self) -> None:
        ctx = self.ctx(Asset(symbol=AAPL, fractionable=False))

        assert (
            check(rules.symbol_tradable, request(quantity="3"), ctx),
            check(rules.symbol_tradable, request(quantity="3.5"), ctx),
        ) == (None, codes.SYMBOL_NOT_TRADABLE)

    def test_a_notional_order_of_a_non_fractionable_asset_fails(self) -> None:
        """A notional order buys a fraction of a share: only fractionable assets take one."""
        ctx = self.ctx(Asset(symbol=AAPL, fractionable=False))

        assert check(rules.symbol_tradable, request(notional="500"), ctx) == codes.SYMBOL_NOT_TRADABLE

    def test_a_short_sale_of_a_non_shortable_asset_fails(self) -> None:
        ctx = self.ctx(Asset(symbol=AAPL, shortable=False))

        assert check(rules.symbol_tradable, sell("1"), ctx) == codes.SYMBOL_NOT_TRADABLE

    def test_a_short_sale_fails_when_the_account_may_not_short(self) -> None:
        ctx = context(acct=account(shorting_enabled=False))

        assert check(rules.symbol_tradable, sell("1"), ctx) == codes.SYMBOL_NOT_TRADABLE

    def test_selling_what_is_held_is_not_a_short_sale(self) -> None:
        ctx = self.ctx(Asset(symbol=AAPL, shortable=False), positions=[position(AAPL, 10, 100)])

        assert (
            check(rules.symbol_tradable, sell("10"), ctx),
            check(rules.symbol_tradable, sell("11"), ctx),
        ) == (None, codes.SYMBOL_NOT_TRADABLE)


class TestWashTrade:
    def ctx(self, *opposite: OrderRequest) -> RiskContext:
        resting = [order(r, status=OrderStatus.NEW, order_id=f"resting-{n}") for n, r in enumerate(opposite)]
        return context(open_orders=resting)

    def test_a_buy_limit_that_reaches_our_own_sell_limit_fails(self) -> None:
        ctx = self.ctx(sell("5", type="limit", limit_price="101"))

        assert check(rules.wash_trade, buy_limit("5", "101"), ctx) == codes.WASH_TRADE

    def test_a_buy_limit_below_our_own_sell_limit_passes(self) -> None:
        ctx = self.ctx(sell("5", type="limit", limit_price="101"))

        assert check(rules.wash_trade, buy_limit("5", "100.99"), ctx) is None

    def test_a_sell_limit_that_reaches_our_own_buy_limit_fails(self) -> None:
        ctx = self.ctx(buy_limit("5", "99"))

        assert (
            check(rules.wash_trade, sell("5", type="limit", limit_price="99"), ctx),
            check(rules.wash_trade, sell("5", type="limit", limit_price="99.01"), ctx),
        ) == (codes.WASH_TRADE, None)

    def test_a_market_order_against_any_opposite_order_fails(self) -> None:
        ctx = self.ctx(sell("5", type="limit", limit_price="1000"))

        req = request()
        rejection = rules.wash_trade(req, Sizing.of(req, ctx), ctx, LIMITS)

        assert rejection is not None
        assert (rejection.code, rejection.check) == (codes.WASH_TRADE, "washTrade")
        assert "market order" in rejection.reason

    def test_a_limit_order_against_an_opposite_market_or_stop_order_fails(self) -> None:
        for resting in (sell("5"), sell("5", type="stop", stop_price="90")):
            assert check(rules.wash_trade, buy_limit("5", "1"), self.ctx(resting)) == codes.WASH_TRADE

    def test_orders_on_the_same_side_or_another_symbol_pass(self) -> None:
        ctx = self.ctx(request(), sell("5", symbol="MSFT"))

        assert check(rules.wash_trade, request(), ctx) is None

    def test_protection_can_be_turned_off(self) -> None:
        limits = RiskLimits(enable_wash_trade_protection=False)

        assert check(rules.wash_trade, request(), self.ctx(sell("5")), limits) is None


class TestPatternDayTrader:
    """A sale of AAPL, opened today (Monday 2 March), with day trades already made."""

    def ctx(self, equity: str, *dates: date, opened_today: bool = True) -> RiskContext:
        trades = DayTrades.from_dates(
            dates, trading_day=date(2026, 3, 2), open_today=frozenset({AAPL} if opened_today else ())
        )
        return context(acct=account(equity), positions=[position(AAPL, 10, 100)], day_trades=trades)

    THREE = (date(2026, 2, 24), date(2026, 2, 26), date(2026, 2, 27))
    """Three day trades in the five business days that end on Monday 2 March."""

    def test_a_fourth_day_trade_in_five_business_days_is_refused(self) -> None:
        assert check(rules.pattern_day_trader, sell("10"), self.ctx("24999.99", *self.THREE)) == codes.PDT_RESTRICTED

    def test_a_third_is_allowed(self) -> None:
        assert check(rules.pattern_day_trader, sell("10"), self.ctx("24999.99", *self.THREE[1:])) is None

    def test_equity_of_25000_lifts_the_budget(self) -> None:
        assert check(rules.pattern_day_trader, sell("10"), self.ctx("25000", *self.THREE)) is None

    def test_day_trades_older_than_the_window_do_not_count(self) -> None:
        older = (date(2026, 2, 23), *self.THREE[1:])

        assert check(rules.pattern_day_trader, sell("10"), self.ctx("1000", *older)) is None

    def test_a_sale_of_a_position_opened_before_today_is_not_a_day_trade(self) -> None:
        ctx = self.ctx("1000", *self.THREE, opened_today=False)

        assert check(rules.pattern_day_trader, sell("10"), ctx) is None

    def test_buying_more_is_not_a_day_trade(self) -> None:
        assert check(rules.pattern_day_trader, request(), self.ctx("1000", *self.THREE)) is None

    def test_the_budget_can_be_turned_off(self) -> None:
        limits = RiskLimits(enable_day_trade_budget=False)

        assert check(rules.pattern_day_trader, sell("10"), self.ctx("1000", *self.THREE), limits) is None


def _rule_cases() -> st.SearchStrategy[tuple[OrderRequest, RiskContext]]:
    return symbols().flatmap(
        lambda s: st.tuples(order_requests(symbol=st.just(s), types=tuple(OrderType)), risk_contexts(s))
    )


def _with_opposite_orders(ctx: RiskContext, req: OrderRequest, opposite: list[OrderRequest]) -> RiskContext:
    resting = [order(attrs.evolve(r, symbol=req.symbol), status=OrderStatus.NEW) for r in opposite]
    return attrs.evolve(ctx, open_orders=resting)


class TestProperties:
    @settings(max_examples=200, deadline=None)
    @given(st.data(), risk_limits())
    def test_no_exposure_rule_rejects_an_order_that_only_reduces(self, data: st.DataObject, limits: RiskLimits) -> None:
        """Whatever the limits and however far they are breached, reducing stays allowed."""
        symbol = data.draw(symbols())
        held = data.draw(positions(symbol))
        ctx = data.draw(risk_contexts(symbol))
        ctx = attrs.evolve(ctx, positions={**ctx.positions, symbol: held})
        req = data.draw(reducing_requests(held, types=tuple(OrderType)))

        rejected = {name: rule(req, Sizing.of(req, ctx), ctx, limits) for name, rule in EXPOSURE_RULES.items()}

        assert is_reducing(req, ctx)
        assert dict.fromkeys(EXPOSURE_RULES) == rejected

    @settings(max_examples=200, deadline=None)
    @given(_rule_cases(), st.lists(order_requests(), max_size=2), risk_limits(), st.data())
    def test_every_rejection_carries_a_spec_code_and_its_checks_name(
        self,
        case: tuple[OrderRequest, RiskContext],
        opposite: list[OrderRequest],
        limits: RiskLimits,
        data: st.DataObject,
    ) -> None:
        req, ctx = case
        ctx = _with_opposite_orders(ctx, req, opposite)
        day_trades = DayTrades.from_dates((ctx.today,) * 3, trading_day=ctx.today, open_today=frozenset({req.symbol}))
        ctx = attrs.evolve(ctx, day_trades=data.draw(st.sampled_from([ctx.day_trades, day_trades])))

        for name, rule in DEFAULT_RULES:
            rejection = rule(req, Sizing.of(req, ctx), ctx, limits)

            assert rejection is None or (rejection.code in codes.RISK_CODES and rejection.check == name)

    @settings(max_examples=50, deadline=None)
    @given(_rule_cases())
    def test_the_rules_depend_on_nothing_but_their_inputs(self, case: tuple[OrderRequest, RiskContext]) -> None:
        req, ctx = case

        first = [rule(req, Sizing.of(req, ctx), ctx, LIMITS) for _, rule in DEFAULT_RULES]

        assert first == [rule(req, Sizing.of(req, ctx), ctx, LIMITS) for _, rule in DEFAULT_RULES]

    @settings(max_examples=50, deadline=None)
    @given(st.data())
    def test_shipped_reducing_requests_take_the_opposite_side_and_at_most_what_is_held(
        self, data: st.DataObject
    ) -> None:
        held = data.draw(positions(data.draw(symbols())))

        req = data.draw(reducing_requests(held))

        assert req.side is (Side.SELL if held.quantity > 0 else Side.BUY)
        assert req.quantity is not None
        assert 0 < req.quantity <= abs(held.quantity)

    def test_no_request_reduces_a_flat_position(self) -> None:
        with pytest.raises(ValueError, match="flat"):
            reducing_requests(Position.flat(AAPL))


def test_rejection_is_a_plain_value() -> None:
    assert Rejection("buyingPower", codes.INSUFFICIENT_FUNDS, "x") == Rejection(
        "buyingPower", "INSUFFICIENT_FUNDS", "x"
    )
