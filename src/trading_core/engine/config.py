"""How the engine behaves: its configuration."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

import attrs

from trading_core.risk import RiskLimits


class MarketClosedPolicy(StrEnum):
    """What a market order does while the market is closed."""

    REJECT = "reject"
    QUEUE = "queue"


@attrs.frozen(kw_only=True)
class EngineConfig:
    """How the engine behaves; the risk limits live here too."""

    limits: RiskLimits = RiskLimits()
    market_closed_policy: MarketClosedPolicy = MarketClosedPolicy.REJECT
    account_ttl: timedelta = timedelta(seconds=5)
    """How long a fetched account is trusted when nothing has filled since."""
    clock_ttl: timedelta = timedelta(seconds=30)
    in_doubt_window: timedelta = timedelta(seconds=60)
    """How long an unanswered submission the broker does not show stays in doubt before the
    broker's order list may prove it absent (a gateway can deliver an order after its 504)."""
