"""The engine's exits for what an entry filled before it ended in part: made, checked and sent.

The rule is `trading_core.remainder`'s. The exits are made in the ledger's transaction that
records the entry's end (`exits_for`, the ledger's `protect`), so they are stored once, and then
sent as a split order's opening half is: once, by whoever releases what the entry's end releases
(`Dispatch.release_follow_ups`), else by the order poll after a restart in between
(`Dispatch.release_orphans`). They pass the pre-trade checks first, measured without themselves.

Should the checks or the broker refuse them, the filled part is held unprotected: that is logged
as an error with the reason, and the refusal is announced as any is (`trade.order.rejected`, the
order naming its entry as `parentOrderId`; the service counts it in
`trading_protection_refused_total`).
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

import attrs

from trading_core.engine.checks import PreTradeChecks
from trading_core.engine.dispatch import Dispatch
from trading_core.engine.parts import EngineParts
from trading_core.engine.submission import build_group
from trading_core.enums import EngineProtection, OrderStatus
from trading_core.errors import BrokerError, InvalidOrder
from trading_core.orders import Order
from trading_core.ports import UnitOfWork
from trading_core.remainder import exits_request
from trading_core.requests import OrderRequest

log = logging.getLogger("trading_core.engine")


class Protection:
    """Makes, checks and sends the engine's exits for what an entry left unprotected.

    Args:
        parts: the engine's shared parts.
        checks: the pre-trade checks.
        dispatch: sends what passed, records what was refused.
    """

    def __init__(self, parts: EngineParts, checks: PreTradeChecks, dispatch: Dispatch) -> None:
        self._parts = parts
        self._checks = checks
        self._dispatch = dispatch

    async def exits_for(self, uow: UnitOfWork, entry: Order, quantity: Decimal, now: datetime) -> list[Order]:
        """The exits for `quantity` of `entry` at its legs' prices, read in `uow`: the order (and an
        OCO's leg) to store with the change that ended the entry. None when it had no leg to price
        them from, which is logged: the quantity is left unprotected."""
        legs = [leg for leg_id in entry.legs if (leg := await uow.get_order(leg_id)) is not None]
        try:
            request = exits_request(entry, legs, quantity)
        except InvalidOrder as e:
            request = None
            log.error("the exits for %s of entry %s cannot be made: %s", quantity, entry.id, e)
        if request is None:
            log.error(
                "%s %s filled by entry %s is left unprotected: no exits to make", quantity, entry.symbol, entry.id
            )
            return []
        order, legs_made = build_group(request, now)
        marked = attrs.evolve(order, parent_id=entry.id, engine_protection=EngineProtection.FILLED_PART)
        return [marked, *legs_made]

    async def send(self, order: Order) -> Order:
        """Check and send the stored exits `order`; returns it as it then stands.

        A check that cannot read the broker leaves it waiting: the order poll sends it later.
        """
        try:
            validation = await self._checks.validate_stored(OrderRequest.from_order(order), {order.id, *order.legs})
        except BrokerError as e:
            log.warning(
                "the exits %s wait for the next order poll: the checks could not read the broker (%s)", order.id, e
            )
            return order
        if validation.approved:
            sent = await self._dispatch.send(order)
        else:
            code = validation.rejection_code or "INVALID_ORDER"
            sent = await self._dispatch.refuse(order, code, validation.rejection_reason or "")
        if sent.status is OrderStatus.REJECTED:
            log.error(
                "%s %s filled by entry %s is left unprotected: its exits %s were refused (%s: %s)",
                sent.quantity,
                sent.symbol,
                sent.parent_id,
                sent.id,
                sent.rejection_code,
                sent.rejection_reason,
                extra={"order_id": str(sent.id), "entry_order_id": str(sent.parent_id), "code": sent.rejection_code},
            )
        return sent
