"""How the paper exchange takes orders in: holds, routing, the fast path, orders queued while closed, resumed orders."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from adapters.paper import checks
from adapters.paper.execution import Execution
from adapters.paper.instrument import Instrument
from adapters.paper.updates import market_order
from adapters.paper.working import WorkingOrder
from trading_core import codes
from trading_core.account_book import reference_price
from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.enums import OrderStatus, OrderType, Side, TimeInForce
from trading_core.errors import OrderNotCancelable, OrderNotFound
from trading_core.orders import Order, TradeEvent
from trading_core.trailing import trail_stop_price
from trading_core.values import FOUR_PLACES, BrokerOrderId, ClientOrderId, ExecutionId, Symbol

_REPLACEABLE = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})
"""Statuses in which an order can be replaced (a held leg's too, where `_open_to_replace` allows it)."""


class Acceptance(Execution):
    """Acceptance of new, replacing and resumed orders, on top of `Execution`."""

    def _resumable(self, order: Order) -> Instrument:
        if order.broker_order_id is None or not order.status.is_open:
            raise ValueError(f"order {order.id} is not an open order at the broker")
        if order.broker_order_id in self.orders or order.client_order_id in self.by_client:
            raise ValueError(f"order {order.id} is already on the paper exchange")
        inst = self.instruments.get(order.symbol)
        if inst is None:
            raise ValueError(f"{order.symbol} is not listed on the paper exchange")
        return inst

    def _trades_now(self, w: WorkingOrder) -> bool:
        """Whether the order may execute now: in the regular session, or an extended-hours one in the extended."""
        return self.is_open or (self.extended and w.extended_hours)

    def _route_resumed(self, w: WorkingOrder, inst: Instrument, now: datetime) -> None:
        if w.status is OrderStatus.ACCEPTED:
            if self._trades_now(w):
                self._open_queued(w, now)
            else:
                self._queued.append(w)
        elif self._trades_now(w):
            self._work(w, inst, now)
        elif w.time_in_force is TimeInForce.CLS:
            self._at_close.append(w)
        elif not w.triggered and w.type is OrderType.TRAILING_STOP:
            self.trailing[w.id] = w  # its mark starts again with the first price in session
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

    def _open_to_replace(self, broker_order_id: BrokerOrderId, *, held_too: bool = False) -> WorkingOrder:
        """The open order with this id, in a status that can be replaced (`held_too`: a held leg's too).

        Raises:
            OrderNotFound: No order has this id.
            OrderNotCancelable: The order is closed, or not in a status that can be replaced.
        """
        w = self.open_order(broker_order_id)
        # A held leg is replaced too, and its replacement is held in its place: Alpaca refuses a
        # replace only in accepted, pending_new, pending_cancel and pending_replace (its API
        # reference), and its order guide says a bracket's legs take a new price, while a
        # bracket's stop-loss stays held as long as its take-profit works.
        if w.status not in _REPLACEABLE and not (held_too and w.status is OrderStatus.HELD):
            raise OrderNotCancelable(f'order in "{w.status}" state cannot be replaced', details={"orderId": w.id})
        return w

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
        accepted = market_order(order, broker_order_id, symbol, now)
        self.by_client[order.client_order_id] = broker_order_id
        self.emit(TradeUpdate(event=TradeEvent.NEW, order=accepted, timestamp=now))
        change = self.ledger.settle(inst, order.side, quantity, fill_price, now)
        filled = market_order(order, broker_order_id, symbol, now, fill_price=fill_price)
        self.orders[broker_order_id] = filled
        self._retire(broker_order_id)
        self.emit(
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

    def _working(
        self, order: Order, inst: Instrument, now: datetime, *, broker_order_id: BrokerOrderId | None = None
    ) -> WorkingOrder:
        """The working order for `order` as sent to us (or resumed under its broker id)."""
        w = self._new_order(
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
        if order.type is OrderType.TRAILING_STOP:
            w.trail_price, w.trail_percent, w.triggered = order.trail_price, order.trail_percent, False
            w.hwm = order.hwm if order.hwm is not None else inst.price  # the mark starts where it is taken
            w.stop_price = trail_stop_price(
                w.side, w.hwm, trail_price=w.trail_price, trail_percent=w.trail_percent
            ).quantize(FOUR_PLACES)
        return w

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
        trailing = new.type is OrderType.TRAILING_STOP  # its stop is derived, not asked for
        checks.check_shape(new.type, new.quantity, new.limit_price, None if trailing else new.stop_price)
        if new.extended_hours:
            checks.check_extended_hours(new.type, new.time_in_force)
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
        """Announce a registered order `new` and work it, or `accepted` and queue it while it may not trade."""
        if self._trades_now(w):
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
        if not w.counted:  # an exit its group counts once
            pass
        elif w.side is Side.BUY:
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
