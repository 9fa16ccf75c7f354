"""The paper exchange's matching venue: the account, the books, and what happens to orders.

Synchronous and free of I/O: `PaperExchange` puts the Broker port in front of it. Every change is
announced as a `TradeUpdate` handed to `emit`, in Alpaca's order of events; a refused request
raises before it changes anything.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from adapters.paper import checks
from adapters.paper.config import PaperConfig
from adapters.paper.ids import IdFactory
from adapters.paper.instrument import Instrument
from adapters.paper.ledger import Ledger
from adapters.paper.working import WorkingOrder
from trading_core import codes
from trading_core.account_book import reference_price
from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.clock import Clock
from trading_core.enums import OrderStatus, OrderType, Side, TimeInForce
from trading_core.errors import OrderNotCancelable, OrderNotFound
from trading_core.orders import Order, TradeEvent
from trading_core.values import FOUR_PLACES, ONE, ZERO, BrokerOrderId, ClientOrderId, ExecutionId, Symbol

_IMMEDIATE = frozenset({TimeInForce.IOC, TimeInForce.FOK, TimeInForce.OPG})
"""Orders that execute once, when routed, and are cancelled for whatever did not fill."""

_AT_ONCE = frozenset({TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK})
"""Market orders of these fill at once in session (when nothing limits the fill): `_fill_at_once`."""

_REPLACEABLE = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})

FillPlan = Callable[[Decimal], Sequence[Decimal] | None]
"""Chooses the fill sizes of an order's first execution from the quantity about to execute."""


class Venue:
    """Orders, books, positions and cash of one paper account.

    Args:
        clock: Where every timestamp comes from.
        config: The account, the listings and how orders fill.
        emit: Called with each trade update, in order, as it happens.
    """

    def __init__(self, clock: Clock, config: PaperConfig, emit: Callable[[TradeUpdate], None]) -> None:
        self.clock = clock
        self.emit = emit
        now = clock.now()
        self.instruments = {
            Symbol(listing.symbol): Instrument(listing.to_asset(), listing.price, now) for listing in config.listings
        }
        self.ledger = Ledger(config.starting_cash, config.effective_multiplier)
        self.can_short = config.can_short
        self.is_open = config.market_open
        self.orders: dict[BrokerOrderId, BrokerOrder] = {}
        """The latest snapshot of every order, open or closed, in submission order."""
        self.by_client: dict[ClientOrderId, BrokerOrderId] = {}
        self.working: dict[BrokerOrderId, WorkingOrder] = {}
        """Open orders only: their records are dropped when they close."""
        self._ids = IdFactory()
        self._reject_flips = config.reject_flips
        self._fill_parts = config.fill_parts
        self._max_fill = config.max_fill_quantity
        self._fills_at_once = config.fill_parts == 1 and config.max_fill_quantity is None
        self._fill_plan: FillPlan | None = None
        self._retention = config.closed_order_retention
        self._closed: deque[BrokerOrderId] = deque()
        """Closed orders oldest first, kept only when `closed_order_retention` bounds them."""
        self._queued: list[WorkingOrder] = []
        """Orders accepted while the market was closed, routed at the next open."""
        self._at_close: list[WorkingOrder] = []
        """`cls` orders, executed at the close."""
        self._seq = 0

    # ---------------------------------------------------------------- requests: orders, prices, sessions

    def submit(self, order: Order, *, pending: bool = False) -> BrokerOrder:
        """Take a new order, or refuse it with `BrokerRejected` and no trace.

        `pending`: hold it `pending_new` (it holds buying power but does not execute) until
        `acknowledge` routes it.
        """
        if order.client_order_id in self.by_client:
            checks.duplicate_client_order_id(order.client_order_id)
        quantity = order.quantity
        checks.check_shape(order.type, quantity, order.limit_price, order.stop_price)
        inst = checks.check_asset(self.instruments.get(order.symbol), order.symbol, quantity)
        if order.time_in_force is not TimeInForce.DAY:
            self._check_time_in_force(order.time_in_force)
            if quantity != quantity.to_integral_value():
                checks.check_fractional(order.time_in_force)
        opening = checks.opening_quantity(
            inst, order.side, quantity, can_short=self.can_short, reject_flips=self._reject_flips
        )
        now = self.clock.now()
        if (
            order.type is OrderType.MARKET
            and self.is_open
            and self._fills_at_once
            and order.time_in_force in _AT_ONCE
            and not pending
        ):
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
            self._announce(w, self.instruments[w.symbol], self.clock.now())

    def cancel(self, broker_order_id: BrokerOrderId) -> None:
        """Cancel an open order: `pending_cancel`, then `canceled`."""
        w = self.open_order(broker_order_id)
        now = self.clock.now()
        w.status = OrderStatus.PENDING_CANCEL
        self._publish(TradeEvent.PENDING_CANCEL, w, now)
        self._cancel(w, now)

    def replace(
        self,
        broker_order_id: BrokerOrderId,
        *,
        client_order_id: ClientOrderId,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        time_in_force: TimeInForce | None = None,
    ) -> BrokerOrder:
        """Replace an open order by a new one; return the new order.

        What is not given is copied from the old order; without `quantity` the new order takes
        the old one's unfilled remainder. Events: `pending_replace` and `replaced` for the old
        order, then `new` (or `accepted` while closed) for the new one, which executes at once.

        Raises:
            OrderNotFound: No order has this id.
            OrderNotCancelable: The order is closed, or not in a status that can be replaced.
            BrokerRejected: The new order is refused as a new order would be (its client order id
                taken, its shape, its buying power).
        """
        old = self.open_order(broker_order_id)
        if old.status not in _REPLACEABLE:
            raise OrderNotCancelable(f'order in "{old.status}" state cannot be replaced', details={"orderId": old.id})
        if client_order_id in self.by_client:
            checks.duplicate_client_order_id(client_order_id)
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
        self._check_replacement(old, new, inst)
        old.status = OrderStatus.PENDING_REPLACE
        self._publish(TradeEvent.PENDING_REPLACE, old, now)
        self._close(old, OrderStatus.REPLACED)
        self._publish(TradeEvent.REPLACED, old, now, replaced_by=new.id)
        return self._route(new, inst, now)

    def begin_replace(self, broker_order_id: BrokerOrderId) -> BrokerOrder:
        """Put an open order in `pending_replace` (a replace asked for and not yet confirmed).

        It keeps working (a price move may still fill it) but cannot be cancelled or replaced
        again until `end_replace`.

        Raises:
            OrderNotFound: No order has this id.
            OrderNotCancelable: The order is closed, or not in a status that can be replaced.
        """
        w = self.open_order(broker_order_id)
        if w.status not in _REPLACEABLE:
            raise OrderNotCancelable(f'order in "{w.status}" state cannot be replaced', details={"orderId": w.id})
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
            self.emit(_order_update(TradeEvent.ORDER_REPLACE_REJECTED, snap, now))

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
            self._match(inst, now)

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

    def close(self) -> None:
        """Close the session: execute `cls` orders, expire day orders, roll `last_equity`."""
        if not self.is_open:
            return
        now = self.clock.now()
        at_close, self._at_close = self._at_close, []
        for w in at_close:
            if w.is_open:
                self._execute_once(w, self.instruments[w.symbol], now)
        self.is_open = False
        for w in list(self.working.values()):
            if w.time_in_force is TimeInForce.DAY and w.status is not OrderStatus.ACCEPTED:
                self._close(w, OrderStatus.EXPIRED)
                self._publish(TradeEvent.EXPIRED, w, now, expired_at=now)
        self.ledger.last_equity = self.ledger.equity

    def resume_order(self, order: Order) -> None:
        """Work again an order this account had taken before a restart, under its own broker id.

        What it filled stays filled; the rest holds buying power for the exposure it adds, as it
        did, without the checks a new order meets (the account accepted it once). In session it
        executes as far as the current price allows and rests; out of session it waits for the open.
        One whose cancel was asked for (`pending_cancel`) is cancelled.
        """
        inst = self._resumable(order)
        w = self._working(order, inst, order.submitted_at or order.created_at, broker_order_id=order.broker_order_id)
        w.filled_quantity, w.filled_notional = order.filled_quantity, order.filled_notional
        w.filled_average_price = order.average_fill_price
        w.triggered = w.triggered or order.filled_quantity > ZERO  # a stop that filled had triggered
        if order.status is OrderStatus.ACCEPTED:  # taken while closed and not routed yet
            w.status = OrderStatus.ACCEPTED
        else:
            w.status = OrderStatus.PARTIALLY_FILLED if order.filled_quantity else OrderStatus.NEW
        held = inst.position.quantity
        adds = not held or (held > 0) == (order.side is Side.BUY)
        w.reserve_quantity = w.remaining if adds else max(ZERO, w.remaining - abs(held))
        w.reserve_price = reference_price(w.side, w.limit_price, w.stop_price, inst.price)
        self._register(w, inst)
        now = self.clock.now()
        self.orders[w.id] = w.snapshot(now)
        self._route_resumed(w, inst, now)
        if order.status is OrderStatus.PENDING_CANCEL and w.is_open:  # asked to cancel before the stop
            self.cancel(w.id)

    def _resumable(self, order: Order) -> Instrument:
        if order.broker_order_id is None or not order.status.is_open:
            raise ValueError(f"order {order.id} is not an open order at the broker")
        if order.broker_order_id in self.orders or order.client_order_id in self.by_client:
            raise ValueError(f"order {order.id} is already on the paper exchange")
        inst = self.instruments.get(order.symbol)
        if inst is None:
            raise ValueError(f"{order.symbol} is not listed on the paper exchange")
        return inst

    def _route_resumed(self, w: WorkingOrder, inst: Instrument, now: datetime) -> None:
        if w.status is OrderStatus.ACCEPTED:
            if self.is_open:
                self._open_queued(w, now)
            else:
                self._queued.append(w)
        elif self.is_open:
            self._work(w, inst, now)
        elif w.time_in_force is TimeInForce.CLS:
            self._at_close.append(w)
        else:
            inst.rest(w)  # the open matches it

    def open_order(self, broker_order_id: BrokerOrderId) -> WorkingOrder:
        """The open order with this id, neither being cancelled nor replaced.

        Raises:
            OrderNotFound: No order has this id.
            OrderNotCancelable: The order is closed, or a cancel or replace of it is pending.
        """
        w = self.working.get(broker_order_id)
        if w is not None and w.status not in (OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_REPLACE):
            return w
        snap = self.orders.get(broker_order_id)
        if snap is None:
            raise OrderNotFound("order not found", details={"orderId": broker_order_id})
        raise OrderNotCancelable(f'order is already in "{snap.status}" state', details={"orderId": broker_order_id})

    # ---------------------------------------------------------------- acceptance

    def _fill_at_once(self, order: Order, inst: Instrument, opening: Decimal, now: datetime) -> BrokerOrder:
        """The hot path: a market order in session, filled whole at once: `new`, then `fill`.

        It does what `_route` and `_work` would do for it, without the working record, the holds
        and the open quantities that would be taken and given back within this call.
        """
        fill_price = inst.price
        if opening:
            checks.check_buying_power(opening * fill_price, self.ledger.buying_power)
        broker_order_id = BrokerOrderId(self._ids.next())
        quantity = order.quantity
        symbol = inst.asset.symbol
        accepted = _market_order(order, broker_order_id, symbol, now)
        self.by_client[order.client_order_id] = broker_order_id
        self.emit(_order_update(TradeEvent.NEW, accepted, now))
        change = self.ledger.settle(inst, order.side, quantity, fill_price, now)
        filled = _market_order(order, broker_order_id, symbol, now, fill_price=fill_price)
        self.orders[broker_order_id] = filled
        self._retire(broker_order_id)
        self.emit(
            _fill_update(
                TradeEvent.FILL,
                filled,
                now,
                execution_id=ExecutionId(self._ids.next()),
                fill_price=fill_price,
                quantity=quantity,
                position_quantity=change.after.quantity,
            )
        )
        return accepted

    def _working(
        self, order: Order, inst: Instrument, now: datetime, *, broker_order_id: BrokerOrderId | None = None
    ) -> WorkingOrder:
        """The working order for `order` as sent to us (or resumed under its broker id)."""
        return self._new_order(
            client_order_id=order.client_order_id,
            symbol=inst.asset.symbol,
            side=order.side,
            order_type=order.type,
            time_in_force=order.time_in_force,
            quantity=order.quantity,
            limit_price=order.limit_price,
            stop_price=order.stop_price,
            extended_hours=order.extended_hours,
            now=now,
            broker_order_id=broker_order_id,
        )

    def _new_order(
        self,
        *,
        client_order_id: ClientOrderId,
        symbol: Symbol,
        side: Side,
        order_type: OrderType,
        time_in_force: TimeInForce,
        quantity: Decimal,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
        extended_hours: bool,
        now: datetime,
        replaces: BrokerOrderId | None = None,
        broker_order_id: BrokerOrderId | None = None,
    ) -> WorkingOrder:
        """A working order under a new broker id (or the one it had, when it is resumed)."""
        self._seq += 1
        return WorkingOrder(
            id=broker_order_id or BrokerOrderId(self._ids.next()),
            client_order_id=client_order_id,
            symbol=symbol,
            side=side,
            type=order_type,
            time_in_force=time_in_force,
            quantity=quantity,
            limit_price=limit_price,
            stop_price=stop_price,
            extended_hours=extended_hours,
            created_at=now,
            seq=self._seq,
            replaces=replaces,
        )

    def _check_replacement(self, old: WorkingOrder, new: WorkingOrder, inst: Instrument) -> None:
        """Refuse a replacement as a submission would be, counting the old order as gone."""
        checks.check_shape(new.type, new.quantity, new.limit_price, new.stop_price)
        if not (old.whole and new.whole):
            checks.refuse(codes.INVALID_ORDER, "fractional orders cannot be replaced", field="quantity")
        self._check_time_in_force(new.time_in_force)
        opening = checks.opening_quantity(
            inst,
            new.side,
            new.quantity,
            can_short=self.can_short,
            reject_flips=self._reject_flips,
            released=old.remaining,
        )
        held = old.reserve_quantity * old.reserve_price
        self._hold(new, inst, opening, available=self.ledger.buying_power + held)

    def _check_time_in_force(self, tif: TimeInForce) -> None:
        if tif is TimeInForce.OPG and self.is_open:
            checks.refuse(codes.MARKET_CLOSED, "opg orders are not accepted while the session is open")

    def _hold(self, w: WorkingOrder, inst: Instrument, opening: Decimal, *, available: Decimal) -> None:
        """Check and hold buying power for the exposure the order adds (refusing it if short)."""
        reference = reference_price(w.side, w.limit_price, w.stop_price, inst.price)
        cost = opening * reference
        checks.check_buying_power(cost, available)
        w.reserve_price = reference
        w.reserve_quantity = opening

    def _route(self, w: WorkingOrder, inst: Instrument, now: datetime) -> BrokerOrder:
        """Register an accepted order, announce it, and let it execute if the session is open."""
        self._register(w, inst)
        return self._announce(w, inst, now)

    def _announce(self, w: WorkingOrder, inst: Instrument, now: datetime) -> BrokerOrder:
        """Announce a registered order `new` and work it, or `accepted` and queue it while closed."""
        if self.is_open:
            w.status = OrderStatus.NEW
            accepted = self._publish(TradeEvent.NEW, w, now)
            self._work(w, inst, now)
        else:
            w.status = OrderStatus.ACCEPTED
            accepted = self._publish(TradeEvent.ACCEPTED, w, now)
            self._queued.append(w)
        return accepted

    def _register(self, w: WorkingOrder, inst: Instrument) -> None:
        """Count an open order in: by its client id, as working, its unfilled side, its hold."""
        self.by_client[w.client_order_id] = w.id
        self.working[w.id] = w
        if w.side is Side.BUY:
            inst.open_buy += w.remaining
        else:
            inst.open_sell += w.remaining
        self.ledger.reserved += w.reserve_quantity * w.reserve_price

    def _open_queued(self, w: WorkingOrder, now: datetime) -> None:
        """Route an order accepted while closed; refuse it if the open price left it unaffordable."""
        inst = self.instruments[w.symbol]
        if w.reserve_quantity:
            held = w.reserve_quantity * w.reserve_price
            reference = reference_price(w.side, w.limit_price, w.stop_price, inst.price)
            if w.reserve_quantity * reference > self.ledger.buying_power + held:
                self._close(w, OrderStatus.REJECTED)
                self._publish(TradeEvent.REJECTED, w, now)
                return
            self.ledger.reserved += w.reserve_quantity * reference - held
            w.reserve_price = reference
        w.status = OrderStatus.NEW
        self._publish(TradeEvent.NEW, w, now)
        self._work(w, inst, now)

    # ---------------------------------------------------------------- execution

    def _work(self, w: WorkingOrder, inst: Instrument, now: datetime) -> None:
        """Execute a routed order as far as the current price allows; rest or cancel the rest."""
        if w.time_in_force is TimeInForce.CLS:
            self._at_close.append(w)
        elif w.time_in_force in _IMMEDIATE:
            self._execute_once(w, inst, now)
        else:
            self._execute(w, inst, now)
            if w.is_open:
                inst.rest(w)

    def _execute_once(self, w: WorkingOrder, inst: Instrument, now: datetime) -> None:
        """ioc, opg and cls: fill what the price allows now (fok: all of it or nothing), cancel the rest."""
        if w.time_in_force is TimeInForce.FOK and self._fillable(w, inst.price) < w.remaining:
            self._cancel(w, now)
            return
        self._execute(w, inst, now)
        if w.is_open:
            self._cancel(w, now)

    def _fillable(self, w: WorkingOrder, current: Decimal) -> Decimal:
        """How much of the order the current price lets execute now; a crossed stop triggers for good."""
        stop = w.stop_price
        if not w.triggered and stop is not None:  # untriggered: a stop order, with its stop price
            if not (current >= stop if w.side is Side.BUY else current <= stop):
                return ZERO
            w.triggered = True
        limit = w.limit_price
        if limit is not None and not (current <= limit if w.side is Side.BUY else current >= limit):
            return ZERO
        remaining = w.quantity - w.filled_quantity
        cap = self._max_fill
        return remaining if cap is None or remaining <= cap else cap

    def _execute(self, w: WorkingOrder, inst: Instrument, now: datetime) -> None:
        """Fill what the current price allows, at the current price, in `fill_parts` parts."""
        current = inst.price
        quantity = self._fillable(w, current)
        if not quantity:
            return
        plan = self._fill_plan
        if plan is not None and not w.filled_quantity:
            sizes = plan(quantity)
            if sizes:
                for part in _planned(quantity, sizes):
                    self._fill(w, inst, part, current, now)
                return
        if self._fill_parts == 1:
            self._fill(w, inst, quantity, current, now)
            return
        for part in _split(quantity, self._fill_parts, whole=w.whole):
            self._fill(w, inst, part, current, now)

    def _fill(self, w: WorkingOrder, inst: Instrument, quantity: Decimal, fill_price: Decimal, now: datetime) -> None:
        unfilled = w.quantity - w.filled_quantity
        change = self.ledger.settle(inst, w.side, quantity, fill_price, now)
        w.record_fill(quantity, fill_price, now)
        if w.reserve_quantity:
            # The order's adding part comes after its reducing part: release what of it filled.
            opened = quantity - (unfilled - w.reserve_quantity)
            if opened > ZERO:
                w.reserve_quantity -= opened
                self.ledger.reserved -= opened * w.reserve_price
        if w.side is Side.BUY:
            inst.open_buy -= quantity
        else:
            inst.open_sell -= quantity
        if w.status is OrderStatus.FILLED:
            event = TradeEvent.FILL
            del self.working[w.id]
        else:
            event = TradeEvent.PARTIAL_FILL
        snap = w.snapshot(now)
        self.orders[w.id] = snap
        if event is TradeEvent.FILL:
            self._retire(w.id)
        self.emit(
            _fill_update(
                event,
                snap,
                now,
                execution_id=ExecutionId(self._ids.next()),
                fill_price=fill_price,
                quantity=quantity,
                position_quantity=change.after.quantity,
            )
        )

    def _match(self, inst: Instrument, now: datetime) -> None:
        """Execute the resting orders of one instrument that its current price crosses."""
        if inst.idle:  # the usual case with market orders only: skip four heap walks
            return
        current = inst.price
        for w in inst.triggered(current):
            w.triggered = True
            inst.rest(w)
        for w in inst.crossed(current):
            self._execute(w, inst, now)
            if w.is_open:
                inst.rest(w)

    # ---------------------------------------------------------------- closing and publishing

    def _cancel(self, w: WorkingOrder, now: datetime) -> None:
        self._close(w, OrderStatus.CANCELED)
        self._publish(TradeEvent.CANCELED, w, now, canceled_at=now)

    def _close(self, w: WorkingOrder, status: OrderStatus) -> None:
        """Take an open order off the books without a fill, releasing what it held."""
        inst = self.instruments[w.symbol]
        unfilled = w.quantity - w.filled_quantity
        if w.side is Side.BUY:
            inst.open_buy -= unfilled
        else:
            inst.open_sell -= unfilled
        self.ledger.reserved -= w.reserve_quantity * w.reserve_price
        w.reserve_quantity = ZERO
        inst.remove(w)
        del self.working[w.id]
        w.status = status
        self._retire(w.id)

    def _publish(
        self,
        event: TradeEvent,
        w: WorkingOrder,
        now: datetime,
        *,
        canceled_at: datetime | None = None,
        expired_at: datetime | None = None,
        replaced_by: BrokerOrderId | None = None,
    ) -> BrokerOrder:
        snap = w.snapshot(now, canceled_at=canceled_at, expired_at=expired_at, replaced_by=replaced_by)
        self.orders[w.id] = snap
        self.emit(_order_update(event, snap, now))
        return snap

    def _retire(self, broker_order_id: BrokerOrderId) -> None:
        """Forget the oldest closed orders beyond `closed_order_retention` (order and client id), if it is set."""
        retention = self._retention
        if retention is None:
            return
        closed = self._closed
        closed.append(broker_order_id)
        while len(closed) > retention:
            forgotten = self.orders.pop(closed.popleft())
            del self.by_client[forgotten.client_order_id]


def _market_order(
    order: Order, broker_order_id: BrokerOrderId, symbol: Symbol, now: datetime, *, fill_price: Decimal | None = None
) -> BrokerOrder:
    """The snapshot of a market order taken at `now`: `new`, or with `fill_price` filled whole then."""
    filled = fill_price is not None
    return BrokerOrder(
        broker_order_id=broker_order_id,
        client_order_id=order.client_order_id,
        symbol=symbol,
        side=order.side,
        type=OrderType.MARKET,
        time_in_force=order.time_in_force,
        quantity=order.quantity,
        status=OrderStatus.FILLED if filled else OrderStatus.NEW,
        created_at=now,
        updated_at=now,
        submitted_at=now,
        filled_quantity=order.quantity if filled else ZERO,
        filled_average_price=fill_price,
        extended_hours=order.extended_hours,
        filled_at=now if filled else None,
    )


def _order_update(event: TradeEvent, order: BrokerOrder, now: datetime) -> TradeUpdate:
    """The update announcing that `order` moved with `event` (no execution)."""
    return TradeUpdate(event=event, order=order, timestamp=now)


def _fill_update(
    event: TradeEvent,
    order: BrokerOrder,
    now: datetime,
    *,
    execution_id: ExecutionId,
    fill_price: Decimal,
    quantity: Decimal,
    position_quantity: Decimal,
) -> TradeUpdate:
    """The update of one execution (`fill` or `partial_fill`)."""
    return TradeUpdate(
        event=event,
        order=order,
        timestamp=now,
        execution_id=execution_id,
        price=fill_price,
        quantity=quantity,
        position_quantity=position_quantity,
    )


def _split(quantity: Decimal, parts: int, *, whole: bool) -> Iterable[Decimal]:
    """`parts` fill sizes adding up to `quantity`: equal, in whole shares when it is whole."""
    size = (quantity / parts).quantize(ONE if whole else _fraction_step(quantity), rounding=ROUND_DOWN)
    if not size:
        return (quantity,)
    return [size] * (parts - 1) + [quantity - size * (parts - 1)]


def _fraction_step(quantity: Decimal) -> Decimal:
    """Four places, or the quantity's own scale when it is finer (a simulator may take Alpaca's nine)."""
    exponent = quantity.as_tuple().exponent
    if not isinstance(exponent, int):
        raise ValueError(f"a quantity must be finite, was {quantity}")
    return FOUR_PLACES if exponent >= -4 else ONE.scaleb(exponent)


def _planned(quantity: Decimal, sizes: Sequence[Decimal]) -> list[Decimal]:
    """The given sizes while they leave something to fill, then the rest (sizes <= 0 are skipped)."""
    parts: list[Decimal] = []
    left = quantity
    for size in sizes:
        if size >= left:
            break
        if size > ZERO:
            parts.append(size)
            left -= size
    parts.append(left)
    return parts
