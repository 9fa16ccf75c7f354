"""Amendment: cancelling and replacing working orders.

The broker cancels and replaces what it holds; an order held here (queued for the open, a split's
waiting half) is cancelled or replaced here. An order on its way to the broker, or in doubt, may
be there already: it is looked up first, and `OrderNotCancelable` answers while the broker does
not show it yet. A replacement is checked for what it adds, and a split's opening half follows
its closing half through a replace.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from trading_core import codes
from trading_core.engine.checks import PreTradeChecks
from trading_core.engine.dispatch import Dispatch, with_ids
from trading_core.engine.parts import EngineParts
from trading_core.engine.submission import build_order
from trading_core.engine.updates import BrokerUpdates
from trading_core.enums import OrderClass, OrderStatus, TimeInForce
from trading_core.errors import (
    BrokerError,
    BrokerRejected,
    InvalidModification,
    InvalidOrder,
    OrderInDoubt,
    OrderNotCancelable,
    OrderNotFound,
    StoreError,
)
from trading_core.order_classes import TakeProfit
from trading_core.orders import Order, TradeEvent, ensure_cancelable, in_doubt
from trading_core.requests import OrderRequest
from trading_core.risk import PreTradeValidation
from trading_core.values import ZERO, BrokerOrderId, OrderId
from trading_core.views import SubmitResult


class Amendment:
    """Cancels and replaces orders.

    Args:
        parts: the engine's shared parts.
        checks: checks what a replacement adds.
        dispatch: records refusals and local cancels, and hands split halves over.
        updates: applies what the broker shows of an order it was asked about.
    """

    def __init__(self, parts: EngineParts, checks: PreTradeChecks, dispatch: Dispatch, updates: BrokerUpdates) -> None:
        self._parts = parts
        self._checks = checks
        self._dispatch = dispatch
        self._updates = updates

    async def cancel(self, order_id: OrderId | str) -> Order:
        """Ask the broker to cancel; an order still held here is cancelled on the spot.

        Raises:
            OrderNotFound: no such order.
            OrderNotCancelable: it has ended, or it is being placed and the broker does not show it yet.
        """
        parts = self._parts
        order = await parts.order(order_id)
        ensure_cancelable(order)
        if order.broker_order_id is None:
            if order.id not in parts.in_flight and not in_doubt(order):
                with parts.in_flight.placing(order.id):  # held here: nothing may send it meanwhile
                    return await self._dispatch.cancel_locally(order, "canceled")
            order = await self._find_at_broker(order)
            if order.broker_order_id is None or order.is_terminal:
                return order
        try:
            await parts.broker.cancel_order(order.broker_order_id)
        except OrderNotFound:
            if await self._known_to_broker(order.broker_order_id):
                raise
            return await self._dispatch.close_unknown(order)
        await self._updates.process()
        return await parts.order(order.id)

    async def _find_at_broker(self, order: Order) -> Order:
        """The order as the broker shows it, for an order being sent or in doubt.

        Raises:
            OrderNotCancelable: the broker does not show it yet.
        """
        remote = await self._parts.broker.get_order_by_client_id(order.client_order_id)
        if remote is None:
            raise OrderNotCancelable(
                f"order {order.id} is being placed and the broker does not show it yet: try again shortly",
                details={"orderId": order.id, "clientOrderId": order.client_order_id},
            )
        return await self._updates.take_broker_copy(order, remote)

    async def _known_to_broker(self, broker_order_id: BrokerOrderId) -> bool:
        try:
            await self._parts.broker.get_order(broker_order_id)
        except OrderNotFound:
            return False
        return True

    async def replace(
        self,
        order_id: OrderId | str,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        time_in_force: TimeInForce | None = None,
        trail: Decimal | None = None,
    ) -> SubmitResult:
        """Modify a working order: the broker replaces it with a new order that `replaces` it.

        `trail` is a trailing stop's new trail, of the kind it has (price or percent).

        Raises:
            OrderNotFound: no such order.
            OrderNotCancelable: it has ended, or it is being placed and the broker does not show it yet.
            BrokerError: the replacement was not sent; the old order works on unchanged.
            StoreError: the store failed; after the replacement may have left, it names its ids.
            InvalidModification: a change the order does not take (a limit price for a stop order, a
                trail for another type, a closing half grown past what it closes, a bracket's or an
                OTO's entry).
        """
        old = await self._replaceable(order_id)
        if quantity is not None and quantity > old.remaining_quantity:
            self._refuse_growing_a_closing_half(old)
        request = _replacement_request(
            old,
            quantity=quantity,
            limit_price=limit_price,
            stop_price=stop_price,
            time_in_force=time_in_force,
            trail=trail,
        )
        validation = await self._validate_increase(old, request)
        if validation is not None and not validation.approved:
            return SubmitResult(old, validation)
        new = self._replacement(old, request)
        with self._parts.in_flight.placing(new.id):
            await self._parts.ledger.insert([new])  # a failure here stored and sent nothing
            try:
                return await self._place_replacement(old, new, request, validation)
            except StoreError as e:
                raise with_ids(e, new) from e

    async def _replaceable(self, order_id: OrderId | str) -> Order:
        """The order to replace; one being sent or in doubt as the broker shows it.

        Raises:
            OrderNotFound: no such order.
            OrderNotCancelable: it has ended, or it is being placed and the broker does not show it yet.
            InvalidModification: it is a bracket's or an OTO's entry.
        """
        parts = self._parts
        old = await parts.order(order_id)
        ensure_cancelable(old)
        _refuse_replacing_an_entry(old)
        if old.broker_order_id is None and (old.id in parts.in_flight or in_doubt(old)):
            old = await self._find_at_broker(old)
            ensure_cancelable(old)
        return old

    def _replacement(self, old: Order, request: OrderRequest) -> Order:
        """The new order for `request`, replacing `old`: in its group, and the engine's exits if `old` was."""
        status = old.status if old.broker_order_id is None else OrderStatus.PENDING_NEW
        new = build_order(request, self._parts.clock.now(), status=status, replaces=old, parent_id=old.parent_id)
        if old.leg_of is not None or old.legs:  # a leg's new price, or an OCO's: it stays in its group
            new = attrs.evolve(new, leg_of=old.leg_of, legs=old.legs)
        if old.engine_protection is not None:  # the engine's exits at a new price are still the engine's
            new = attrs.evolve(new, engine_protection=old.engine_protection)
        return new

    def _refuse_growing_a_closing_half(self, old: Order) -> None:
        """A split order's closing half closes the position exactly; its opening half follows it.

        Grown, it would take the position past flat itself while the opening half still goes out
        after it: more than was asked, in all. The opening half is the one to change.

        Raises:
            InvalidModification: `old` is a closing half with an opening half waiting for it.
        """
        waiting = [o for o in self._parts.book.open_orders_in(old.symbol) if o.parent_id == old.id]
        if waiting:
            raise InvalidModification(
                f"order {old.id} closes the position and order {waiting[0].id} opens the rest after it: "
                "a larger quantity would sell or buy past flat twice; change the opening order instead",
                field="quantity",
                details={"orderId": old.id, "openingOrderId": waiting[0].id},
            )

    async def _place_replacement(
        self, old: Order, new: Order, request: OrderRequest, validation: PreTradeValidation | None
    ) -> SubmitResult:
        dispatch = self._dispatch
        broker_id = old.broker_order_id
        if broker_id is None:  # queued for the open: replace it here
            await self._link_replacement(old, new)
            await dispatch.cancel_locally(old, "replaced", TradeEvent.REPLACED)
            return SubmitResult(await self._parts.order(new.id), validation)
        try:
            accepted = await self._parts.broker.replace_order(
                broker_id,
                client_order_id=new.client_order_id,
                quantity=request.quantity,
                limit_price=request.limit_price,
                stop_price=request.stop_price,
                time_in_force=request.time_in_force,
                trail=_new_trail(old, request),
            )
        except BrokerRejected as e:
            return SubmitResult(await dispatch.refuse(new, e.code, e.message), validation)
        except (OrderNotCancelable, OrderNotFound) as e:
            # The old order ended at the broker before the replace reached it (a fill we have not
            # heard of yet): the replacement was never created there, so it must not wait as sent.
            await dispatch.refuse(new, e.code, e.message)
            raise
        except OrderInDoubt as e:
            await self._link_replacement(old, new)
            return SubmitResult(await dispatch.hold_in_doubt(new, e), validation)
        except BrokerError as e:  # not sent: the old order works on unchanged
            await dispatch.refuse(new, codes.BROKER_ERROR, f"not sent to the broker: {e.message}")
            raise
        await self._link_replacement(old, new)
        return SubmitResult(await dispatch.record_acceptance(new, accepted), validation)

    async def _link_replacement(self, old: Order, new: Order) -> None:
        """Record that `new` replaces `old`; the opening half of a split follows its closing half."""
        await self._parts.ledger.change(old, lambda o, now: (attrs.evolve(o, replaced_by=new.id, updated_at=now), []))
        await self._dispatch.hand_over(old, new)
        await self._hand_over_group(old, new)

    async def _hand_over_group(self, old: Order, new: Order) -> None:
        """A replaced leg's parent lists its replacement instead; a replaced OCO's leg names its replacement."""
        ledger, parts = self._parts.ledger, self._parts
        if old.leg_of is not None:
            parent = await parts.order(old.leg_of)
            swap = tuple(new.id if leg == old.id else leg for leg in parent.legs)
            await ledger.change(parent, lambda o, now: (attrs.evolve(o, legs=swap, updated_at=now), []))
        for leg_id in old.legs:
            leg = await parts.order(leg_id)
            await ledger.change(leg, lambda o, now: (attrs.evolve(o, leg_of=new.id, updated_at=now), []))

    async def _validate_increase(self, old: Order, request: OrderRequest) -> PreTradeValidation | None:
        """A replacement is checked for what it adds: a larger quantity is new exposure."""
        if request.quantity is None:
            raise InvalidOrder("a replacement names its quantity", field="quantity")
        extra = request.quantity - old.remaining_quantity
        if extra <= ZERO:
            return None
        return await self._checks.validate(attrs.evolve(request, quantity=extra))


def _refuse_replacing_an_entry(old: Order) -> None:
    """A bracket's or an OTO's entry is not replaced, as at Alpaca; its legs' prices are.

    Alpaca's order guide: "Like bracket orders, order replacement is not supported yet" (of OTO
    orders), while a bracket's and an OCO's exits take a new `limit_price` or `stop_price`.

    Raises:
        InvalidModification: `old` is the entry of a bracket or an OTO.
    """
    if old.order_class in (OrderClass.BRACKET, OrderClass.OTO):
        raise InvalidModification(
            f"{old.order_class} orders cannot be replaced: change a leg's price, or cancel the order "
            "(its legs with it) and send a new one",
            field="order_class",
            details={"orderId": old.id},
        )


def _replacement_request(
    old: Order,
    *,
    quantity: Decimal | None,
    limit_price: Decimal | None,
    stop_price: Decimal | None,
    time_in_force: TimeInForce | None,
    trail: Decimal | None,
) -> OrderRequest:
    """The request for `old` with the changes given; what is not given stays as `old` has it.

    Raises:
        InvalidModification: a change the order does not take; its details name the order.
    """
    try:
        return OrderRequest.from_order(
            old,
            quantity=quantity if quantity is not None else old.remaining_quantity,
            time_in_force=time_in_force or old.time_in_force,
            limit_price=limit_price if limit_price is not None else old.limit_price,
            stop_price=stop_price if stop_price is not None else old.stop_price,
            client_order_id=None,  # the replacement's own, made when it is built
            **_trail_change(old, trail),
            **_take_profit_change(old, limit_price),
        )
    except InvalidModification as e:  # already one: its details name the order
        e.details.setdefault("orderId", old.id)
        raise
    except InvalidOrder as e:  # the changes were well formed: it is the order they meet that refuses them
        raise InvalidModification(e.message, field=e.field, details={"orderId": old.id}) from e


def _trail_change(old: Order, trail: Decimal | None) -> dict[str, Decimal | None]:
    """The request fields a new `trail` sets: the old order's kind of trail (Alpaca's `trail` cannot switch).

    Raises:
        InvalidModification: a trail for an order that is no trailing stop.
    """
    if trail is None:
        return {}
    if old.trail_price is None and old.trail_percent is None:
        raise InvalidModification(f"{old.type} orders take no trail", field="trail")
    return {"trail_price": trail} if old.trail_price is not None else {"trail_percent": trail}


def _new_trail(old: Order, request: OrderRequest) -> Decimal | None:
    """The trail to send with a replacement: the request's, when it differs from the old order's."""
    if request.trail_price != old.trail_price:
        return request.trail_price
    if request.trail_percent != old.trail_percent:
        return request.trail_percent
    return None


def _take_profit_change(old: Order, limit_price: Decimal | None) -> dict[str, TakeProfit]:
    """An OCO's limit is its take-profit's: a new limit moves both."""
    if limit_price is None or old.order_class is not OrderClass.OCO:
        return {}
    return {"take_profit": TakeProfit(limit_price)}
