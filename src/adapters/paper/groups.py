"""Order classes on the paper exchange: a bracket, an OTO or an OCO taken in with its legs, as Alpaca does.

The parent is taken as any order is (its shape, its asset, its hold); its legs are working orders
of their own under client order ids derived from the parent's (`leg_client_order_id`), linked to
it (`WorkingOrder.parent`, `.legs`). A bracket's or OTO's legs are `held` until the entry fills;
an OCO's leg (its stop-loss) works beside it from the start, and shows `held` while it works, as a
bracket's stop-loss does once its entry has filled (`trading_core.protective.watched_while_held`).
How they then fill and end is `Execution`'s, by the core's rules (`trading_core.protective`): the
exits fill no more than the entry gave them, one's fill reduces the other's, the exits left with
nothing to fill are cancelled. A leg holds no buying power (it sells what its entry buys), and a
group's exits count once in what is open on their side.
"""

from __future__ import annotations

from datetime import datetime

from adapters.paper import checks
from adapters.paper.acceptance import Acceptance
from adapters.paper.instrument import Instrument
from adapters.paper.working import WorkingOrder
from trading_core import codes
from trading_core.broker_models import BrokerOrder
from trading_core.enums import OrderClass, OrderStatus
from trading_core.errors import InvalidOrder
from trading_core.order_classes import leg_client_order_id, leg_requests
from trading_core.orders import Order, TradeEvent
from trading_core.protective import watched_while_held
from trading_core.requests import OrderRequest
from trading_core.values import ZERO

__all__ = ["Groups", "relink"]


class Groups(Acceptance):
    """Orders with legs, on top of `Acceptance`."""

    def _submit_group(self, order: Order, *, pending: bool) -> BrokerOrder:
        """Take a bracket, OTO or OCO with its legs, or refuse all of it with `BrokerRejected`."""
        try:
            request = OrderRequest.from_order(order)  # Alpaca's refusals of a class, the core's rules
        except InvalidOrder as e:
            checks.refuse(codes.INVALID_ORDER, e.message, field=e.field)
        inst = checks.check_asset(self.instruments.get(order.symbol), order.symbol, order.quantity)
        if order.quantity != order.quantity.to_integral_value():
            checks.refuse(codes.INVALID_ORDER, f"{order.order_class} orders must be for whole shares", field="quantity")
        opening = checks.opening_quantity(
            inst, order.side, order.quantity, can_short=self.can_short, reject_flips=self._reject_flips
        )
        now = self.clock.now()
        w = self._working(order, inst, now)
        if opening:
            self._hold(w, inst, opening, available=self.ledger.buying_power)
        w.order_class = order.order_class
        for role, leg_request in leg_requests(request).items():
            leg = self._new_order(
                client_order_id=leg_client_order_id(order.client_order_id, role),
                symbol=inst.asset.symbol,
                side=leg_request.side,
                order_type=leg_request.type,
                time_in_force=leg_request.time_in_force,
                quantity=order.quantity,
                limit_price=leg_request.limit_price,
                stop_price=leg_request.stop_price,
                extended_hours=False,
                now=now,
            )
            leg.parent = w
            leg.counted = False
            leg.status = OrderStatus.HELD
            w.legs.append(leg)
        self._register(w, inst)
        for leg in w.legs:
            self.by_client[leg.client_order_id] = leg.id
            self.working[leg.id] = leg
            self.orders[leg.id] = leg.snapshot(now)
        if pending:
            return self._publish(TradeEvent.PENDING_NEW, w, now)
        return self._announce_group(w, inst, now)

    def _announce_group(self, w: WorkingOrder, inst: Instrument, now: datetime) -> BrokerOrder:
        """The parent `new` (`accepted` while closed; its answer shows its legs held); an OCO's stop-loss
        `held` beside it, working (watched) while it shows `held`, as Alpaca reports an OCO's passive
        leg (`trading_core.protective.watched_while_held`); then they work."""
        watched = [leg for leg in w.legs if watched_while_held(w, leg)]
        for leg in watched:
            leg.watched = True
        accepted = self._announce(w, inst, now)
        for leg in watched:
            if not leg.is_open:
                continue
            self._publish(TradeEvent.HELD, leg, now)
            if not self._trades_now(leg):
                inst.rest(leg)  # the open matches it, after its take-profit is routed
            elif not leg.in_book:
                self._work(leg, inst, now)
        return accepted

    def _hold_leg(self, leg: WorkingOrder, inst: Instrument, now: datetime) -> BrokerOrder:
        """Take a held leg in, as a group's legs are taken: no event until it is released to work; a
        stop-loss watched while held (its entry filled) works at once, still `held`."""
        self._register(leg, inst)
        snap = leg.snapshot(now)
        self.orders[leg.id] = snap
        if leg.watched:
            self._route_resumed(leg, inst, now)  # worked now in session, else rested for the open
        return snap

    def _cancel_group(self, w: WorkingOrder, now: datetime) -> None:
        """Cancelling a parent cancels its open legs; cancelling an exit cancels its group's other exits."""
        parent = w.parent or w
        for other in [parent, *parent.legs]:
            if other is w or not other.is_open or (other is parent and parent.order_class is not OrderClass.OCO):
                continue
            if other.status in (OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_REPLACE):
                continue
            other.status = OrderStatus.PENDING_CANCEL
            self._publish(TradeEvent.PENDING_CANCEL, other, now)
            self._cancel(other, now)

    def _take_over_leg(self, old: WorkingOrder, new: WorkingOrder) -> None:
        """A leg's replacement takes its place in its group: linked to the parent, holding nothing."""
        parent = old.parent
        if parent is None:
            return
        new.parent = parent
        new.counted = old.counted
        new.reserve_quantity = new.reserve_price = ZERO
        parent.legs[parent.legs.index(old)] = new

    def _take_over_parent(self, old: WorkingOrder, new: WorkingOrder) -> None:
        """An OCO's replacement (its take-profit's new price) takes its leg over.

        Raises:
            BrokerRejected: a bracket's or OTO's entry, which Alpaca does not replace.
        """
        if old.order_class is not OrderClass.OCO:
            checks.refuse(codes.INVALID_ORDER, f"{old.order_class} orders cannot be replaced", field="order_class")
        new.order_class = old.order_class
        new.legs, old.legs = old.legs, []
        for leg in new.legs:
            leg.parent = new


def relink(records: list[tuple[Order, WorkingOrder]]) -> None:
    """Link the working records of resumed orders into their exit groups again, by our ids.

    A leg whose parent is resumed with it joins it; the legs of a parent no longer open (its
    entry filled) are linked among themselves as an OCO: the first is the parent of the others,
    their quantity filled once between them. A leg counts in its side's open quantity only as
    the first of its group, as when it was released.
    """
    by_id = {order.id: w for order, w in records}
    orphans: dict[str, list[WorkingOrder]] = {}
    for order, w in records:
        if order.legs:
            w.order_class = order.order_class
        if order.leg_of is None:
            continue
        parent = by_id.get(order.leg_of)
        if parent is not None:
            w.parent = parent
            parent.legs.append(w)
            w.counted = len(parent.legs) == 1 and w.status is not OrderStatus.HELD
        else:
            orphans.setdefault(order.leg_of, []).append(w)
    for group in orphans.values():
        # A leg still held (a bracket's stop-loss beside its take-profit) is never the head: it works
        # as its group's watched stop-loss (`watched_while_held`), the head as the order itself.
        first, *rest = sorted(group, key=lambda w: w.status is OrderStatus.HELD)
        if rest:
            first.order_class = OrderClass.OCO
            first.legs = rest
            for leg in rest:
                leg.parent, leg.counted = first, False
