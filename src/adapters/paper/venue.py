"""The paper exchange's matching venue: the requests one paper account takes.

Synchronous and free of I/O: `PaperExchange` puts the Broker port in front of it. Every change is
announced as a `TradeUpdate` handed to `emit`, in Alpaca's order of events; a refused request
raises before it changes anything. The venue is built in layers: `Execution` (the books and how
orders fill, `adapters.paper.execution`), `Acceptance` (holds, routing, resumed orders,
`adapters.paper.acceptance`) and here the requests themselves.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from adapters.paper import checks
from adapters.paper.execution import FillPlan
from adapters.paper.groups import Groups, relink
from adapters.paper.instrument import Instrument
from adapters.paper.working import WorkingOrder
from trading_core import codes
from trading_core.account_book import reference_price
from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.enums import OrderClass, OrderStatus, OrderType, Side, TimeInForce
from trading_core.market import Session
from trading_core.market_hours import day_order_expiry
from trading_core.orders import Order, TradeEvent
from trading_core.protective import watched_while_held
from trading_core.trailing import trail_stop_price
from trading_core.values import FOUR_PLACES, ZERO, BrokerOrderId, ClientOrderId

__all__ = ["FillPlan", "Venue"]

_AT_ONCE = frozenset({TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK})
"""Market orders of these fill at once in session (when nothing limits the fill): `_fill_at_once`."""

_EXTENDED_SESSIONS = frozenset({Session.PRE_MARKET, Session.AFTER_HOURS})


class Venue(Groups):
    """Orders, books, positions and cash of one paper account: the requests it takes.

    Args:
        clock: Where every timestamp comes from.
        config: The account, the listings and how orders fill.
        emit: Called with each trade update, in order, as it happens.
    """

    # ---------------------------------------------------------------- requests: orders, prices, sessions

    def submit(self, order: Order, *, pending: bool = False) -> BrokerOrder:
        """Take a new order, or refuse it with `BrokerRejected` and no trace.

        `pending`: hold it `pending_new` (it holds buying power but does not execute) until
        `acknowledge` routes it.
        """
        if order.client_order_id in self.by_client:
            checks.duplicate_client_order_id(order.client_order_id)
        if order.order_class is not OrderClass.SIMPLE:
            return self._submit_group(order, pending=pending)
        quantity = order.quantity
        market = order.type is OrderType.MARKET  # the usual order, read once: it is no trailing stop
        checks.check_shape(order.type, quantity, order.limit_price, order.stop_price)
        if order.extended_hours:
            checks.check_extended_hours(order.type, order.time_in_force)
        trailing = not market and order.type is OrderType.TRAILING_STOP
        if trailing or order.trail_price is not None or order.trail_percent is not None:
            checks.check_trail(order.type, order.trail_price, order.trail_percent)
        inst = checks.check_asset(self.instruments.get(order.symbol), order.symbol, quantity)
        if order.time_in_force is not TimeInForce.DAY:
            self._check_time_in_force(order.time_in_force)
            if quantity != quantity.to_integral_value():
                checks.check_fractional(order.time_in_force)
        opening = checks.opening_quantity(
            inst, order.side, quantity, can_short=self.can_short, reject_flips=self._reject_flips
        )
        now = self.clock.now()
        if market and self.is_open and self._fills_at_once and order.time_in_force in _AT_ONCE and not pending:
            return self._fill_at_once(order, inst, opening, now)
        w = self._working(order, inst, now)
        if opening:
            self._hold(w, inst, opening, available=self.ledger.buying_power)
        if pending:
            self._register(w, inst)
            return self._publish(TradeEvent.PENDING_NEW, w, now)
        return self._route(w, inst, now)

    def acknowledge(self, broker_order_id: BrokerOrderId) -> None:
        """Route an order held `pending_new`: `new` (or `accepted` while closed), then it executes.

        Nothing happens to an order no longer pending (cancelled or expired in the meantime).
        """
        w = self.working.get(broker_order_id)
        if w is not None and w.status is OrderStatus.PENDING_NEW:
            announce = self._announce_group if w.legs else self._announce
            announce(w, self.instruments[w.symbol], self.clock.now())

    def cancel(self, broker_order_id: BrokerOrderId) -> None:
        """Cancel an open order: `pending_cancel`, then `canceled`."""
        w = self.open_order(broker_order_id)
        now = self.clock.now()
        w.status = OrderStatus.PENDING_CANCEL
        self._publish(TradeEvent.PENDING_CANCEL, w, now)
        self._cancel(w, now)
        if w.legs or w.parent is not None:
            self._cancel_group(w, now)

    def replace(
        self,
        broker_order_id: BrokerOrderId,
        *,
        client_order_id: ClientOrderId,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        time_in_force: TimeInForce | None = None,
        trail: Decimal | None = None,
    ) -> BrokerOrder:
        """Replace an open order by a new one; return the new order.

        What is not given is copied from the old order; without `quantity` the new order takes
        the old one's unfilled remainder. A trailing stop's `trail` replaces its trail of the same
        kind, from the mark as it stands. Events: `pending_replace` and `replaced` for the old
        order, then `new` (or `accepted` while closed) for the new one, which executes at once; a
        held leg's replacement is held in its place instead, and works when its entry has filled.

        Raises:
            OrderNotFound: No order has this id.
            OrderNotCancelable: The order is closed, or not in a status that can be replaced.
            BrokerRejected: The new order is refused as a new order would be (its client order id
                taken, its shape, its buying power).
        """
        old = self._open_to_replace(broker_order_id, held_too=True)
        if client_order_id in self.by_client:
            checks.duplicate_client_order_id(client_order_id)
        held = old.status is OrderStatus.HELD
        inst = self.instruments[old.symbol]
        now = self.clock.now()
        new = self._new_order(
            client_order_id=client_order_id,
            symbol=old.symbol,
            side=old.side,
            order_type=old.type,
            time_in_force=time_in_force or old.time_in_force,
            quantity=old.remaining if quantity is None else quantity,
            limit_price=old.limit_price if limit_price is None else limit_price,
            stop_price=old.stop_price if stop_price is None else stop_price,
            extended_hours=old.extended_hours,
            now=now,
            replaces=old.id,
        )
        self._take_over(old, new, inst, trail, held=held)
        self._end_replaced(old, new, now)
        if held:  # it works when its entry has filled, as the leg it replaces would have (a watched one now)
            return self._hold_leg(new, inst, now)
        return self._route(new, inst, now)

    def _take_over(
        self, old: WorkingOrder, new: WorkingOrder, inst: Instrument, trail: Decimal | None, *, held: bool
    ) -> None:
        """What a replacement takes over from the old order (its trail, its place in a group), and its checks."""
        if old.type is OrderType.TRAILING_STOP:
            self._trail_over(old, new, trail)
        elif trail is not None:
            checks.refuse(codes.INVALID_ORDER, f"{old.type} orders take no trail", field="trail")
        if old.parent is not None:  # a leg's new price: it holds nothing, as the leg did not
            checks.check_shape(new.type, new.quantity, new.limit_price, new.stop_price)
            self._take_over_leg(old, new)
            if held:  # held from now on, in the old leg's place: its group is settled as it ends
                new.status, new.watched = OrderStatus.HELD, old.watched
        else:
            if old.legs:
                self._take_over_parent(old, new)
            self._check_replacement(old, new, inst)

    def _end_replaced(self, old: WorkingOrder, new: WorkingOrder, now: datetime) -> None:
        """The old order's end: `pending_replace`, then `replaced` by the new one."""
        old.status = OrderStatus.PENDING_REPLACE
        self._publish(TradeEvent.PENDING_REPLACE, old, now)
        self._close(old, OrderStatus.REPLACED)
        self._publish(TradeEvent.REPLACED, old, now, replaced_by=new.id)

    def _trail_over(self, old: WorkingOrder, new: WorkingOrder, trail: Decimal | None) -> None:
        """A trailing stop's replacement: its trail (the new one, in the old one's kind) from the old mark."""
        new.trail_price, new.trail_percent = old.trail_price, old.trail_percent
        if trail is not None:
            if old.trail_price is not None:
                new.trail_price = trail
            else:
                new.trail_percent = trail
            checks.check_trail(new.type, new.trail_price, new.trail_percent)
        new.triggered, new.hwm = old.triggered, old.hwm
        if old.hwm is not None:
            stop = trail_stop_price(new.side, old.hwm, trail_price=new.trail_price, trail_percent=new.trail_percent)
            new.stop_price = stop.quantize(FOUR_PLACES)

    def begin_replace(self, broker_order_id: BrokerOrderId) -> BrokerOrder:
        """Put an open order in `pending_replace` (a replace asked for and not yet confirmed).

        It keeps working (a price move may still fill it) but cannot be cancelled or replaced
        again until `end_replace`.

        Raises:
            OrderNotFound: No order has this id.
            OrderNotCancelable: The order is closed, or not in a status that can be replaced.
        """
        w = self._open_to_replace(broker_order_id)
        w.status = OrderStatus.PENDING_REPLACE
        return self._publish(TradeEvent.PENDING_REPLACE, w, self.clock.now())

    def end_replace(self, broker_order_id: BrokerOrderId, *, fill_first: bool) -> None:
        """Refuse the pending replace: `order_replace_rejected`, the old order kept.

        `fill_first`: the old order fills completely before the replace is looked at (at its limit
        price if it has one, else the current price), so the replace is refused for that: `fill`,
        then `order_replace_rejected`. An order that is working again is `new` or `partially_filled`.
        """
        w = self.working.get(broker_order_id)
        now = self.clock.now()
        if w is not None:
            if fill_first:
                inst = self.instruments[w.symbol]
                inst.remove(w)
                w.triggered = True
                self._fill(w, inst, w.remaining, inst.price if w.limit_price is None else w.limit_price, now)
            if w.is_open:
                w.status = OrderStatus.PARTIALLY_FILLED if w.filled_quantity else OrderStatus.NEW
                self._publish(TradeEvent.ORDER_REPLACE_REJECTED, w, now)
                return
        snap = self.orders.get(broker_order_id)
        if snap is not None:
            self.emit(TradeUpdate(event=TradeEvent.ORDER_REPLACE_REJECTED, order=snap, timestamp=now))

    def plan_fills(self, plan: FillPlan | None) -> None:
        """Let `plan` choose the sizes of each order's first execution (None: back to `fill_parts`)."""
        self._fill_plan = plan
        self._fills_at_once = plan is None and self._fill_parts == 1 and self._max_fill is None

    def fill_now(self, broker_order_id: BrokerOrderId) -> None:
        """Fill what remains of an open order at once: at its limit price if it has one, else the current price."""
        w = self.open_order(broker_order_id)
        inst = self.instruments[w.symbol]
        inst.remove(w)
        w.triggered = True
        fill_price = inst.price if w.limit_price is None else w.limit_price
        self._fill(w, inst, w.remaining, fill_price, self.clock.now())

    def move(self, inst: Instrument, new_price: Decimal, now: datetime) -> None:
        """Set a price; in session, the resting orders it crosses execute."""
        inst.price = new_price
        inst.priced_at = now
        self.ledger.revalue(inst)
        if self.is_open:
            if self.trailing:
                self.follow_trails(inst, now)
            self._match(inst, now)
        elif self.extended:
            self._match_extended(inst, now)

    def open(self) -> None:
        """Open the session: route the orders accepted while closed, then match every book."""
        if self.is_open:
            return
        self.is_open = True
        now = self.clock.now()
        queued, self._queued = self._queued, []
        for w in queued:
            if w.status is OrderStatus.ACCEPTED:
                self._open_queued(w, now)
        for inst in self.instruments.values():
            self._match(inst, now)

    def close(self, *, keep_extended: bool = False) -> None:
        """Close the session: execute `cls` orders, expire day orders, roll `last_equity`.

        `keep_extended`: the after-hours session follows, so extended-hours day orders go on working.
        """
        if not self.is_open:
            return
        now = self.clock.now()
        at_close, self._at_close = self._at_close, []
        for w in at_close:
            if w.is_open:
                self._execute_once(w, self.instruments[w.symbol], now)
        self.is_open = False
        for w in list(self.working.values()):
            if w.id not in self.working:
                continue  # ended meanwhile with its group: a held leg of an entry that expired before it
            kept = keep_extended and w.extended_hours  # it trades on after the close
            if w.time_in_force is TimeInForce.DAY and w.status is not OrderStatus.ACCEPTED and not kept:
                self._expire(w, now)
        self.ledger.last_equity = self.ledger.equity

    def enter(self, session: Session) -> None:
        """Move to the session the calendar says: the regular one opens as `open` does, its close
        closes as `close` does (keeping extended-hours orders when after-hours follows); the start of
        an extended session routes the extended-hours orders that waited, its end expires those of the day.
        """
        if session is Session.REGULAR:
            self.extended = False
            self.open()
            return
        extended = session in _EXTENDED_SESSIONS
        if self.is_open:
            self.close(keep_extended=extended)
        if extended and not self.extended:
            self.extended = True
            now = self.clock.now()
            waiting = [w for w in self._queued if w.extended_hours]
            self._queued = [w for w in self._queued if not w.extended_hours]
            for w in waiting:
                if w.status is OrderStatus.ACCEPTED:
                    self._open_queued(w, now)
        elif not extended and self.extended:
            self.extended = False
            now = self.clock.now()
            for w in list(self.working.values()):
                if w.id not in self.working:
                    continue  # ended meanwhile with its group
                if w.extended_hours and w.time_in_force is TimeInForce.DAY and w.status is not OrderStatus.ACCEPTED:
                    self._expire(w, now)

    def _expire(self, w: WorkingOrder, now: datetime) -> None:
        self._close(w, OrderStatus.EXPIRED)
        self._publish(TradeEvent.EXPIRED, w, now, expired_at=now)

    def _match_extended(self, inst: Instrument, now: datetime) -> None:
        """In an extended session, execute the extended-hours orders the price crosses; the rest wait."""
        if inst.idle:
            return
        for w in inst.crossed(inst.price):
            if w.extended_hours:
                self._execute(w, inst, now)
            if w.is_open:
                inst.rest(w)

    def resume_order(self, order: Order) -> None:
        """Work again an order this account had taken before a restart, under its own broker id.

        What it filled stays filled; the rest holds buying power for the exposure it adds, as it
        did, without the checks a new order meets (the account accepted it once). In session it
        executes as far as the current price allows and rests; out of session it waits for the open.
        One whose cancel was asked for (`pending_cancel`) is cancelled.
        """
        self.resume_group([order])

    def resume_group(self, orders: list[Order]) -> None:
        """`resume_order` for orders resumed together: those of one exit group are linked again first
        (`groups.relink`), so that a leg held for its entry stays held and two exits never both fill."""
        records = [(order, self._resumed(order)) for order in orders]
        relink(records)
        now = self.clock.now()
        for _, w in records:
            inst = self.instruments[w.symbol]
            self._register(w, inst)
            self.orders[w.id] = w.snapshot(now)
        for order, w in records:
            if w.status is OrderStatus.HELD and w.parent is not None and watched_while_held(w.parent, w):
                w.watched = True  # a stop-loss beside its take-profit works while it shows `held`
            elif w.status is OrderStatus.HELD or not w.is_open:
                continue
            ended = self._day_ended(w, now)
            if ended is not None:  # its session ended while the exchange was down: it expired then
                self._expire(w, ended)
                continue
            self._route_resumed(w, self.instruments[w.symbol], now)
            if order.status is OrderStatus.PENDING_CANCEL and w.is_open:  # asked to cancel before the stop
                self.cancel(w.id)

    def _day_ended(self, w: WorkingOrder, now: datetime) -> datetime | None:
        """When a day order's session ended, if before `now`; None while it lasts, or with no calendar."""
        if self.calendar is None or w.time_in_force is not TimeInForce.DAY:
            return None
        ends = day_order_expiry(self.calendar, w.created_at, extended_hours=w.extended_hours)
        return ends if ends <= now else None

    def _resumed(self, order: Order) -> WorkingOrder:
        """The working record of an order resumed: its fills, its status, its hold."""
        inst = self._resumable(order)
        w = self._working(order, inst, order.submitted_at or order.created_at, broker_order_id=order.broker_order_id)
        w.filled_quantity, w.filled_notional = order.filled_quantity, order.filled_notional
        w.filled_average_price = order.average_fill_price
        w.triggered = w.triggered or order.filled_quantity > ZERO  # a stop that filled had triggered
        if order.status in (OrderStatus.ACCEPTED, OrderStatus.HELD):  # taken while closed, or a leg held
            w.status = order.status
        else:
            w.status = OrderStatus.PARTIALLY_FILLED if order.filled_quantity else OrderStatus.NEW
        held = inst.position.quantity
        adds = not held or (held > 0) == (order.side is Side.BUY)
        w.reserve_quantity = w.remaining if adds else max(ZERO, w.remaining - abs(held))
        if order.leg_of is not None:
            w.reserve_quantity = ZERO  # a leg holds nothing: it sells what its entry buys
        w.reserve_price = reference_price(w.side, w.limit_price, w.stop_price, inst.price)
        return w
