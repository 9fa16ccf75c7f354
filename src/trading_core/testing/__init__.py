"""Test support shipped with the library: Hypothesis strategies for property-testing your own rules.

Needs the `hypothesis` package (`pip install trading-engine[dev]`).
"""

from trading_core.testing.strategies import (
    accounts,
    assets,
    clocks,
    fills_for,
    order_requests,
    positions,
    prices,
    quantities,
    reducing_requests,
    risk_contexts,
    risk_limits,
    session_at,
    symbols,
    trade_events,
)

__all__ = [
    "accounts",
    "assets",
    "clocks",
    "fills_for",
    "order_requests",
    "positions",
    "prices",
    "quantities",
    "reducing_requests",
    "risk_contexts",
    "risk_limits",
    "session_at",
    "symbols",
    "trade_events",
]
