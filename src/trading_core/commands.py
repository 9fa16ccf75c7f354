"""The engine's side of the inbound commands: decisions, session signals and shutdown.

Implements `decisions.CommandHandler`. A decision places at most one order however often it is
delivered: its order's client order id is derived from the decision id, and a repeated client
order id returns the first order instead of placing a second.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from trading_core import codes
from trading_core.decisions import Decision
from trading_core.engine import TradingEngine
from trading_core.enums import OrderStatus, OrderType, Side, TimeInForce
from trading_core.errors import DuplicateClientOrderId, InvalidOrder, TradingError
from trading_core.requests import OrderRequest
from trading_core.values import ZERO, ClientOrderId, Symbol, canonical_uuid, quantity

log = logging.getLogger("trading_core.commands")

DECISION_EXPIRED = "DECISION_EXPIRED"


def decision_client_order_id(decision_id: str) -> ClientOrderId:
    """The client order id of a decision's order: the same decision always maps to the same id."""
    return ClientOrderId(f"dec-{decision_id}")


class EngineCommands:
    """Routes commands from other services to the engine."""

    def __init__(self, engine: TradingEngine) -> None:
        self._engine = engine

    async def handle_decision(self, decision: Decision) -> None:
        """Submit the order an approved decision asks for; an expired one is kept as a rejection.

        Raises:
            InvalidOrder: The decision's order is malformed, or its client order id names another
                order: no delivery of it would ever succeed.
        """
        extra = {"decision_id": decision.decision_id, "strategy_id": decision.strategy_id}
        if not decision.approved:
            log.info("decision %s was not approved: recorded, not executed", decision.decision_id, extra=extra)
            return
        request = decision.to_request()  # InvalidOrder: the consumer terminates the message
        if decision.client_order_id is None:
            request = _with_client_id(request, decision_client_order_id(decision.decision_id))
        if decision.is_expired(self._engine.now()):
            await self._engine.record_rejection(
                request, code=DECISION_EXPIRED, reason="the decision expired before it arrived"
            )
            return
        try:
            result = await self._engine.submit(request)
        except DuplicateClientOrderId as e:  # not a passing failure: no delivery would ever succeed
            raise InvalidOrder(e.message, field="clientOrderId", details=e.details) from e
        log.info(
            "decision %s: order %s %s",
            decision.decision_id,
            result.order.id,
            result.status,
            extra={**extra, "order_id": result.order.id},
        )

    async def decision_malformed(self, reason: str, raw: Mapping[str, Any] | None) -> None:
        """Keep a rejected order for the audit trail when the decision names one; else log it."""
        request = _lenient_request(raw)
        if request is None:
            log.error("malformed decision could not be read as an order: %s", reason, extra={"raw": raw})
            return
        given = request.client_order_id
        taken = None if given is None else await self._engine.store.get_order_by_client_id(given)
        if taken is not None and taken.status is not OrderStatus.REJECTED:
            # Its client order id names an order placed before (the decision repeated with other
            # contents, or an id already used): the refusal is kept under an id of its own.
            request = attrs.evolve(request, client_order_id=None)
        await self._engine.record_rejection(request, code=codes.INVALID_ORDER, reason=reason)

    async def session_opened(self) -> None:
        """The market opened: orders queued while it was closed go out."""
        await self._engine.session_opened()

    async def session_closed(self) -> None:
        """The market closed: market orders are refused (or queued) until it opens."""
        await self._engine.session_closed()

    async def shutdown(self) -> None:
        """Cancel every open order (`system.shutdown`)."""
        await self._engine.shutdown()


def _with_client_id(request: OrderRequest, client_order_id: ClientOrderId) -> OrderRequest:
    return attrs.evolve(request, client_order_id=client_order_id)


def _lenient_request(raw: Mapping[str, Any] | None) -> OrderRequest | None:
    """The order a malformed decision asked for, as far as it can be read, without validation."""
    if raw is None:
        return None
    try:
        decision_id = canonical_uuid(raw["decisionId"])
        if decision_id is None:
            return None
        return OrderRequest(
            symbol=Symbol(str(raw["symbol"])),
            side=Side(raw["side"]),
            type=OrderType(raw.get("type") or "market"),
            quantity=_readable_quantity(raw.get("quantity") or raw.get("notional")),
            time_in_force=TimeInForce(raw.get("timeInForce") or "day"),
            client_order_id=decision_client_order_id(decision_id),
            decision_id=decision_id,
        )
    except (KeyError, ValueError, TypeError, TradingError, ArithmeticError):
        return None


def _readable_quantity(value: Any) -> Decimal:
    """The quantity asked for, or zero when it is not one (the rejection's reason says why)."""
    try:
        return quantity(str(value))
    except (TradingError, ValueError, ArithmeticError):
        return ZERO


__all__ = ["DECISION_EXPIRED", "EngineCommands", "decision_client_order_id"]
