"""The engine as the `CommandHandler` of commands from other services (decisions, sessions, shutdown)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any, Final

import attrs

from trading_core.clock import Clock, SystemClock
from trading_core.decisions import Decision
from trading_core.engine import TradingEngine

log = logging.getLogger("apps.commands")

_DECISION_NAMESPACE: Final = uuid.UUID("3b8f6f1e-2a0c-4c41-9d55-6a4f0d3e7c21")


def client_order_id_for(decision_id: str) -> str:
    """The same decision always gets the same client order id, so a redelivery places no second order."""
    return str(uuid.uuid5(_DECISION_NAMESPACE, decision_id))


class EngineCommands:
    """Turns each command into an engine call; `InvalidOrder` tells the consumer not to redeliver."""

    def __init__(self, engine: TradingEngine, clock: Clock | None = None) -> None:
        self._engine = engine
        self._clock = clock or SystemClock()

    async def handle_decision(self, decision: Decision) -> None:
        if not decision.approved:
            log.info("decision %s was not approved; nothing to execute", decision.decision_id)
            return
        if decision.is_expired(self._clock.now()):
            log.warning("decision %s expired at %s; not executed", decision.decision_id, decision.expires_at)
            return
        if decision.client_order_id is None:
            decision = attrs.evolve(decision, client_order_id=client_order_id_for(decision.decision_id))
        result = await self._engine.submit(decision.to_request())
        order = result.order
        log.info("decision %s -> order %s %s", decision.decision_id, order.id, result.status)

    async def session_opened(self) -> None:
        released = await self._engine.session_opened()
        log.info("market session opened; %d queued orders sent", released)

    async def session_closed(self) -> None:
        await self._engine.session_closed()
        log.info("market session closed")

    async def shutdown(self) -> None:
        cancelled = await self._engine.shutdown()
        log.warning("system.shutdown: %d open orders cancelled", cancelled)

    async def decision_malformed(self, reason: str, raw: Mapping[str, Any] | None) -> None:
        decision_id = raw.get("decisionId") if raw else None
        log.warning("malformed decision %s dropped: %s", decision_id, reason)
