"""Pre-trade risk: limits, the context rules read, the order's sizing, the rules, and the engine."""

from trading_core.risk.context import RiskContext
from trading_core.risk.engine import DEFAULT_RULES, PreTradeValidation, RiskEngine
from trading_core.risk.limits import RiskLimits
from trading_core.risk.rules import Rejection, Rule, SizedRule
from trading_core.risk.sizing import Sizing, is_reducing, opening_quantity, reference_price

__all__ = [
    "DEFAULT_RULES",
    "PreTradeValidation",
    "Rejection",
    "RiskContext",
    "RiskEngine",
    "RiskLimits",
    "Rule",
    "SizedRule",
    "Sizing",
    "is_reducing",
    "opening_quantity",
    "reference_price",
]
