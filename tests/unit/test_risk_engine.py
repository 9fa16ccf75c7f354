"""The risk engine: every check reported, approval only when none rejects."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading_core import codes
from trading_core.enums import OrderType
from trading_core.positions import Position
from trading_core.requests import OrderRequest
from trading_core.risk import (
    DEFAULT_RULES,
    PreTradeValidation,
    Rejection,
    RiskContext,
    RiskEngine,
    RiskLimits,
    Sizing,
    is_reducing,
)
from trading_core.testing import order_requests, risk_contexts, risk_limits, symbols

from .builders import AAPL, account, context, eastern, position, request

SPEC_CHECKS = [
    "buyingPower",
    "positionLimit",
    "dailyLossLimit",
    "marketSession",
    "symbolTradable",
    "washTrade",
    "patternDayTrader",
]
"""The spec's PreTradeValidation checks, in its order."""


def cases() -> st.SearchStrategy[tuple[OrderRequest, RiskContext]]:
    return symbols().flatmap(
        lambda s: st.tuples(order_requests(symbol=st.just(s), types=tuple(OrderType)), risk_contexts(s))
    )


class TestRiskEngine:
    def test_the_limits_default_to_the_spec(self) -> None:
        limits = RiskEngine().limits

        assert (Decimal(10), Decimal(30), Decimal(3), 20, True) == (
            limits.max_position_size_percent,
            limits.max_sector_exposure_percent,
            limits.max_daily_loss_percent,
            limits.max_open_positions,
            limits.enable_wash_trade_protection,
        )

    def test_reports_the_specs_checks_in_order_then_the_sizing_rules(self) -> None:
        names = [name for name, _ in DEFAULT_RULES]

        assert [*SPEC_CHECKS, "sectorExposure", "maxOpenPositions"] == names

    def test_an_order_within_every_limit_is_approved(self) -> None:
        validation = RiskEngine().validate(request(), context())

        assert (validation.approved, validation.rejection_code, validation.rejection_reason) == (True, None, None)
        assert all(validation.checks.values())

    def test_reports_every_failure_not_just_the_first(self) -> None:
        """A market order for too much, after hours, on a day already down 5 %."""
        ctx = context(acct=account("95000", last_equity="100000", buying_power="1000"), at=eastern(21))

        validation = RiskEngine().validate(request(quantity="100"), ctx)

        assert [r.code for r in validation.rejections] == [
            codes.INSUFFICIENT_FUNDS,
            codes.POSITION_LIMIT,
            codes.DAILY_LOSS_LIMIT,
            codes.MARKET_CLOSED,
        ]
        assert {k: v for k, v in validation.checks.items() if not v} == {
            "buyingPower": False,
            "positionLimit": False,
            "dailyLossLimit": False,
            "marketSession": False,
        }
        assert (validation.approved, validation.rejection_code) == (False, codes.INSUFFICIENT_FUNDS)

    def test_the_limits_reach_the_rules(self) -> None:
        engine = RiskEngine(limits=RiskLimits(max_position_size_percent=Decimal(1)))

        validation = engine.validate(request(quantity="11"), context())

        assert validation.rejection_code == codes.POSITION_LIMIT

    def test_rules_can_be_added(self) -> None:
        def no_aapl(req: OrderRequest, ctx: RiskContext, limits: RiskLimits) -> Rejection | None:
            return Rejection("noAapl", codes.SYMBOL_NOT_TRADABLE, "not today") if req.symbol == "AAPL" else None

        engine = RiskEngine().with_rules([("noAapl", no_aapl)])

        validation = engine.validate(request(), context())

        assert (validation.checks["noAapl"], validation.rejection_reason) == (False, "not today")
        assert len(RiskEngine().rules) + 1 == len(engine.rules)

    def test_the_order_is_sized_once_and_every_rule_that_asks_is_given_that_sizing(self) -> None:
        given: list[Sizing] = []

        def seen(req: OrderRequest, sized: Sizing, ctx: RiskContext, limits: RiskLimits) -> Rejection | None:
            given.append(sized)
            return None

        engine = RiskEngine().with_sized_rules([("first", seen), ("second", seen)])
        req, ctx = request(side="sell", quantity="4"), context(positions=[position(AAPL, 10, 100)])

        validation = engine.validate(req, ctx)

        assert validation.approved
        assert [Sizing.of(req, ctx)] * 2 == given
        assert given[0] is given[1]
        assert (given[0].reducing, given[0].opening) == (True, Decimal(0))

    def test_a_users_rule_of_three_arguments_sees_what_the_sizing_says(self) -> None:
        """The README's rule shape: (request, context, limits), asking `is_reducing` itself."""

        def only_reductions(req: OrderRequest, ctx: RiskContext, limits: RiskLimits) -> Rejection | None:
            return None if is_reducing(req, ctx) else Rejection("onlyReductions", codes.RISK_REJECTED, "opens")

        engine = RiskEngine().with_rules([("onlyReductions", only_reductions)])
        ctx = context(positions=[position(AAPL, 10, 100)])

        assert engine.validate(request(side="sell", quantity="4"), ctx).approved
        assert engine.validate(request(side="buy", quantity="4"), ctx).rejection_code == codes.RISK_REJECTED

    def test_an_order_that_cannot_be_sized_fails_every_check(self) -> None:
        """Every rule reads the sizing: without one, each check fails closed rather than passing."""
        broken = Position(symbol=AAPL, quantity=None, cost_basis=Decimal(0))  # type: ignore[arg-type]

        validation = RiskEngine().validate(request(), context(positions=[broken]))

        assert [name for name, _ in DEFAULT_RULES] == [r.check for r in validation.rejections]
        assert not any(validation.checks.values())
        assert {codes.RISK_REJECTED} == {r.code for r in validation.rejections}

    def test_a_sized_rule_may_not_take_a_name_already_taken(self) -> None:
        def anything(req: OrderRequest, sized: Sizing, ctx: RiskContext, limits: RiskLimits) -> Rejection | None:
            return None

        with pytest.raises(ValueError, match="buyingPower"):
            RiskEngine().with_sized_rules([("buyingPower", anything)])

    def test_a_validation_without_rejections_is_approved(self) -> None:
        assert PreTradeValidation({"buyingPower": True}).approved

    @settings(max_examples=150, deadline=None)
    @given(cases(), risk_limits())
    def test_every_check_is_reported_and_approval_means_no_rejection(
        self, case: tuple[OrderRequest, RiskContext], limits: RiskLimits
    ) -> None:
        req, ctx = case

        validation = RiskEngine(limits=limits).validate(req, ctx)

        assert [name for name, _ in DEFAULT_RULES] == list(validation.checks)
        assert validation.approved == (validation.rejections == ()) == all(validation.checks.values())
        assert [name for name, ok in validation.checks.items() if not ok] == [r.check for r in validation.rejections]
        assert {r.code for r in validation.rejections} <= codes.RISK_CODES
        if validation.rejections:
            first = validation.rejections[0]
            assert (first.code, first.reason) == (validation.rejection_code, validation.rejection_reason)
