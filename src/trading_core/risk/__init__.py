"""Pre-trade risk: limits, the context rules read, the rules, and the engine that runs them."""

from trading_core.risk.context import RiskContext, is_reducing, opening_quantity, reference_price
from trading_core.risk.engine import DEFAULT_RULES, PreTradeValidation, RiskEngine
from trading_core.risk.limits import RiskLimits
from trading_core.risk.rules import Rejection, Rule

__all__ = [
    "DEFAULT_RULES",
    "PreTradeValidation",
    "Rejection",
    "RiskContext",
    "RiskEngine",
    "RiskLimits",
    "Rule",
    "is_reducing",
    "opening_quantity",
    "reference_price",
]
