"""Applying what the broker reports: trade updates in arrival order, and an order's broker copy.

The stream's updates, a poll's findings and the adoption of an order in doubt all end here, as
trade updates applied by the ledger, keyed by execution id and cumulative quantity so nothing is
counted twice. What an order's end releases (a split's opening half) follows at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Final

import attrs

from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.engine.dispatch import Dispatch
from trading_core.engine.parts import EngineParts
from trading_core.fills import made_up_coverage
from trading_core.orders import Order, TradeEvent
from trading_core.ports import RecoversFills
from trading_core.reconcile import updates_between
from trading_core.values import OrderId

log = logging.getLogger("trading_core.engine")

AVERAGED_AFTER: Final = timedelta(seconds=30)
"""How long the order poll waits for a broker's own executions (`RecoversFills`) of fills it has not
applied before it makes them up as one fill priced to the broker's average."""


class BrokerUpdates:
    """Applies trade updates and broker copies of orders, then what they release.

    Args:
        parts: the engine's shared parts.
        dispatch: releases what an order's end releases.
    """

    def __init__(self, parts: EngineParts, dispatch: Dispatch) -> None:
        self._parts = parts
        self._dispatch = dispatch

    async def process(self) -> int:
        """Apply every trade update that has arrived; returns how many there were."""
        updates = self._parts.broker.drain_updates()
        await self.apply_in_order(updates)
        return len(updates)

    async def run(self) -> None:
        """Apply trade updates as they arrive, until cancelled; one failure never stops the stream."""
        while True:
            updates = await self._parts.broker.next_updates()
            try:
                await self.apply_in_order(updates)
            except Exception:  # the next batch must still be applied; reconciliation repairs this one
                log.exception("applying %d trade updates failed; reconciliation will repair them", len(updates))

    async def apply_in_order(self, updates: Sequence[TradeUpdate]) -> None:
        """Apply updates in arrival order, each run of one order's updates in one transaction."""
        ledger = self._parts.ledger
        start = 0
        while start < len(updates):
            broker_id = updates[start].order.broker_order_id
            end = start + 1
            while end < len(updates) and updates[end].order.broker_order_id == broker_id:
                end += 1
            order_id = await ledger.order_id_for(updates[start].order)
            if order_id is None:
                log.warning("trade updates for an order we did not place: %s", broker_id)
            else:
                run = updates[start:end]
                order = await ledger.apply_updates(order_id, run[0].order.symbol, run)
                if order is not None:
                    await self._dispatch.release_follow_ups(order)
                if any(u.event is TradeEvent.ORDER_REPLACE_REJECTED for u in run):
                    await self._drop_refused_replacement(order_id)
            start = end

    async def _drop_refused_replacement(self, order_id: OrderId) -> None:
        """After `order_replace_rejected`: the replacement was never created at the broker.

        Alpaca answers a replace at once and may refuse it later (the old order filled first, or
        could not be replaced): closed here, it is no phantom for the risk checks to count, and
        what waited for it waits for the old order again.
        """
        old = await self._parts.store.get_order(order_id)
        new = self._parts.book.open_orders.get(old.replaced_by) if old is not None and old.replaced_by else None
        if old is None or new is None or new.filled_quantity:
            return
        await self._dispatch.hand_over(new, old)
        await self._dispatch.cancel_locally(new, f"the broker refused to replace {old.id} (order_replace_rejected)")
        await self._dispatch.release_follow_ups(old)

    async def apply_broker_updates(self, order: Order, updates: Sequence[TradeUpdate], remote: BrokerOrder) -> Order:
        """Apply updates of one order read from the broker (`remote`, its copy), with its acceptance
        if ours lacks it; then what that releases. Returns the order as it now stands."""
        accepted = remote if order.broker_order_id is None else None
        changed = await self._parts.ledger.apply_updates(order.id, order.symbol, updates, accepted=accepted)
        if accepted is not None and order.legs and accepted.legs:  # a parent taken up from the broker's copy
            await self._dispatch.record_legs(order, accepted)
        current = changed or await self._parts.current(order)
        await self._dispatch.release_follow_ups(current)
        return current

    async def take_broker_copy(self, order: Order, remote: BrokerOrder) -> Order:
        """Bring an order to the state of the broker's copy of it; returns the order as it now stands."""
        await self.catch_up(order, remote)
        return await self._parts.current(order)

    async def catch_up(self, order: Order, remote: BrokerOrder) -> int:
        """Take `order` to the broker's copy of it, `remote`; returns how many updates that took.

        The broker's acceptance is recorded if ours lacks it. Fills ours lacks are the broker's own
        executions, each under its own id, when the broker can tell them (`RecoversFills`); they are
        made up as one fill priced to the broker's average only when it cannot, or has not for
        `AVERAGED_AFTER` (they may only be on their way, in the stream's inbox). Until then the
        status waits too: a filled order's status comes from its fills.
        """
        lacking = await self._lacking_executions(order, remote)
        if lacking or order.broker_order_id is None:
            order = await self.apply_broker_updates(order, lacking, remote)
        if order.is_terminal:
            return len(lacking)
        if remote.filled_quantity > order.filled_quantity and not self._may_make_up(remote):
            return len(lacking)
        updates = updates_between(order, remote)
        if updates:
            order = await self.apply_broker_updates(order, updates, remote)
        await self._note_mark(order, remote)
        return len(lacking) + len(updates)

    async def _note_mark(self, order: Order, remote: BrokerOrder) -> None:
        """Keep an open trailing stop's high-water mark as the broker last reported it.

        The mark moves with the price and no trade update tells of it (Alpaca sends none), so
        the order poll, which reads the broker's open orders anyway, refreshes it: a read then
        shows the mark, and the stop derived from it, as of the last poll. It is no correction.
        """
        mark = remote.hwm
        if mark is None or mark == order.hwm or order.is_terminal:
            return
        await self._parts.ledger.change(order, lambda o, _now: (o if o.is_terminal else attrs.evolve(o, hwm=mark), []))

    async def _lacking_executions(self, order: Order, remote: BrokerOrder) -> list[TradeUpdate]:
        """The broker's own executions of `remote` that `order` has not applied, oldest first."""
        broker = self._parts.broker
        if remote.filled_quantity <= order.filled_quantity or not isinstance(broker, RecoversFills):
            return []
        counted = made_up_coverage(order.execution_ids)  # what made-up fills stand for already
        return [
            update
            for update in await broker.recover_fills(remote) or ()
            if update.execution_id not in order.execution_ids and update.order.filled_quantity > counted
        ]

    def _may_make_up(self, remote: BrokerOrder) -> bool:
        """Whether fills the broker shows and we lack may be made up as one averaged fill now."""
        broker, now = self._parts.broker, self._parts.clock.now()
        return not isinstance(broker, RecoversFills) or now - remote.updated_at >= AVERAGED_AFTER
