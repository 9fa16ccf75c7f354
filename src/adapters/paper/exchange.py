"""The paper exchange: a simulated broker in-process, behind the Broker and MarketData ports.

It behaves like Alpaca's paper account: orders get the broker's statuses and the trade_updates
events in Alpaca's order, fills move an account of cash and positions (positions through the
core's own `apply_fill`, so engine and exchange agree to the cent), and it refuses what Alpaca
refuses with the codes listed in `adapters.paper.checks`.

Everything happens synchronously inside the call that causes it: `submit_order` of a market
order in session has emitted `new` and `fill` by the time it returns; the returned order is the
one of the `new` event (Alpaca's REST answer reports the order as accepted; fills follow on the
stream). Time comes from the injected clock; prices move only by `set_price` and `step_prices`.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING

from adapters.paper import checks
from adapters.paper.calendar import next_open_and_close
from adapters.paper.config import PaperConfig
from adapters.paper.ids import IdFactory
from adapters.paper.instrument import Instrument
from adapters.paper.ledger import Ledger
from adapters.paper.working import WorkingOrder
from trading_core import codes
from trading_core.broker_models import BrokerOrder, BrokerPosition, TradeUpdate
from trading_core.clock import Clock
from trading_core.enums import OrderStatus, OrderType, Side, TimeInForce
from trading_core.errors import OrderNotCancelable, OrderNotFound
from trading_core.market import Account, Asset, MarketClock, Quote, Session
from trading_core.orders import Order, TradeEvent
from trading_core.ports import OrderFilter
from trading_core.values import FOUR_PLACES, ONE, ZERO, BrokerOrderId, ClientOrderId, ExecutionId, Symbol, price

if TYPE_CHECKING:
    from trading_core.ports import Broker, MarketData

_IMMEDIATE = frozenset({TimeInForce.IOC, TimeInForce.FOK, TimeInForce.OPG})
"""Orders that execute once, when routed, and are cancelled for whatever did not fill."""

_AT_ONCE = frozenset({TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK})
"""Market orders of these fill at once in session (when nothing limits the fill): `_fill_at_once`."""

_REPLACEABLE = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})
_HUNDRED = Decimal(100)
_BASIS_POINTS = 10_000


class PaperExchange:
    """A simulated brokerage account with a market of listed assets.

    Controls for tests and simulations: `set_price`, `step_prices` (a seeded random walk in
    whole cents), `open_market` and `close_market`.

    Args:
        clock: Where every timestamp comes from.
        config: Account, listings and fill behaviour; the defaults are a $100,000 margin account
            (multiplier 2) on a small US universe, market open, one fill per execution.
    """

    def __init__(self, clock: Clock, *, config: PaperConfig | None = None) -> None:
        self.config = cfg = config or PaperConfig()
        self._clock = clock
        now = clock.now()
        self._rng = random.Random(cfg.seed)  # noqa: S311  # a reproducible price walk, not a secret
        self._ids = IdFactory()
        self._account_id = str(uuid.uuid4())
        self._instruments = {
            Symbol(listing.symbol): Instrument(listing.to_asset(), listing.price, now) for listing in cfg.listings
        }
        self._ledger = Ledger(cfg.starting_cash, cfg.effective_multiplier)
        self._can_short = cfg.can_short
        self._reject_flips = cfg.reject_flips
        self._fill_parts = cfg.fill_parts
        self._max_fill = cfg.max_fill_quantity
        self._fills_at_once = cfg.fill_parts == 1 and cfg.max_fill_quantity is None
        self._retention = cfg.closed_order_retention
        self._closed: deque[BrokerOrderId] = deque()
        """Closed orders oldest first, kept only when `closed_order_retention` bounds them."""
        self._is_open = cfg.market_open
        self._orders: dict[BrokerOrderId, BrokerOrder] = {}
        """The latest snapshot of every order, open or closed, in submission order."""
        self._by_client: dict[ClientOrderId, BrokerOrderId] = {}
        self._working: dict[BrokerOrderId, WorkingOrder] = {}
        """Open orders only: their records are dropped when they close."""
        self._queued: list[WorkingOrder] = []
        """Orders accepted while the market was closed, routed at the next open."""
        self._at_close: list[WorkingOrder] = []
        """`cls` orders, executed at the close."""
        self._seq = 0
        self._updates: deque[TradeUpdate] = deque(maxlen=cfg.max_pending_updates)
        self._arrived = asyncio.Event()
        self.dropped_updates = 0
        """Trade updates dropped because nobody drained them (see `max_pending_updates`)."""

    # ---------------------------------------------------------------- the Broker port: orders

    async def submit_order(self, order: Order) -> BrokerOrder:
        """Take a new order under its `client_order_id`; a refusal raises `BrokerRejected`."""
        return self._submit(order)

    async def get_order(self, broker_order_id: BrokerOrderId) -> BrokerOrder:
        snap = self._orders.get(broker_order_id)
        if snap is None:
            raise OrderNotFound("order not found", details={"orderId": broker_order_id})
        return snap

    async def get_order_by_client_id(self, client_order_id: ClientOrderId) -> BrokerOrder | None:
        broker_order_id = self._by_client.get(client_order_id)
        return None if broker_order_id is None else self._orders[broker_order_id]

    async def list_orders(
        self, *, status: OrderFilter = OrderFilter.OPEN, after: datetime | None = None, limit: int = 500
    ) -> list[BrokerOrder]:
        """Newest first, like Alpaca's default direction; `after` is exclusive.

        Orders are kept in submission order, so the walk stops at the first one submitted at or
        before `after` (this assumes the clock does not move backwards).
        """
        source: Iterator[BrokerOrder]
        if status is OrderFilter.OPEN:
            source = (w.snap for w in reversed(self._working.values()) if w.snap is not None)
        else:
            source = reversed(self._orders.values())
        found: list[BrokerOrder] = []
        for snap in source:
            if len(found) >= limit or (after is not None and snap.submitted_at <= after):
                break
            if status is OrderFilter.CLOSED and snap.status.is_open:
                continue
            found.append(snap)
        return found

    async def cancel_order(self, broker_order_id: BrokerOrderId) -> None:
        """Cancel an open order: `pending_cancel`, then `canceled`."""
        w = self._open_order(broker_order_id)
        now = self._clock.now()
        w.status = OrderStatus.PENDING_CANCEL
        self._publish(TradeEvent.PENDING_CANCEL, w, now)
        self._cancel(w, now)

    async def cancel_all_orders(self) -> list[BrokerOrderId]:
        """Cancel every open order; the ids of those cancelled, oldest first."""
        cancelled = []
        for w in list(self._working.values()):
            await self.cancel_order(w.id)
            cancelled.append(w.id)
        return cancelled

    async def replace_order(
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

        What is not given is copied from the old order. `quantity` is the new order's whole
        quantity (it starts unfilled); when omitted, the new order takes the old one's unfilled
        remainder, so replacing only a price never buys again what has filled. Events: the old
        order `pending_replace` then `replaced` (with `replaced_by`), then `new` (or `accepted`
        when the market is closed) for the new order, which then executes like a submission.
        """
        old = self._open_order(broker_order_id)
        if old.status not in _REPLACEABLE:
            raise OrderNotCancelable(f'order in "{old.status}" state cannot be replaced', details={"orderId": old.id})
        if client_order_id in self._by_client:
            checks.duplicate_client_order_id(client_order_id)
        qty = old.remaining if quantity is None else quantity
        limit = limit_price if limit_price is not None else old.limit_price
        stop = stop_price if stop_price is not None else old.stop_price
        tif = time_in_force or old.time_in_force
        checks.check_shape(old.type, qty, limit, stop)
        if not (old.whole and qty == qty.to_integral_value()):
            checks.refuse(codes.INVALID_ORDER, "fractional orders cannot be replaced", field="quantity")
        instrument = self._instruments[old.symbol]
        self._check_time_in_force(tif)
        held = old.reserve_quantity * old.reserve_price
        opening = checks.opening_quantity(
            instrument,
            old.side,
            qty,
            can_short=self._can_short,
            reject_flips=self._reject_flips,
            released=old.remaining,
        )
        now = self._clock.now()
        self._seq += 1
        new = WorkingOrder(
            id=BrokerOrderId(self._ids.next()),
            client_order_id=client_order_id,
            symbol=old.symbol,
            side=old.side,
            type=old.type,
            time_in_force=tif,
            quantity=qty,
            limit_price=limit,
            stop_price=stop,
            extended_hours=old.extended_hours,
            created_at=now,
            seq=self._seq,
            replaces=old.id,
        )
        self._hold(new, instrument, opening, available=self._ledger.buying_power + held)
        old.status = OrderStatus.PENDING_REPLACE
        self._publish(TradeEvent.PENDING_REPLACE, old, now)
        self._close(old, OrderStatus.REPLACED)
        self._publish(TradeEvent.REPLACED, old, now, replaced_by=new.id)
        return self._route(new, instrument, now)

    # ---------------------------------------------------------------- account, assets, clock

    async def list_positions(self) -> list[BrokerPosition]:
        """Open positions, by symbol, valued at the current price."""
        return [
            BrokerPosition(
                symbol=symbol,
                quantity=inst.position.quantity,
                average_entry_price=inst.position.average_entry_price,
                cost_basis=inst.position.cost_basis,
                current_price=inst.price,
            )
            for symbol, inst in sorted(self._instruments.items())
            if inst.position.quantity
        ]

    async def get_account(self) -> Account:
        ledger = self._ledger
        return Account(
            account_id=self._account_id,
            cash=ledger.cash,
            equity=ledger.equity,
            buying_power=ledger.buying_power,
            last_equity=ledger.last_equity,
            multiplier=ledger.multiplier,
            shorting_enabled=self._can_short,
        )

    async def get_clock(self) -> MarketClock:
        now = self._clock.now()
        next_open, next_close = next_open_and_close(now, is_open=self._is_open)
        return MarketClock(
            timestamp=now,
            is_open=self._is_open,
            next_open=next_open,
            next_close=next_close,
            session=Session.REGULAR if self._is_open else Session.CLOSED,
        )

    async def get_asset(self, symbol: Symbol) -> Asset | None:
        inst = self._instruments.get(symbol)
        return None if inst is None else inst.asset

    async def list_assets(self) -> list[Asset]:
        return [inst.asset for inst in self._instruments.values()]

    async def latest_quote(self, symbol: Symbol) -> Quote | None:
        """The current price, as a quote with no spread (bid = ask = price)."""
        inst = self._instruments.get(symbol)
        if inst is None:
            return None
        return Quote(symbol=symbol, price=inst.price, timestamp=inst.priced_at, bid=inst.price, ask=inst.price)

    async def health(self) -> Mapping[str, str]:
        return {"broker": "connected"}

    # ---------------------------------------------------------------- the trade update stream

    def drain_updates(self) -> list[TradeUpdate]:
        """Trade updates not taken yet, oldest first; never blocks."""
        taken = list(self._updates)
        self._updates.clear()
        return taken

    async def next_updates(self) -> list[TradeUpdate]:
        """Wait until at least one trade update is there, then take all of them."""
        while not self._updates:
            self._arrived.clear()
            await self._arrived.wait()
        return self.drain_updates()

    # ---------------------------------------------------------------- controls

    @property
    def is_open(self) -> bool:
        return self._is_open

    def price(self, symbol: str) -> Decimal:
        """The current price of a listed symbol."""
        return self._instrument(symbol).price

    def set_price(self, symbol: str, new_price: Decimal) -> None:
        """Move a symbol's price; in session, the resting orders it crosses execute."""
        inst = self._instrument(symbol)
        self._move(inst, price(new_price, field="price"), self._clock.now())

    def step_prices(self, n: int = 1) -> None:
        """Advance every price `n` steps of the seeded random walk, in whole cents.

        One step moves a price by a uniform whole number of cents within `volatility_bp` basis
        points of it (at least one cent either way), never below one cent.
        """
        bp = self.config.volatility_bp
        for _ in range(n):
            now = self._clock.now()
            for inst in self._instruments.values():
                cents = int(inst.price * _HUNDRED)
                width = max(1, cents * bp // _BASIS_POINTS)
                moved = max(1, cents + self._rng.randint(-width, width))
                self._move(inst, Decimal(moved).scaleb(-2), now)

    def open_market(self) -> None:
        """Open the session: route the orders accepted while closed, then match every book."""
        if self._is_open:
            return
        self._is_open = True
        now = self._clock.now()
        queued, self._queued = self._queued, []
        for w in queued:
            if w.status is OrderStatus.ACCEPTED:
                self._open_queued(w, now)
        for inst in self._instruments.values():
            self._match(inst, now)

    def close_market(self) -> None:
        """Close the session: execute `cls` orders, expire day orders, roll `last_equity`."""
        if not self._is_open:
            return
        now = self._clock.now()
        at_close, self._at_close = self._at_close, []
        for w in at_close:
            if w.is_open:
                self._execute_once(w, self._instruments[w.symbol], now)
        self._is_open = False
        for w in list(self._working.values()):
            if w.time_in_force is TimeInForce.DAY and w.status is not OrderStatus.ACCEPTED:
                self._close(w, OrderStatus.EXPIRED)
                self._publish(TradeEvent.EXPIRED, w, now, expired_at=now)
        self._ledger.last_equity = self._ledger.equity

    # ---------------------------------------------------------------- submission

    def _submit(self, order: Order) -> BrokerOrder:
        if order.client_order_id in self._by_client:
            checks.duplicate_client_order_id(order.client_order_id)
        quantity = order.quantity
        checks.check_shape(order.type, quantity, order.limit_price, order.stop_price)
        whole = quantity == quantity.to_integral_value()
        inst = checks.check_asset(self._instruments.get(order.symbol), order.symbol, quantity, whole=whole)
        if order.time_in_force is not TimeInForce.DAY:
            self._check_time_in_force(order.time_in_force)
        opening = checks.opening_quantity(
            inst, order.side, quantity, can_short=self._can_short, reject_flips=self._reject_flips
        )
        now = self._clock.now()
        if order.type is OrderType.MARKET and self._is_open and self._fills_at_once and order.time_in_force in _AT_ONCE:
            return self._fill_at_once(order, inst, opening, now)
        self._seq += 1
        w = WorkingOrder(
            id=BrokerOrderId(self._ids.next()),
            client_order_id=order.client_order_id,
            symbol=inst.asset.symbol,
            side=order.side,
            type=order.type,
            time_in_force=order.time_in_force,
            quantity=quantity,
            limit_price=order.limit_price,
            stop_price=order.stop_price,
            extended_hours=order.extended_hours,
            created_at=now,
            seq=self._seq,
        )
        if opening:
            self._hold(w, inst, opening, available=self._ledger.buying_power)
        return self._route(w, inst, now)

    def _fill_at_once(self, order: Order, inst: Instrument, opening: Decimal, now: datetime) -> BrokerOrder:
        """The hot path: a market order in session, filled whole at once: `new`, then `fill`.

        It does what `_route` and `_work` would do for it, without the working record, the holds
        and the open quantities that would be taken and given back within this call.
        """
        fill_price = inst.price
        if opening:
            checks.check_buying_power(opening * fill_price, self._ledger.buying_power)
        broker_order_id = BrokerOrderId(self._ids.next())
        quantity = order.quantity
        accepted = BrokerOrder(
            broker_order_id=broker_order_id,
            client_order_id=order.client_order_id,
            symbol=inst.asset.symbol,
            side=order.side,
            type=OrderType.MARKET,
            time_in_force=order.time_in_force,
            quantity=quantity,
            status=OrderStatus.NEW,
            created_at=now,
            updated_at=now,
            submitted_at=now,
            extended_hours=order.extended_hours,
        )
        self._by_client[order.client_order_id] = broker_order_id
        self._emit(TradeUpdate(event=TradeEvent.NEW, order=accepted, timestamp=now))
        change = self._ledger.settle(inst, order.side, quantity, fill_price, now)
        filled = BrokerOrder(
            broker_order_id=broker_order_id,
            client_order_id=order.client_order_id,
            symbol=accepted.symbol,
            side=order.side,
            type=OrderType.MARKET,
            time_in_force=order.time_in_force,
            quantity=quantity,
            status=OrderStatus.FILLED,
            created_at=now,
            updated_at=now,
            submitted_at=now,
            filled_quantity=quantity,
            filled_average_price=fill_price,
            extended_hours=order.extended_hours,
            filled_at=now,
        )
        self._orders[broker_order_id] = filled
        if self._retention is not None:
            self._retire(broker_order_id)
        self._emit(
            TradeUpdate(
                event=TradeEvent.FILL,
                order=filled,
                timestamp=now,
                execution_id=ExecutionId(self._ids.next()),
                price=fill_price,
                quantity=quantity,
                position_quantity=change.after.quantity,
            )
        )
        return accepted

    def _check_time_in_force(self, tif: TimeInForce) -> None:
        if tif is TimeInForce.OPG and self._is_open:
            checks.refuse(codes.MARKET_CLOSED, "opg orders are not accepted while the session is open")

    def _hold(self, w: WorkingOrder, inst: Instrument, opening: Decimal, *, available: Decimal) -> None:
        """Check and hold buying power for the exposure the order adds (refusing it if short)."""
        reference = checks.reference_price(w.side, w.limit_price, w.stop_price, inst.price)
        cost = opening * reference
        checks.check_buying_power(cost, available)
        w.reserve_price = reference
        w.reserve_quantity = opening

    def _route(self, w: WorkingOrder, inst: Instrument, now: datetime) -> BrokerOrder:
        """Register an accepted order, announce it, and let it execute if the session is open."""
        self._by_client[w.client_order_id] = w.id
        self._working[w.id] = w
        if w.side is Side.BUY:
            inst.open_buy += w.quantity
        else:
            inst.open_sell += w.quantity
        self._ledger.reserved += w.reserve_quantity * w.reserve_price
        if self._is_open:
            w.status = OrderStatus.NEW
            accepted = self._publish(TradeEvent.NEW, w, now)
            self._work(w, inst, now)
        else:
            w.status = OrderStatus.ACCEPTED
            accepted = self._publish(TradeEvent.ACCEPTED, w, now)
            self._queued.append(w)
        return accepted

    def _open_queued(self, w: WorkingOrder, now: datetime) -> None:
        """Route an order accepted while closed; refuse it if the open price left it unaffordable."""
        inst = self._instruments[w.symbol]
        if w.reserve_quantity:
            held = w.reserve_quantity * w.reserve_price
            reference = checks.reference_price(w.side, w.limit_price, w.stop_price, inst.price)
            if w.reserve_quantity * reference > self._ledger.buying_power + held:
                self._close(w, OrderStatus.REJECTED)
                self._publish(TradeEvent.REJECTED, w, now)
                return
            self._ledger.reserved += w.reserve_quantity * reference - held
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
        if not w.triggered:
            stop = w.stop_price
            assert stop is not None
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
        if self._fill_parts == 1:
            self._fill(w, inst, quantity, current, now)
            return
        for part in _split(quantity, self._fill_parts, whole=w.whole):
            self._fill(w, inst, part, current, now)

    def _fill(self, w: WorkingOrder, inst: Instrument, quantity: Decimal, fill_price: Decimal, now: datetime) -> None:
        unfilled = w.quantity - w.filled_quantity
        change = self._ledger.settle(inst, w.side, quantity, fill_price, now)
        w.record_fill(quantity, fill_price, now)
        if w.reserve_quantity:
            # The order's adding part comes after its reducing part: release what of it filled.
            opened = quantity - (unfilled - w.reserve_quantity)
            if opened > ZERO:
                w.reserve_quantity -= opened
                self._ledger.reserved -= opened * w.reserve_price
        if w.side is Side.BUY:
            inst.open_buy -= quantity
        else:
            inst.open_sell -= quantity
        if w.status is OrderStatus.FILLED:
            event = TradeEvent.FILL
            del self._working[w.id]
        else:
            event = TradeEvent.PARTIAL_FILL
        snap = w.snapshot(now)
        self._orders[w.id] = snap
        if self._retention is not None and event is TradeEvent.FILL:
            self._retire(w.id)
        self._emit(
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

    def _move(self, inst: Instrument, new_price: Decimal, now: datetime) -> None:
        inst.price = new_price
        inst.priced_at = now
        self._ledger.revalue(inst)
        if self._is_open:
            self._match(inst, now)

    def _match(self, inst: Instrument, now: datetime) -> None:
        """Execute the resting orders of one instrument that its current price crosses."""
        current = inst.price
        for w in inst.triggered(current):
            w.triggered = True
            inst.rest(w)
        for w in inst.crossed(current):
            self._execute(w, inst, now)
            if w.is_open:
                inst.rest(w)

    # ---------------------------------------------------------------- closing orders

    def _open_order(self, broker_order_id: BrokerOrderId) -> WorkingOrder:
        w = self._working.get(broker_order_id)
        if w is not None and w.status not in (OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_REPLACE):
            return w
        snap = self._orders.get(broker_order_id)
        if snap is None:
            raise OrderNotFound("order not found", details={"orderId": broker_order_id})
        raise OrderNotCancelable(f'order is already in "{snap.status}" state', details={"orderId": broker_order_id})

    def _cancel(self, w: WorkingOrder, now: datetime) -> None:
        self._close(w, OrderStatus.CANCELED)
        self._publish(TradeEvent.CANCELED, w, now, canceled_at=now)

    def _close(self, w: WorkingOrder, status: OrderStatus) -> None:
        """Take an open order off the books without a fill, releasing what it held."""
        inst = self._instruments[w.symbol]
        unfilled = w.quantity - w.filled_quantity
        if w.side is Side.BUY:
            inst.open_buy -= unfilled
        else:
            inst.open_sell -= unfilled
        self._ledger.reserved -= w.reserve_quantity * w.reserve_price
        w.reserve_quantity = ZERO
        inst.remove(w)
        del self._working[w.id]
        w.status = status
        if self._retention is not None:
            self._retire(w.id)

    # ---------------------------------------------------------------- publishing

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
        self._orders[w.id] = snap
        self._emit(TradeUpdate(event=event, order=snap, timestamp=now))
        return snap

    def _emit(self, update: TradeUpdate) -> None:
        updates = self._updates
        if len(updates) == updates.maxlen:
            self.dropped_updates += 1
        updates.append(update)
        self._arrived.set()

    def _retire(self, broker_order_id: BrokerOrderId) -> None:
        """Forget the oldest closed orders beyond `closed_order_retention` (order and client id)."""
        closed = self._closed
        closed.append(broker_order_id)
        assert self._retention is not None
        while len(closed) > self._retention:
            forgotten = self._orders.pop(closed.popleft())
            del self._by_client[forgotten.client_order_id]

    def _instrument(self, symbol: str) -> Instrument:
        inst = self._instruments.get(Symbol(symbol))
        if inst is None:
            raise KeyError(f"{symbol} is not listed on the paper exchange")
        return inst


def _split(quantity: Decimal, parts: int, *, whole: bool) -> Iterable[Decimal]:
    """`parts` fill sizes adding up to `quantity`: equal, in whole shares when it is whole."""
    size = (quantity / parts).quantize(ONE if whole else FOUR_PLACES, rounding=ROUND_DOWN)
    if not size:
        return (quantity,)
    return [size] * (parts - 1) + [quantity - size * (parts - 1)]


if TYPE_CHECKING:

    def _implements_the_ports(exchange: PaperExchange) -> tuple[Broker, MarketData]:
        """mypy checks here that the exchange has every method of both ports, exactly typed."""
        return exchange, exchange
