"""Risk: the limits in force, the trading state and today's P&L; ending a reducing-only state by hand."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import JSONBody

from apps.service.controllers.docs import Engine, errors
from apps.service.convert import risk_body
from apps.service.errors import BODY_CODE
from apps.service.schemas import RiskBody, RiskResetRequest
from trading_core import codes


class RiskController(Controller):
    path = "/api/v1/risk"
    tags = ["risk"]  # noqa: RUF012  # Litestar's declared class attribute

    @get("/", responses=errors(502), summary="Limits, trading state and today's P&L")
    async def status(self, engine: Engine) -> RiskBody:
        return risk_body(await engine.risk_status(), engine.config.limits)

    @post(
        "/reset",
        status_code=200,
        responses=errors(409, 413, 502),
        summary="End a reducing-only state",
        opt={BODY_CODE: codes.INVALID_REQUEST},
    )
    async def reset(
        self, request: Request[Any, Any, Any], engine: Engine, data: JSONBody[RiskResetRequest | None] = None
    ) -> RiskBody:
        """Set the trading state back to active, recorded with who (`by`, else the caller) and when.

        Refused with 409 `DAILY_LOSS_LIMIT_STANDS` while today's loss is still over the daily-loss
        limit (the message and `details` say the loss and the limit), since the next order adding
        exposure would be refused and turn trading reducing-only again. Once the loss is back under
        the limit, the reset takes effect and lasts until a new breach.
        """
        body = data or RiskResetRequest()
        client = request.client.host if request.client else "unknown"
        by = body.by or f"api@{client}"
        await engine.reset_trading_state(by=by, reason=body.reason or "manual reset")
        return risk_body(await engine.risk_status(), engine.config.limits)
