"""The spec's health answer: each dependency's state, the last order time, open positions and pending orders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from apps.redact import mask
from apps.service.schema_fields import MarketHoursName
from apps.service.schemas import HealthBody, HealthChecks
from trading_core.engine import TradingEngine

CONNECTED: Final = "connected"
CHECK_TIMEOUT_SECONDS: Final = 2.0

HealthCheck = Callable[[], Awaitable[str]]
"""Answers "connected", or a short reason the dependency is not (never a secret)."""


async def _run(check: HealthCheck) -> str:
    try:
        return mask(await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS))  # a reason may quote a URL
    except TimeoutError:
        return f"timeout after {CHECK_TIMEOUT_SECONDS:g}s"
    except Exception as e:  # a failing check is the answer, not an error of /health
        return f"disconnected: {type(e).__name__}"


async def health_report(
    engine: TradingEngine, checks: Mapping[str, HealthCheck], *, market_hours: MarketHoursName = "broker"
) -> tuple[HealthBody, int]:
    """The body and its HTTP status: 200 when every dependency is connected, else 503.

    `market_hours` says what opens and closes the market: the paper exchange's calendar (XNYS),
    its always-open mode (demos and tests), or the broker's own clock.
    """
    names = ("database", "alpaca", "eventBus", "websocket")
    results = dict(zip(names, await asyncio.gather(*(_run(checks[n]) for n in names)), strict=True))
    healthy = all(v == CONNECTED for v in results.values())
    last = engine.last_order_at
    if last is None:
        try:
            last = await engine.store.last_order_at()
        except Exception:  # the database check above already says what is wrong
            last = None
    body = HealthBody(
        status="healthy" if healthy else "unhealthy",
        checks=HealthChecks(
            database=results["database"],
            alpaca=results["alpaca"],
            event_bus=results["eventBus"],
            websocket=results["websocket"],
        ),
        last_order_at=last,
        open_positions=len(engine.book.positions),
        pending_orders=len(engine.book.open_orders),
        market_hours=market_hours,
    )
    return body, 200 if healthy else 503
