"""Where the paper exchange's orders execute: the account's books, fills, matching, and closing orders.

`Execution` holds the state of one paper account (instruments, ledger, orders, working orders) and
the one place orders fill: `_work` runs a routed order, `_match` the resting orders a price
crosses, `_fill` settles one execution; `_close` takes an order off the books without a fill.
Requests (`Venue`) and acceptance (`Acceptance`) build on it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from adapters.paper.config import PaperConfig
from adapters.paper.ids import IdFactory
from adapters.paper.instrument import Instrument
from adapters.paper.ledger import Ledger
from adapters.paper.working import WorkingOrder
from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.clock import Clock
from trading_core.enums import OrderClass, OrderStatus, OrderType, Side, TimeInForce
from trading_core.orders import TradeEvent
from trading_core.protective import executable, exits, exits_to_cancel, legs_held, watched_while_held
from trading_core.trailing import next_hwm, trail_stop_price, trailing_triggered
from trading_core.values import FOUR_PLACES, ONE, ZERO, BrokerOrderId, ClientOrderId, ExecutionId, Symbol

_IMMEDIATE = frozenset({TimeInForce.IOC, TimeInForce.FOK, TimeInForce.OPG})
"""Orders that execute once, when routed, and are cancelled for whatever did not fill."""

FillPlan = Callable[[Decimal], Sequence[Decimal] | None]
"""Chooses the fill sizes of an order's first execution from the quantity about to execute."""


class Execution:
    """Orders, books, positions and cash of one paper account, and how its orders execute.

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
        """The regular session is open."""
        self.calendar = config.calendar
        """The sessions' calendar (None in the always-open mode): when a resumed day order's day ended."""
        self.extended = False
        """The pre-market or after-hours session is on (by the calendar): only extended-hours orders trade."""
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
        self.trailing: dict[BrokerOrderId, WorkingOrder] = {}
        """Trailing stops not yet triggered, whose stop follows the price (`follow_trails`)."""
        self._ended: list[WorkingOrder] = []
        """Orders of a group closed and not yet followed by what their end ends (`settle_groups`)."""

    # ---------------------------------------------------------------- execution

    def _work(self, w: WorkingOrder, inst: Instrument, now: datetime) -> None:
        """Execute a routed order as far as the current price allows; rest or cancel the rest."""
        if not w.triggered and w.type is OrderType.TRAILING_STOP:
            self.trailing[w.id] = w  # its stop moves with the price: followed apart from the books
            self._trail(w, inst, now)
        elif w.time_in_force is TimeInForce.CLS:
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
        if w.parent is not None or w.order_class is OrderClass.OCO:  # an exit of a group: within what it may fill
            parent = w.parent or w
            remaining = executable(parent, exits(parent, parent.legs), w)
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
        if not w.counted:
            pass
        elif w.side is Side.BUY:
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
            TradeUpdate(
                event=event,
                order=snap,
                timestamp=now,
                execution_id=ExecutionId(self._ids.next()),
                price=fill_price,
                quantity=quantity,
                position_quantity=change.after.quantity,
            )
        )
        if w.legs or w.parent is not None:
            self._group_moved(w, now)

    def _group_moved(self, w: WorkingOrder, now: datetime) -> None:
        """After a fill or the end of one of a group's orders: release held legs, end spent exits.

        The rules are the core's (`trading_core.protective`): a bracket's or OTO's legs work once
        its entry has filled something, for what it filled; an exit's fill reduces the others',
        and the exits left with nothing to fill are cancelled.
        """
        parent = w.parent or w
        if not legs_held(parent):
            for leg in parent.legs:
                if leg.status is OrderStatus.HELD and not leg.watched:
                    self._release_leg(leg, now)
        for ended in exits_to_cancel(parent, exits(parent, parent.legs)):
            if ended.is_open:
                self._cancel(ended, now)

    def _release_leg(self, leg: WorkingOrder, now: datetime) -> None:
        """A held leg starts to work: `new`, then it executes as the price allows (counted once per group).

        A bracket's stop-loss stays `held` (no event) while it works, as at Alpaca
        (`trading_core.protective.watched_while_held`): it fills straight out of `held`.
        """
        inst = self.instruments[leg.symbol]
        parent = leg.parent
        leg.counted = parent is not None and leg is parent.legs[0]
        if leg.counted:
            if leg.side is Side.BUY:
                inst.open_buy += leg.remaining
            else:
                inst.open_sell += leg.remaining
        if parent is not None and watched_while_held(parent, leg):
            leg.watched = True
        else:
            leg.status = OrderStatus.NEW
            self._publish(TradeEvent.NEW, leg, now)
        self._work(leg, inst, now)

    def _trail(self, w: WorkingOrder, inst: Instrument, now: datetime) -> None:
        """Move a trailing stop's mark with the price and derive its stop; once the price has come
        back by the trail, it triggers and executes as a market order (`trading_core.trailing`)."""
        current = inst.price
        w.hwm = next_hwm(w.side, w.hwm, current)
        stop = trail_stop_price(w.side, w.hwm, trail_price=w.trail_price, trail_percent=w.trail_percent)
        shown = stop.quantize(FOUR_PLACES)  # the trigger is the exact rule
        if not trailing_triggered(w.side, w.hwm, current, trail_price=w.trail_price, trail_percent=w.trail_percent):
            if shown != w.stop_price or w.snap is None or w.snap.hwm != w.hwm:
                w.stop_price = shown
                self.orders[w.id] = w.snapshot(now)  # what a read shows; moving the mark is no event
            return
        w.stop_price = shown
        del self.trailing[w.id]
        w.triggered = True
        self._execute(w, inst, now)
        if w.is_open:
            inst.rest(w)

    def follow_trails(self, inst: Instrument, now: datetime) -> None:
        """After a price move: every trailing stop in the symbol follows it (or triggers)."""
        for w in [t for t in self.trailing.values() if t.symbol == inst.asset.symbol]:
            self._trail(w, inst, now)

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

    def settle_groups(self, now: datetime) -> None:
        """What the end of a group's orders ends in turn (legs of an entry that ended unfilled, ...);
        called once the end itself is published, so that the updates come in Alpaca's order."""
        while self._ended:
            self._group_moved(self._ended.pop(0), now)

    def _close(self, w: WorkingOrder, status: OrderStatus) -> None:
        """Take an open order off the books without a fill, releasing what it held."""
        inst = self.instruments[w.symbol]
        unfilled = w.quantity - w.filled_quantity
        if not w.counted:
            pass
        elif w.side is Side.BUY:
            inst.open_buy -= unfilled
        else:
            inst.open_sell -= unfilled
        self.ledger.reserved -= w.reserve_quantity * w.reserve_price
        w.reserve_quantity = ZERO
        inst.remove(w)
        del self.working[w.id]
        self.trailing.pop(w.id, None)
        w.status = status
        self._retire(w.id)
        if w.legs or w.parent is not None:  # once the caller has published its end (`_publish`)
            self._ended.append(w)

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
        self.emit(TradeUpdate(event=event, order=snap, timestamp=now))
        if self._ended:
            self.settle_groups(now)
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
