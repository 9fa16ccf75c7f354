"""The ledger: the one place order changes are written, each with its events, in one transaction.

Every change follows the same steps: lock the order's row, compute the new state with a pure
function, write the order, its fills, the position and the events together, then update the
engine's book and tell in-process listeners. Changes in one symbol are serialised by a lock, so
that an order's updates apply in the order they arrived and the position they move is written
by one change at a time; other symbols go ahead concurrently.

Broker updates (`apply_updates`, the busiest change) are first tried optimistically: the store may
answer with the order and position as this process last wrote them, without locking, and refuses
the commit if another writer (another replica) changed them since. Nothing is stored then, and
the change is done once more, reading under locks (see `OrderStore.unit_of_work`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

import attrs

from trading_core.book import Book
from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.clock import Clock
from trading_core.enums import OrderStatus
from trading_core.errors import ConcurrentUpdate, InvalidTransition, OrderNotFound, Overfill
from trading_core.events import Event
from trading_core.fills import Fill, is_made_up, made_up_execution_id
from trading_core.history import closed_position
from trading_core.lifecycle import apply_event, execute_reported, mark_submitted, reopened
from trading_core.market import eastern_date
from trading_core.orders import Order, TradeEvent
from trading_core.ports import OrderStore, UnitOfWork
from trading_core.positions import Position, PositionChange
from trading_core.remainder import left_unprotected
from trading_core.values import FOUR_PLACES, ZERO, BrokerOrderId, ExecutionId, OrderId, Symbol, at_four_places

log = logging.getLogger("trading_core.ledger")

EventListener = Callable[[Event], None]
Step = Callable[[Order, datetime], tuple[Order, list[Event]]]
"""A pure change of one order at a time: (order, now) -> (new order, events)."""
Executed = Sequence[tuple[PositionChange, Fill]]
FillsListener = Callable[[Order, Executed], Awaitable[None]]
"""Awaited with an order and its fills (each with its position change) once they have committed."""
Protect = Callable[[UnitOfWork, Order, Decimal, datetime], Awaitable[Sequence[Order]]]
"""Makes the engine's exits for a quantity an entry leaves unprotected (`trading_core.remainder`),
reading what it needs through the unit of work: (unit, entry, quantity, now) -> the new orders."""


class OrderLedger:
    """Writes orders, fills, positions and their events through the store's unit of work."""

    def __init__(self, store: OrderStore, book: Book, clock: Clock) -> None:
        self._store = store
        self._book = book
        self._clock = clock
        self._locks: dict[Symbol, asyncio.Lock] = {}
        self._flat: dict[Symbol, Position] = {}
        self.listeners: list[EventListener] = []
        self.after_fills: FillsListener | None = None
        """Told of each committed run of fills (the portfolio's snapshots), after the listeners."""
        self.protect: Protect | None = None
        """Makes the exits for what an entry with engine-attached exits leaves unprotected as it
        ends (`trading_core.remainder`): stored in the transaction that records the end, so they
        are made once whatever repeats the news of it; sent by the engine once it has committed."""

    async def insert(self, orders: Sequence[Order], events: Sequence[Event] = ()) -> None:
        """Store new orders (and the events announcing them) in one transaction.

        The book holds them from the start, before the store answers: a pre-trade check that runs
        while this waits (another submission) counts them as open orders. Called right after the
        check that passed them, with nothing awaited between, that makes check-and-hold one step.

        Raises:
            DuplicateClientOrderId: A client order id is taken already; nothing is stored.
            StoreError: The store failed; nothing is held.
        """
        book = self._book
        for order in orders:
            book.reserve(order)
        try:
            await self._store.add_orders(orders, events)
        except BaseException:
            for order in orders:
                book.release(order)
            raise
        for order in orders:
            book.track(order)
        self.announce(events)

    def lock(self, symbol: Symbol) -> asyncio.Lock:
        """The lock that serialises changes in `symbol`."""
        lock = self._locks.get(symbol)
        if lock is None:
            lock = self._locks[symbol] = asyncio.Lock()
        return lock

    def flat(self, symbol: Symbol) -> Position:
        """No position in `symbol`, what a fill applies to when the store holds none: one value per
        symbol, made once (it never changes, and a third of the fills open a position)."""
        flat = self._flat.get(symbol)
        if flat is None:
            flat = self._flat[symbol] = Position.flat(symbol)
        return flat

    async def change(self, order: Order, step: Step) -> Order:
        """Apply `step` to the stored order under a row lock and commit what it returns.

        Raises:
            OrderNotFound: The store has no such order.
            StoreError: The store failed; nothing changed.
        """
        async with self.lock(order.symbol), self._store.unit_of_work() as uow:
            current = await uow.get_order(order.id, for_update=True)
            if current is None:
                raise OrderNotFound(f"no order with id {order.id}", details={"orderId": order.id})
            now = self._clock.now()
            changed, events = step(current, now)
            if changed is current:
                return current
            made = await self._protection(uow, changed, left_unprotected(current, changed), now)
            await uow.update_order(changed)
            for new in made:
                await uow.add_order(new)
            if events:
                await uow.add_events(events)
            await uow.commit()
        self._book.track(changed)
        for new in made:
            self._book.track(new)
        self.announce(events)
        return changed

    async def _protection(self, uow: UnitOfWork, entry: Order, quantity: Decimal, now: datetime) -> Sequence[Order]:
        """The exits to store with a change that leaves `quantity` of an entry unprotected (`protect`)."""
        if self.protect is None or quantity <= ZERO:
            return ()
        return await self.protect(uow, entry, quantity, now)

    async def save_position(self, position: Position, events: Sequence[Event] = ()) -> None:
        """Overwrite a position (reconciliation adopts the broker's), with the events announcing it."""
        async with self.lock(position.symbol), self._store.unit_of_work() as uow:
            await uow.save_position(position)
            if events:
                await uow.add_events(events)
            await uow.commit()
        self._book.adopt_position(position)
        self.announce(events)

    async def apply_updates(
        self,
        order_id: OrderId,
        symbol: Symbol,
        updates: Sequence[TradeUpdate],
        *,
        accepted: BrokerOrder | None = None,
    ) -> Order | None:
        """Apply the broker's answer to our submission and updates of one order, in one transaction.

        Updates the state machine refuses (an overfill, a fill on a rejected order) are logged
        and skipped: one bad message must not stop the stream. Returns the order as committed,
        None when nothing changed.
        """
        now = self._clock.now()
        if accepted is None and all(self._changes_nothing(order_id, u, now) for u in updates):
            return None
        async with self.lock(symbol):
            try:
                change = await self._apply(order_id, updates, accepted, now, optimistic=True)
            except ConcurrentUpdate as e:
                # Another writer changed the order or its position since this process last wrote
                # them (nothing of this attempt is stored): again, reading them under locks.
                log.info("redoing the updates of %s with locks: %s", order_id, e)
                change = await self._apply(order_id, updates, accepted, now, optimistic=False)
        if change is None or change.order is change.original:
            return None
        self._book.track(change.order)
        for new in change.made:
            self._book.track(new)
        for position, fill in change.executions:
            self._book.apply_position(position, fill, eastern_date(fill.timestamp))
        self.announce(change.events)
        if change.executions and self.after_fills is not None:
            await self.after_fills(change.order, change.executions)
        return change.order

    async def _apply(
        self,
        order_id: OrderId,
        updates: Sequence[TradeUpdate],
        accepted: BrokerOrder | None,
        now: datetime,
        *,
        optimistic: bool,
    ) -> _Change | None:
        """One attempt at `apply_updates` in one unit of work; the caller holds the symbol's lock."""
        refusals: list[tuple[TradeUpdate, Exception]] = []
        async with self._store.unit_of_work(optimistic=optimistic) as uow:
            order = await uow.get_order(order_id, for_update=True)
            if order is None:
                return None
            change = _Change(order)
            if accepted is not None:
                change.submitted(accepted.broker_order_id, accepted.status, accepted.submitted_at, now)
                if accepted.hwm is not None:  # a trailing stop's mark where the broker took it
                    change.order = attrs.evolve(change.order, hwm=accepted.hwm)
            for update in updates:
                before = change.order
                try:
                    change.heard(update, now)
                    if update.is_fill:
                        await self._fill(uow, change, update, now)
                    else:
                        change.moved(update, now)
                except (InvalidTransition, Overfill) as e:
                    refusals.append((update, e))
                # Most changes leave nothing unprotected: that is told without awaiting `_protection`.
                unprotected = left_unprotected(before, change.order) if change.order is not before else ZERO
                if unprotected > ZERO:
                    change.made.extend(await self._protection(uow, change.order, unprotected, now))
            if change.order is not order:  # a pending status (pending_replace...) announces nothing
                await uow.update_order(change.order)
            for new in change.made:
                await uow.add_order(new)
            if change.events:
                await uow.add_events(change.events)
            # Committed even when nothing changed: an optimistic unit's commit is what confirms
            # that what it read (and refused updates against) was current.
            await uow.commit()
        for update, error in refusals:
            log.error("trade update %s for %s refused: %s", update.event, update.order.broker_order_id, error)
        return change

    async def _fill(self, uow: UnitOfWork, change: _Change, update: TradeUpdate, now: datetime) -> None:
        """Apply a fill update to the order, and to its position read under a lock."""
        order = change.order
        execution_id, quantity, price = _execution_of(order, update)
        held = await uow.get_position(order.symbol, for_update=True) or self.flat(order.symbol)
        execution = execute_reported(
            order,
            held,
            execution_id=execution_id,
            quantity=quantity,
            price=price,
            at=update.timestamp,
            cumulative_quantity=update.order.filled_quantity,
            now=now,
        )
        if execution is None:
            return
        fill = execution.fill
        await uow.add_fill(fill)
        await uow.save_position(execution.position.after)
        closed = closed_position(execution.position, fill)
        if closed is not None:
            await uow.add_closed_position(closed)
        change.order = execution.order
        change.events.extend(execution.events)
        change.executions.append((execution.position, fill))

    def _changes_nothing(self, order_id: OrderId, update: TradeUpdate, now: datetime) -> bool:
        """A status update that would leave the order as it is needs no transaction.

        Most `new` events confirm what the REST answer already said; the book holds every open
        order as last committed, so this is decided without reading the store.
        """
        if update.is_fill:
            return False
        cached = self._book.open_orders.get(order_id)
        if cached is None or cached.broker_order_id is None:
            return False
        if update.order.hwm is not None and update.order.hwm != cached.hwm:
            return False  # a trailing stop's mark the broker reports with it: kept (`_Change.heard`)
        event = known_event(update.event)
        if event is None:
            return True
        try:
            moved, _ = apply_event(cached, event, now=now, ts_event=update.timestamp, reason=update.reason)
        except InvalidTransition:
            return False  # let the transaction path report it
        return moved is cached

    async def order_id_for(self, broker_order: BrokerOrder) -> OrderId | None:
        """Our id of the order the broker reports, or None for one we did not place."""
        known = self._book.find_open(broker_order.broker_order_id, broker_order.client_order_id)
        if known is not None:
            return known
        order = await self._store.get_order_by_broker_id(broker_order.broker_order_id)
        if order is None:
            order = await self._store.get_order_by_client_id(broker_order.client_order_id)
        return order.id if order is not None else None

    def announce(self, events: Sequence[Event]) -> None:
        """Hand committed events to the listeners; one that raises is logged and the rest go on.

        The change is stored by now: an error here must not reach the caller as a failure of it
        (a submission that raised after it filled would be sent again).
        """
        for listener in self.listeners:
            for event in events:
                try:
                    listener(event)
                except Exception:
                    log.exception("event listener %r failed on %s %s", listener, event.TYPE, event.event_id)


class _Change:
    """One order's change in progress within a transaction."""

    __slots__ = ("events", "executions", "made", "order", "original")

    def __init__(self, order: Order) -> None:
        self.original = order
        self.order = order
        self.events: list[Event] = []
        self.executions: list[tuple[PositionChange, Fill]] = []
        self.made: list[Order] = []
        """New orders the change brings about (the engine's exits of an entry ended in part)."""

    def submitted(self, broker_order_id: BrokerOrderId, status: OrderStatus, at: datetime, now: datetime) -> None:
        self.order, events = mark_submitted(
            reopened(self.order, now), broker_order_id=broker_order_id, status=status, now=now, ts_event=at
        )
        self.events.extend(events)

    def heard(self, update: TradeUpdate, now: datetime) -> None:
        """What any update tells of the order besides its event: the broker's id, a trailing stop's mark."""
        reported = update.order
        if self.order.broker_order_id is None:  # the stream was faster than the REST answer
            self.submitted(reported.broker_order_id, reported.status, reported.submitted_at, now)
        hwm = reported.hwm
        if hwm is not None and hwm != self.order.hwm:  # a trailing stop's mark, as the broker last reported it
            self.order = attrs.evolve(self.order, hwm=hwm)

    def moved(self, update: TradeUpdate, now: datetime) -> None:
        """A status update (not a fill): the order moved through the state machine."""
        event = known_event(update.event)
        if event is not None:
            self.order, events = apply_event(
                self.order, event, now=now, ts_event=update.timestamp, reason=update.reason
            )
            self.events.extend(events)


def _execution_of(order: Order, update: TradeUpdate) -> tuple[ExecutionId, Decimal, Decimal]:
    """The execution an update reports, as its id, quantity and price: the broker's own, as it is.

    An update without an execution id (made up from the broker's cumulative quantity by the order
    poll) stands for every execution ours lacks: it records what brings ours to the broker's
    cumulative, priced so that our average is the broker's, under a made-up id that says so.
    """
    qty = update.quantity
    price = update.price if update.price is not None else update.order.filled_average_price
    if qty is None or price is None:
        raise InvalidTransition(f"fill for {order.id} without quantity or price")
    execution_id = update.execution_id
    if execution_id is None or is_made_up(execution_id):
        cumulative = update.order.filled_quantity
        execution_id = made_up_execution_id(update.order.broker_order_id, cumulative)
        missing = cumulative - order.filled_quantity
        if ZERO < missing != qty:
            average = update.order.filled_average_price
            if average is not None:
                gap = (average * cumulative - order.filled_notional) / missing
                price = gap.quantize(FOUR_PLACES, rounding=ROUND_HALF_EVEN) if gap > ZERO else average
            qty = missing
    # At four places, from the broker's scale (Alpaca's `0.5`, `10`): positions add them up.
    return execution_id, at_four_places(qty), at_four_places(price)


def known_event(name: TradeEvent | str) -> TradeEvent | None:
    """The state machine's event for a stream event name; None (logged) for one it does not know."""
    if isinstance(name, TradeEvent):
        return name
    try:
        return TradeEvent(name)
    except ValueError:
        log.info("ignoring trade update event %r: not one the order state machine knows", name)
        return None
