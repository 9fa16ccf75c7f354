"""Sending orders to the broker, and what an order's end releases.

An order is stored before it is sent, under a client order id fixed before it leaves, so its
outcome can always be found: an ambiguous failure is looked up by that id, never sent again, and
one left unanswered is held in doubt (see `trading_core.engine.doubts`). A split order's opening
half is sent here once its closing half has filled, and cancelled if that ended otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import attrs

from trading_core import codes
from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.engine.parts import EngineParts
from trading_core.enums import EngineProtection, OrderStatus
from trading_core.errors import BrokerError, BrokerRejected, DuplicateClientOrderId, OrderInDoubt, StoreError
from trading_core.events import Event
from trading_core.lifecycle import apply_event, hold_in_doubt, reject
from trading_core.orders import Order, TradeEvent

log = logging.getLogger("trading_core.engine")

ApplyUpdates = Callable[[Sequence[TradeUpdate]], Awaitable[None]]
"""Applies trade updates of other orders that arrived with an answer (`BrokerUpdates.apply_in_order`)."""
SendExits = Callable[[Order], Awaitable[Order]]
"""Checks and sends the engine's exits for what an entry filled before it ended in part (`Protection.send`)."""


class Dispatch:
    """Sends stored orders and settles them with the broker's answer; releases split orders' halves.

    Args:
        parts: the engine's shared parts.
        apply_others: applies the trade updates of other orders drained with an answer.
        send_exits: checks and sends the engine's exits of an entry ended in part (sent as
            they are when not given).
    """

    def __init__(self, parts: EngineParts, *, apply_others: ApplyUpdates, send_exits: SendExits | None = None) -> None:
        self._parts = parts
        self._apply_others = apply_others
        self._send_exits = send_exits or self.send

    async def send(self, order: Order) -> Order:
        """Send a stored order and record what became of it: accepted, refused or in doubt."""
        with self._parts.in_flight.placing(order.id):
            return await self.send_in_flight(order)

    async def send_in_flight(self, order: Order) -> Order:
        """`send`, for a caller that has marked the order in flight itself (`InFlight.placing`) and
        holds the mark until this returns: a new order is marked before it is stored."""
        try:
            accepted = await self._placed(order)
        except BrokerRejected as e:
            return await self.refuse(order, e.code, e.message)
        except OrderInDoubt as e:
            return await self.hold_in_doubt(order, e)
        return await self.record_acceptance(order, accepted)

    async def _placed(self, order: Order) -> BrokerOrder:
        """The broker's copy of the order once sent.

        Raises:
            BrokerRejected: The broker refused it, or never received it (`BROKER_ERROR`).
            OrderInDoubt: Neither is known.
        """
        try:
            return await self._parts.broker.submit_order(order)
        except BrokerRejected as e:
            if e.code != DuplicateClientOrderId.code:
                raise
            return await self._found(order, refusal=e)  # an earlier attempt reached the broker
        except OrderInDoubt:
            raise
        except BrokerError as e:
            log.warning("submission of %s failed (%s); looking its client order id up", order.id, e)
            reason = f"not received by the broker: {e.message}; {codes.RESEND_ADVICE}"
            return await self._found(order, refusal=BrokerRejected(codes.BROKER_ERROR, reason))

    async def _found(self, order: Order, *, refusal: BrokerRejected) -> BrokerOrder:
        """The broker's copy found by client order id, else `refusal` raised."""
        try:
            found = await self._parts.broker.get_order_by_client_id(order.client_order_id)
        except BrokerError as e:
            raise OrderInDoubt(f"order {order.client_order_id} cannot be looked up ({e.message})") from e
        if found is None:
            raise refusal
        return found

    async def hold_in_doubt(self, order: Order, cause: BrokerError) -> Order:
        """The submission went unanswered: the order stays pending, its exposure held, until evidence
        (the stream, a lookup, the broker's order list) settles it. See `trading_core.engine.doubts`."""
        log.warning("order %s is in doubt: %s", order.id, cause.message)
        return await self._parts.ledger.change(order, lambda o, now: hold_in_doubt(o, now=now))

    async def record_acceptance(self, order: Order, accepted: BrokerOrder) -> Order:
        """The broker's answer and the updates that came with it commit together, in one transaction."""
        mine: list[TradeUpdate] = []
        others: list[TradeUpdate] = []
        broker_order_id = accepted.broker_order_id
        for update in self._parts.broker.drain_updates():
            (mine if update.order.broker_order_id == broker_order_id else others).append(update)
        sent = await self._parts.ledger.apply_updates(order.id, order.symbol, mine, accepted=accepted)
        if sent is None:  # the stream had already told us all of it
            sent = await self._parts.order(order.id)
        if order.legs:  # before the updates that came with it: some may be the legs'
            await self.record_legs(order, accepted)
        if others:
            await self._apply_others(others)
        await self.release_follow_ups(sent)
        return sent

    async def record_legs(self, parent: Order, accepted: BrokerOrder) -> None:
        """Give each of our legs the broker's id of its own, from the broker's answer to their parent.

        Matched by client order id (ours are derived from the parent's, `leg_client_order_id`),
        else by kind: the take-profit is the leg with a limit and no stop, the stop-loss the other.
        """
        remote_legs = list(accepted.legs)
        for leg_id in parent.legs:
            leg = await self._parts.order(leg_id)
            remote = next((r for r in remote_legs if r.client_order_id == leg.client_order_id), None)
            if remote is None:
                remote = next((r for r in remote_legs if (r.stop_price is None) == (leg.stop_price is None)), None)
            if remote is None or leg.broker_order_id is not None:
                continue
            remote_legs.remove(remote)
            await self._parts.ledger.apply_updates(leg.id, leg.symbol, [], accepted=remote)

    async def _end_legs(self, parent: Order, end: Callable[[Order], Awaitable[Order]]) -> None:
        """End the legs of a parent that ended before the broker had them (refused, cancelled here)."""
        for leg_id in parent.legs:
            leg = await self._parts.order(leg_id)
            if leg.broker_order_id is None and not leg.is_terminal:
                await end(leg)

    async def refuse(self, order: Order, code: str, reason: str) -> Order:
        """Record the broker's refusal of `order`, unless the broker has shown it meanwhile."""

        def refused(current: Order, now: datetime) -> tuple[Order, list[Event]]:
            if current.broker_order_id is not None or current.status is not OrderStatus.PENDING_NEW:
                return current, []  # the broker has shown it meanwhile: its word is the later one
            return reject(current, code=code, reason=reason, now=now)

        rejected = await self._parts.ledger.change(order, refused)
        if rejected.status is OrderStatus.REJECTED:
            await self._end_legs(rejected, lambda leg: self._parts.ledger.change(leg, refused))
        await self.release_follow_ups(rejected)
        return rejected

    async def refuse_unsent(self, order: Order, reason: str) -> Order:
        """Record that an order in doubt never reached the broker (unless it has been sent since)."""
        in_flight = self._parts.in_flight

        def unsent(current: Order, now: datetime) -> tuple[Order, list[Event]]:
            if current.broker_order_id is not None or current.id in in_flight:
                return current, []  # the broker has it, or its sender is about to learn its fate
            return reject(current, code=codes.BROKER_ERROR, reason=reason, now=now)

        refused = await self._parts.ledger.change(order, unsent)
        if refused.status is OrderStatus.REJECTED:
            await self._end_legs(refused, lambda leg: self._parts.ledger.change(leg, unsent))
        await self.release_follow_ups(refused)
        return refused

    async def cancel_locally(self, order: Order, reason: str, event: TradeEvent = TradeEvent.CANCELED) -> Order:
        """End an order the broker does not hold (held here, or unknown to it) with `event`."""

        def cancelled(current: Order, now: datetime) -> tuple[Order, list[Event]]:
            return apply_event(current, event, now=now, ts_event=now, reason=reason)

        done = await self._parts.ledger.change(order, cancelled)
        if done.is_terminal:
            await self._end_legs(done, lambda leg: self._parts.ledger.change(leg, cancelled))
        await self.release_follow_ups(done)
        return done

    async def close_unknown(self, order: Order) -> Order:
        """Close an order the broker does not know (an account reset, say): it can never fill there."""
        log.warning("order %s (%s) is not known to the broker; closing it as canceled", order.id, order.broker_order_id)
        return await self.cancel_locally(order, "canceled: the broker does not know this order")

    # ----------------------------------------------------------------- a split order's halves

    async def release_follow_ups(self, parent: Order) -> None:
        """Send the opening half of a split order once its closing half filled; else cancel it.

        The engine's exits for what an entry filled before it ended in part (`trading_core.remainder`),
        stored as it ended, wait for it likewise and are sent, once, as soon as it has.
        """
        waiting_for_it = self._waiting_for(parent)
        if not waiting_for_it:
            return  # nothing waits for it, as after most fills: nothing to release or hand over
        if not parent.is_terminal or parent.status is OrderStatus.REPLACED:
            return  # working, or its replacement is the closing order now (`hand_over` moved them)
        book = self._parts.book
        replaced = book.open_orders.get(parent.replaces) if parent.replaces is not None else None
        if replaced is not None and not parent.filled_quantity:
            await self.hand_over(parent, replaced)  # a replacement that never took over: the old one works on
            return
        for waiting in waiting_for_it:
            order = book.open_orders.get(waiting.id)
            # Sent once only: the stream and the sender may both get here for the same parent.
            if order is None or order.submitted_at is not None or order.id in self._parts.in_flight:
                continue
            # The engine's exits go out as soon as they are made; a replacement of them left
            # unsent (a crash mid-replace) is no new order: the one it would replace works on.
            if order.engine_protection is EngineProtection.FILLED_PART and order.replaces is None:
                await self._send_exits(order)
            elif parent.status is OrderStatus.FILLED:
                await self.send(order)
            else:
                await self.cancel_locally(order, f"its closing order {parent.id} ended {parent.status}")

    async def hand_over(self, parent: Order, heir: Order) -> None:
        """The opening halves waiting for `parent` wait for `heir` instead."""
        for waiting in self._waiting_for(parent):
            await self._parts.ledger.change(
                waiting, lambda o, now: (attrs.evolve(o, parent_id=heir.id, updated_at=now), [])
            )

    async def release_orphans(self) -> int:
        """Send (or cancel) opening halves whose closing half ended with no one there to release
        them: a crash between the two. Returns how many were found.

        One may have reached the broker as it crashed: it goes again under its own client order
        id, which the broker refuses as taken, and the order it holds is taken up (`_placed`).
        """
        found = 0
        book, in_flight = self._parts.book, self._parts.in_flight
        for order in list(book.open_orders.values()):
            if order.parent_id is None or order.parent_id in book.open_orders:
                continue  # not an opening half, or its closing half still works
            if order.broker_order_id is not None or order.submitted_at is not None or order.id in in_flight:
                continue  # sent (or in doubt, or being sent): not waiting
            parent = await self._parts.store.get_order(order.parent_id)
            if parent is not None and parent.is_terminal:
                found += 1
                await self.release_follow_ups(parent)
        return found

    def _waiting_for(self, parent: Order) -> list[Order]:
        same_symbol = self._parts.book.open_by_symbol.get(parent.symbol)
        if same_symbol is None:  # nothing open in the symbol, as after most fills: nothing waits
            return []
        return [o for o in same_symbol.values() if o.parent_id == parent.id]


def with_ids(error: StoreError, order: Order) -> StoreError:
    """A store failure after the order may have left: the answer names it, so it can be asked for."""
    return StoreError(
        f"{error.message}; order {order.id} may have reached the broker: ask for it by its id, or submit "
        f"again with clientOrderId {order.client_order_id} to get it",
        details={**error.details, "orderId": order.id, "clientOrderId": order.client_order_id},
    )
