"""Trade decisions from the AI service, and the commands port the engine implements to receive them.

A `Decision` is what arrived, not yet trusted: its order fields stay as sent so that a decision
that was not approved can be recorded whatever it holds. `to_request()` validates an approved one
into an `OrderRequest`, raising `InvalidOrder` naming the field at fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import attrs

from trading_core.order_classes import StopLoss, TakeProfit
from trading_core.requests import OrderRequest

__all__ = ["CommandHandler", "Decision"]


@attrs.frozen(kw_only=True)
class Decision:
    """One `ai.decision.generated` message: an order the AI proposes, approved or not.

    `decision_id` identifies the decision across redeliveries: handling the same id twice must
    never place a second order.
    """

    decision_id: str
    approved: bool
    strategy_id: str | None = None
    symbol: str | None = None
    side: str | None = None
    type: str = "market"
    time_in_force: str = "day"
    quantity: Decimal | None = None
    notional: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    order_class: str | None = None
    """None with exits: a bracket when both are given, an OTO when one is (`to_request`)."""
    take_profit: TakeProfit | None = None
    stop_loss: StopLoss | None = None
    extended_hours: bool = False
    client_order_id: str | None = None
    confidence: Decimal | None = None
    """How sure the AI was, from 0 to 1."""
    reasoning: str | None = None
    created_at: datetime | None = None
    """When the AI made the decision."""
    expires_at: datetime | None = None
    """After this moment the decision is stale and should not be executed."""

    def is_expired(self, now: datetime) -> bool:
        """Whether the decision's `expires_at` has passed at `now`."""
        return self.expires_at is not None and now >= self.expires_at

    def to_request(self) -> OrderRequest:
        """The validated order this decision asks for; raise `InvalidOrder` when it is not one."""
        return OrderRequest.create(
            symbol=self.symbol,  # type: ignore[arg-type]  # None is refused by Symbol with InvalidOrder
            side=self.side,  # type: ignore[arg-type]  # likewise
            type=self.type,
            quantity=self.quantity,
            notional=self.notional,
            time_in_force=self.time_in_force,
            limit_price=self.limit_price,
            stop_price=self.stop_price,
            trail_price=self.trail_price,
            trail_percent=self.trail_percent,
            extended_hours=self.extended_hours,
            client_order_id=self.client_order_id,
            strategy_id=self.strategy_id,
            decision_id=self.decision_id,
            order_class=self._order_class(),
            take_profit=self.take_profit,
            stop_loss=self.stop_loss,
        )

    def _order_class(self) -> str:
        """The class asked for, or the one its exits make: both a bracket, one an OTO, none simple."""
        if self.order_class is not None:
            return self.order_class
        exits = (self.take_profit is not None) + (self.stop_loss is not None)
        return ("simple", "oto", "bracket")[exits]


class CommandHandler(Protocol):
    """What the engine does when another service tells it something (the inbound port).

    Adapters (the NATS consumer) call these one message at a time and acknowledge the message
    only when the call returns. A method that raises `InvalidOrder` marks the message as invalid:
    it is not delivered again, and for a decision `decision_malformed` is called. Any other
    exception is taken as transient: the message is delivered again later.
    """

    async def handle_decision(self, decision: Decision) -> None:
        """Execute an approved decision (validate, risk-check, submit) or record one not approved.

        The same `decision_id` may arrive more than once (redelivery, a publisher's retry):
        it must place at most one order.
        """

    async def session_opened(self) -> None:
        """The market opened: enable order submission and release queued orders."""

    async def session_closed(self) -> None:
        """The market closed: stop accepting market orders."""

    async def shutdown(self) -> None:
        """The system is shutting down: cancel pending orders."""

    async def decision_malformed(self, reason: str, raw: Mapping[str, Any] | None) -> None:
        """A decision arrived that could not be read or validated: announce its rejection.

        `raw` is the decoded JSON object when there was one (it may hold a `decisionId`),
        None when the message was not JSON at all.
        """
