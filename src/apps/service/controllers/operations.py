"""Operations: `/health` (the spec's shape; 503 when a dependency is down) and `/metrics` (Prometheus)."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.openapi import ResponseSpec

from apps.service.auth import PUBLIC
from apps.service.codec import ExactResponse
from apps.service.controllers.docs import Engine
from apps.service.health import health_report
from apps.service.metrics import TradingMetrics
from apps.service.schemas import HealthBody
from trading_core.errors import TradingError

PROMETHEUS_TEXT = "text/plain; version=0.0.4"
"""Prometheus' text exposition format; Litestar adds `; charset=utf-8` to every text/ type itself
(given here too, the header said `charset` twice)."""


class OperationsController(Controller):
    path = "/"
    tags = ["operations"]  # noqa: RUF012  # Litestar's declared class attribute

    @get(
        "/health",
        opt={PUBLIC: True},
        summary="Health of the service and its dependencies",
        responses={503: ResponseSpec(data_container=HealthBody, description="A dependency is down.")},
    )
    async def health(self, engine: Engine, state: State) -> Response[HealthBody]:
        body, status = await health_report(engine, state.health_checks, market_hours=state.market_hours)
        return ExactResponse(body, status_code=status)

    @get("/metrics", opt={PUBLIC: True}, media_type=PROMETHEUS_TEXT, summary="Prometheus metrics")
    async def metrics(self, engine: Engine, state: State) -> str:
        metrics: TradingMetrics = state.metrics
        await refresh_gauges(metrics, engine)
        return metrics.registry.render()


async def refresh_gauges(metrics: TradingMetrics, engine: Engine) -> None:
    """The gauges are read at scrape time; a broker that does not answer leaves them as they were."""
    metrics.positions_count.set(len(engine.book.positions))
    try:
        portfolio = await engine.list_positions()
        risk = await engine.risk_status()
    except TradingError:  # /metrics must answer even while the broker is down
        return
    metrics.buying_power.set(portfolio.buying_power)
    metrics.daily_pnl.set(risk.daily_pnl)
