"""Trade updates put in order per order: each fill delivered once, and in cumulative order.

Alpaca reports, with each fill, the order's cumulative filled quantity after it; the stream may
repeat or reorder messages, and a dropped stream loses some. The engine keys fills by execution
id and by that cumulative quantity, and adds a fill's own `qty`: so a fill must reach it only
once, and only when every execution before it has. The sequencer keeps, per order, how much has
been delivered (`filled`) and:

- drops a fill whose cumulative quantity was already delivered (a duplicate);
- delivers a fill that starts exactly where delivery stands (`cumulative - qty == filled`), then
  any held fills it makes contiguous;
- holds a fill that starts beyond a gap until the gap fills (reordering), or until `gap_timeout`
  passes or a REST snapshot (the backfill) shows the order's cumulative quantity;
- passes every other event through (the order state machine absorbs repeats and stale ones).

What the stream missed of an order, a snapshot recovers from the account's FILL activities: each
execution with its own id, quantity and price, in cumulative order, skipping those already
delivered (by cumulative quantity and by execution id). Only what the activities do not cover
(they could not be read, or do not list the execution yet) is delivered as one fill whose price
keeps the order's average equal to Alpaca's, under an id made of the order id and the
cumulative quantity; a gap that outlives `gap_timeout` is delivered with the fill after it, the
same way.

Baselines: an order we are about to send (`expect`) starts at zero, so a backfill delivers all of
its fills. An order first seen in a snapshot is taken as already known at that state (the
engine's start-up reconciliation brought it there), and an order first seen on the stream is
taken as known up to the start of that execution.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

import attrs

from adapters.alpaca.codec import FillActivity
from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.enums import OrderStatus
from trading_core.fills import made_up_execution_id
from trading_core.orders import EVENT_FOR_STATUS, TradeEvent
from trading_core.values import FOUR_PLACES, ZERO, BrokerOrderId, ClientOrderId, ExecutionId

__all__ = ["UpdateSequencer"]

log = logging.getLogger("adapters.alpaca.sequencer")


@attrs.define
class _Track:
    """What has been delivered for one order."""

    filled: Decimal = ZERO
    notional: Decimal = ZERO
    known_filled: Decimal = ZERO
    """The most any copy of the order (stream or REST) said had filled."""
    status: OrderStatus | None = None
    updated_at: datetime | None = None
    held: dict[Decimal, TradeUpdate] = attrs.Factory(dict)
    """Fills waiting for a gap before them, by cumulative quantity."""
    held_since: float | None = None
    executions: set[ExecutionId] = attrs.Factory(set)
    """The execution ids delivered."""


class UpdateSequencer:
    """Per-order delivery state of trade updates; pure (the caller supplies the time).

    Args:
        gap_timeout: Seconds a fill waits for the executions before it.
        retention: Closed orders remembered (so late duplicates are still recognised).
    """

    def __init__(self, *, gap_timeout: float = 2.0, retention: int = 10_000) -> None:
        self._gap_timeout = gap_timeout
        self._retention = retention
        self._tracks: dict[BrokerOrderId, _Track] = {}
        self._closed: OrderedDict[BrokerOrderId, None] = OrderedDict()
        self._expected: OrderedDict[ClientOrderId, None] = OrderedDict()

    # ---------------------------------------------------------------- registration

    def expect(self, client_order_id: ClientOrderId) -> None:
        """An order is about to be sent under this id: everything it does is news."""
        self._expected[client_order_id] = None
        while len(self._expected) > self._retention:
            self._expected.popitem(last=False)

    def track(self, order: BrokerOrder) -> None:
        """The REST answer of a submission or replacement: its fills come by the stream."""
        self._note_status(self._track_for(order, baseline=None), order)

    def unsettled(self) -> list[BrokerOrderId]:
        """Orders last known open, or with fills not delivered yet: the stream owes news of them."""
        return [
            oid
            for oid, t in self._tracks.items()
            if t.status is None or t.status.is_open or t.known_filled > t.filled or t.held
        ]

    def behind(self, order: BrokerOrder) -> bool:
        """Whether a REST copy shows more than was delivered: fills, or a later status."""
        track = self._tracks.get(order.broker_order_id)
        if track is None:
            return False
        if order.filled_quantity > track.filled:
            return True
        return order.status is not track.status and _later(track, order)

    def forget(self, broker_order_id: BrokerOrderId) -> None:
        """An order the broker does not know (a replacement it refused): nothing more is owed of it."""
        self._tracks.pop(broker_order_id, None)
        self._closed.pop(broker_order_id, None)

    def knows(self, broker_order_id: BrokerOrderId) -> bool:
        """Whether updates of the order `broker_order_id` have been delivered."""
        return broker_order_id in self._tracks

    def owes_fills(self, order: BrokerOrder) -> bool:
        """Whether a REST copy of a known order shows fills not delivered: `snapshot` needs its executions."""
        track = self._tracks.get(order.broker_order_id)
        known = track is not None or order.client_order_id in self._expected
        return known and order.filled_quantity > (track.filled if track is not None else ZERO)

    # ---------------------------------------------------------------- the stream

    def stream(self, update: TradeUpdate, now: float) -> list[TradeUpdate]:
        """One stream message in; what may be delivered now out."""
        order = update.order
        if not update.is_fill:
            track = self._track_for(order, baseline=order.filled_quantity)
            self._note_status(track, order)
            return [update]
        qty = update.quantity
        cumulative = order.filled_quantity
        start = cumulative - qty if qty is not None else None
        track = self._track_for(order, baseline=start if start is not None else cumulative)
        self._note_status(track, order)
        if cumulative <= track.filled:
            return []  # delivered already (a duplicate, or covered by a backfill)
        if start is not None and start > track.filled:
            if cumulative not in track.held:
                track.held[cumulative] = update
                track.held_since = track.held_since if track.held_since is not None else now
            return []
        delivered = [self._deliver(track, update)]
        delivered.extend(self._release(track))
        return delivered

    def gaps_due(self, now: float) -> list[BrokerOrder]:
        """Orders whose fills wait past `gap_timeout` for executions before them, each as its latest
        held fill shows it: the executions in the gap may be read (the activities) before `due`."""
        return [
            max(track.held.values(), key=lambda u: u.order.filled_quantity).order
            for track in self._tracks.values()
            if track.held and track.held_since is not None and now - track.held_since >= self._gap_timeout
        ]

    def fill_gap(self, order: BrokerOrder, executions: Iterable[FillActivity]) -> list[TradeUpdate]:
        """The executions missing before an order's held fills, each as Alpaca made it, then the
        held fills they make contiguous; what is still missing stays held for `due`."""
        track = self._tracks.get(order.broker_order_id)
        if track is None:
            return []
        return [*self._recover(track, order, executions), *self._release(track)]

    def due(self, now: float) -> list[TradeUpdate]:
        """Fills held longer than `gap_timeout`: delivered across their gap."""
        delivered: list[TradeUpdate] = []
        for track in self._tracks.values():
            if track.held_since is not None and now - track.held_since >= self._gap_timeout:
                delivered.extend(self._release(track, force=True))
        return delivered

    def next_due(self) -> float | None:
        """When the oldest held fill will be due (same clock as `now`), None when none is held."""
        times = [t.held_since for t in self._tracks.values() if t.held_since is not None]
        return min(times) + self._gap_timeout if times else None

    # ---------------------------------------------------------------- the backfill

    def snapshot(self, order: BrokerOrder, executions: Sequence[FillActivity] | None = None) -> list[TradeUpdate]:
        """A REST copy of an order (the backfill): the updates the stream missed, if any.

        `executions` are the order's FILL activities (any order, any extra); None when they
        could not be read, and then missed fills can only be made up as one averaged fill.
        """
        known = order.broker_order_id in self._tracks or order.client_order_id in self._expected
        track = self._track_for(order, baseline=order.filled_quantity)
        updates: list[TradeUpdate] = []
        if not known:
            track.notional = (order.filled_average_price or ZERO) * order.filled_quantity
        elif order.filled_quantity > track.filled:
            updates.extend(self._recover(track, order, executions or ()))
            if order.filled_quantity > track.filled:
                log.warning(
                    "order %s: fills from %s to %s are not in the account's activities%s: delivered as one"
                    " averaged fill",
                    order.broker_order_id,
                    track.filled,
                    order.filled_quantity,
                    " (they could not be read)" if executions is None else "",
                )
                updates.append(self._catch_up(track, order))
            updates.extend(self._release(track))
        event = EVENT_FOR_STATUS.get(order.status)
        if known and order.status is not track.status and event is not None and _later(track, order):
            updates.append(TradeUpdate(event=event, order=order, timestamp=order.updated_at))
        self._note_status(track, order)
        return updates

    def executions(self, order: BrokerOrder, executions: Iterable[FillActivity]) -> list[TradeUpdate]:
        """Every execution of `order` from its first, up to its cumulative quantity, each as Alpaca made it.

        Nothing is recorded as delivered: the caller (the order poll) keeps what its own copy of the
        order lacks, and the stream's copies of the same executions are dropped by their ids later.
        Stops at a missing execution.
        """
        return self._recover(_Track(), order, executions)

    # ---------------------------------------------------------------- internals

    def _track_for(self, order: BrokerOrder, *, baseline: Decimal | None) -> _Track:
        track = self._tracks.get(order.broker_order_id)
        if track is not None:
            return track
        if order.client_order_id in self._expected or baseline is None:
            track = _Track()
        else:
            track = _Track(filled=max(ZERO, baseline))
            average = order.filled_average_price
            if average is not None and order.filled_quantity:
                track.notional = average * track.filled  # an estimate: only an aggregate's price uses it
        self._tracks[order.broker_order_id] = track
        return track

    def _note_status(self, track: _Track, order: BrokerOrder) -> None:
        later = _later(track, order)
        track.known_filled = max(track.known_filled, order.filled_quantity)
        if not later:
            return  # an older copy (a reordered message, a lagging read, a REST answer after the stream)
        track.status = order.status
        track.updated_at = order.updated_at
        if order.status.is_terminal:
            self._closed[order.broker_order_id] = None
            self._closed.move_to_end(order.broker_order_id)
            while len(self._closed) > self._retention:
                gone, _ = self._closed.popitem(last=False)
                self._tracks.pop(gone, None)

    def _deliver(self, track: _Track, update: TradeUpdate) -> TradeUpdate:
        """Deliver a fill from where delivery stands to its cumulative quantity."""
        cumulative = update.order.filled_quantity
        delta = cumulative - track.filled
        price = update.price
        if update.quantity != delta or price is None:
            price = self._gap_price(track, update.order, delta) or price
            update = attrs.evolve(update, quantity=delta, price=price)
        track.filled = cumulative
        track.notional += delta * (price or ZERO)
        if update.execution_id is not None:
            track.executions.add(update.execution_id)
        track.held = {c: u for c, u in track.held.items() if c > cumulative}
        track.held_since = track.held_since if track.held else None
        return update

    def _release(self, track: _Track, *, force: bool = False) -> list[TradeUpdate]:
        """Held fills that are now contiguous (all of them, across gaps, when `force`)."""
        delivered: list[TradeUpdate] = []
        for cumulative in sorted(track.held):
            update = track.held.get(cumulative)
            if update is None:
                continue
            start = cumulative - (update.quantity or ZERO)
            if cumulative <= track.filled:
                track.held.pop(cumulative)
                continue
            if start > track.filled and not force:
                break
            if start > track.filled:
                log.warning(
                    "fills of order %s up to %s never arrived: delivered as one made-up fill before the next",
                    update.order.broker_order_id,
                    start,
                )
                delivered.append(self._deliver(track, _gap_before(update, start, track.filled)))
            delivered.append(self._deliver(track, update))
        if not track.held:
            track.held_since = None
        return delivered

    def _recover(self, track: _Track, order: BrokerOrder, executions: Iterable[FillActivity]) -> list[TradeUpdate]:
        """The executions after what was delivered, up to the snapshot's cumulative quantity, each as Alpaca made it.

        Delivery stops at a missing execution (a gap in the cumulative quantities): what follows
        it is left to the averaged catch-up.
        """
        recovered: list[TradeUpdate] = []
        notional = track.notional
        for execution in sorted(executions, key=lambda e: e.cum_qty):
            cumulative = execution.cum_qty
            if cumulative <= track.filled or execution.execution_id in track.executions:
                continue  # delivered already (by the stream, or an earlier backfill)
            if cumulative > order.filled_quantity or cumulative - execution.qty != track.filled:
                break  # later than the snapshot (the stream brings it), or an execution is missing
            notional += execution.qty * execution.price
            complete = cumulative >= order.quantity
            state = attrs.evolve(
                order,
                status=OrderStatus.FILLED if complete else OrderStatus.PARTIALLY_FILLED,
                filled_quantity=cumulative,
                filled_average_price=(notional / cumulative).quantize(FOUR_PLACES, rounding=ROUND_HALF_EVEN),
                filled_at=execution.transaction_time if complete else None,
                updated_at=execution.transaction_time,
            )
            update = TradeUpdate(
                event=TradeEvent.FILL if complete else TradeEvent.PARTIAL_FILL,
                order=state,
                timestamp=execution.transaction_time,
                execution_id=execution.execution_id,
                price=execution.price,
                quantity=execution.qty,
            )
            recovered.append(self._deliver(track, update))
        return recovered

    def _catch_up(self, track: _Track, order: BrokerOrder) -> TradeUpdate:
        """One fill from what was delivered to what a snapshot shows, priced to its average."""
        cumulative = order.filled_quantity
        complete = cumulative >= order.quantity
        update = TradeUpdate(
            event=TradeEvent.FILL if complete else TradeEvent.PARTIAL_FILL,
            order=order,
            timestamp=order.filled_at or order.updated_at,
            execution_id=made_up_execution_id(order.broker_order_id, cumulative),
            price=None,  # priced by `_deliver` so that the delivered average is Alpaca's
            quantity=cumulative - track.filled,
        )
        return self._deliver(track, update)

    @staticmethod
    def _gap_price(track: _Track, order: BrokerOrder, delta: Decimal) -> Decimal | None:
        """The price of `delta` that brings the delivered average to the order's average."""
        average = order.filled_average_price
        if average is None or delta <= ZERO:
            return None
        price = ((average * order.filled_quantity - track.notional) / delta).quantize(
            FOUR_PLACES, rounding=ROUND_HALF_EVEN
        )
        return price if price > ZERO else average


def _gap_before(update: TradeUpdate, start: Decimal, delivered: Decimal) -> TradeUpdate:
    """The executions lost between `delivered` and where `update` starts, as one made-up fill.

    Each execution the broker made keeps its own id and quantity (the engine stores them so, in
    any order): the lost ones are stood for under an id made of the order id and the cumulative
    quantity they reach, which tells the engine to count them once if they are read later, priced
    (by `_deliver`) so that the average up to `start` is the broker's.
    """
    order = update.order
    average = order.filled_average_price
    if average is not None and update.price is not None and update.quantity is not None:
        before = (average * order.filled_quantity - update.price * update.quantity) / start
        average = before.quantize(FOUR_PLACES, rounding=ROUND_HALF_EVEN) if before > ZERO else average
    state = attrs.evolve(
        order,
        status=OrderStatus.PARTIALLY_FILLED,
        filled_quantity=start,
        filled_average_price=average,
        filled_at=None,
    )
    return TradeUpdate(
        event=TradeEvent.PARTIAL_FILL,
        order=state,
        timestamp=update.timestamp,
        execution_id=made_up_execution_id(order.broker_order_id, start),
        price=None,
        quantity=start - delivered,
    )


def _later(track: _Track, order: BrokerOrder) -> bool:
    """Whether this copy of an order is later news than the status the track holds.

    By update time; on a tie (Alpaca may stamp `new` and an instant fill alike), the copy with
    more filled or a final status. A final status never gives way to an open one.
    """
    if track.updated_at is None or track.status is None:
        return True
    if track.status.is_terminal and not order.status.is_terminal:
        return False
    if order.updated_at != track.updated_at:
        return order.updated_at > track.updated_at
    return order.filled_quantity > track.known_filled or (order.status.is_terminal and not track.status.is_terminal)
