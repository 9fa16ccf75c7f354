"""The risk engine: runs every rule and reports every check, not just the first failure."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import attrs

from trading_core import codes
from trading_core.requests import OrderRequest
from trading_core.risk import rules
from trading_core.risk.context import RiskContext
from trading_core.risk.limits import RiskLimits
from trading_core.risk.rules import Rejection, Rule, SizedRule
from trading_core.risk.sizing import Sizing

log = logging.getLogger("trading_core.risk")

DEFAULT_RULES: tuple[tuple[str, SizedRule], ...] = (
    ("buyingPower", rules.buying_power),
    ("positionLimit", rules.position_limit),
    ("dailyLossLimit", rules.daily_loss_limit),
    ("marketSession", rules.market_session),
    ("symbolTradable", rules.symbol_tradable),
    ("washTrade", rules.wash_trade),
    ("patternDayTrader", rules.pattern_day_trader),
    ("sectorExposure", rules.sector_exposure),
    ("maxOpenPositions", rules.max_open_positions),
)
"""The spec's seven checks, in its order, then its two sizing rules."""


@attrs.frozen
class PreTradeValidation:
    """The spec's result shape: each check passed or not, approval, the first rejection."""

    checks: Mapping[str, bool]
    rejections: tuple[Rejection, ...] = ()

    @property
    def approved(self) -> bool:
        """Every check passed."""
        return not self.rejections

    @property
    def rejection_code(self) -> str | None:
        """The first failed check's code; None when approved."""
        return self.rejections[0].code if self.rejections else None

    @property
    def rejection_reason(self) -> str | None:
        """Why the first failed check refused; None when approved."""
        return self.rejections[0].reason if self.rejections else None


@attrs.frozen
class RiskEngine:
    """Runs the rules over a request and reports every check, not just the first failure.

    The engine's own rules come first (`DEFAULT_RULES`); add yours with `with_rules` (rules of
    `(request, context, limits)`, as the README shows) or `with_sized_rules` (rules that also take
    the order's `Sizing`, which `validate` works out once per order for all of them).
    """

    limits: RiskLimits = RiskLimits()
    rules: tuple[tuple[str, SizedRule], ...] = DEFAULT_RULES

    def with_rules(self, extra: Iterable[tuple[str, Rule]]) -> RiskEngine:
        """These rules run too, after the others; each needs a name of its own (the check's key).

        Raises:
            ValueError: A name is given twice, or is one of the rules' already.
        """
        return self.with_sized_rules((name, _Unsized(rule)) for name, rule in extra)

    def with_sized_rules(self, extra: Iterable[tuple[str, SizedRule]]) -> RiskEngine:
        """As `with_rules`, for rules that take the order's sizing too: `(request, sizing, context, limits)`.

        Raises:
            ValueError: A name is given twice, or is one of the rules' already.
        """
        rules = (*self.rules, *extra)
        names = [name for name, _ in rules]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"each rule needs a name of its own: {', '.join(repeated)} given twice")
        return attrs.evolve(self, rules=rules)

    def validate(self, request: OrderRequest, context: RiskContext) -> PreTradeValidation:
        """Size the order once, then run every rule over it; a rule that raises refuses the order."""
        try:
            sized = Sizing.of(request, context)
        except Exception as e:  # every rule reads it: each check fails closed
            log.exception("the order in %s could not be sized", request.symbol)
            failed = tuple(
                Rejection(name, codes.RISK_REJECTED, f"the {name} check failed: {e!r}") for name, _ in self.rules
            )
            return PreTradeValidation({name: False for name, _ in self.rules}, failed)
        checks: dict[str, bool] = {}
        rejections: list[Rejection] = []
        limits = self.limits
        for name, rule in self.rules:
            try:
                rejection = rule(request, sized, context, limits)
            except Exception as e:  # a rule that fails refuses: a risk check fails closed
                log.exception("risk rule %s failed on %s", name, request.symbol)
                rejection = Rejection(name, codes.RISK_REJECTED, f"the {name} check failed: {e!r}")
            if rejection is not None and type(rejection) is not Rejection:
                rejection = Rejection(name, codes.RISK_REJECTED, f"the {name} check returned {rejection!r}")
            checks[name] = rejection is None
            if rejection is not None:
                rejections.append(rejection)
        return PreTradeValidation(checks, tuple(rejections))


@attrs.frozen
class _Unsized:
    """A rule of `(request, context, limits)` run where rules take the sizing too."""

    rule: Rule

    def __call__(
        self, request: OrderRequest, sized: Sizing, context: RiskContext, limits: RiskLimits
    ) -> Rejection | None:
        return self.rule(request, context, limits)
