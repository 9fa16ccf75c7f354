"""Risk: the limits in force, the trading state and today's P&L; halting trading and ending a halt by hand."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import JSONBody

from apps.service.control_schemas import RiskHaltRequest
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

    @post(
        "/halt",
        status_code=200,
        responses=errors(413, 502),
        summary="Halt trading: only reducing orders pass",
        opt={BODY_CODE: codes.INVALID_REQUEST},
    )
    async def halt(
        self, request: Request[Any, Any, Any], engine: Engine, data: JSONBody[RiskHaltRequest | None] = None
    ) -> RiskBody:
        """Set the trading state to halted, recorded with who (`by`, else the caller) and when.

        From then on an order that adds exposure is refused with 422 `TRADING_HALTED`; orders that
        reduce a position (closes, protective exits) still pass. The halt lasts, across restarts
        and trading days, until `POST /api/v1/risk/reset`. Open orders are left as they are:
        `DELETE /api/v1/orders` cancels them.
        """
        body = data or RiskHaltRequest()
        client = request.client.host if request.client else "unknown"
        await engine.halt_trading(by=body.by or f"api@{client}", reason=body.reason or "halted by hand")
        return risk_body(await engine.risk_status(), engine.config.limits)
