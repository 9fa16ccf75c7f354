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
    account_sync_interval: timedelta = timedelta(seconds=60)
    """The longest time between two reads of the account; in between, our fills, holds and marks
    move it (see `trading_core.account_sync`)."""
    account_read_gap: timedelta = timedelta(seconds=2)
    """The shortest time between two reads of the account asked for (orders going in doubt, a
    reconnection...): those within it make one. A read that differs from ours is confirmed by a
    second read this much later (the first may have met a fill on its way) before it is taken."""
    clock_ttl: timedelta = timedelta(seconds=30)
    in_doubt_window: timedelta = timedelta(seconds=60)
    """How long an unanswered submission the broker does not show stays in doubt before the
    broker's order list may prove it absent (a gateway can deliver an order after its 504)."""
