"""Submission: from a request to an order stored and sent.

A repeated client order id is answered with the first order (a retry gets what became of it). A
notional order is sized first; then the risk rules decide. A refused order is kept for the audit
trail, or, refused only because the market is closed, held for the open under the queueing
policy. An order that takes a position through zero is split at flat: its closing half goes now,
its opening half once that has filled (see `dispatch`). Check and hold are one step: the book
holds the order before anything else can run a check.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

import attrs

from trading_core import codes
from trading_core.engine.checks import PreTradeChecks
from trading_core.engine.dispatch import Dispatch, with_ids
from trading_core.engine.parts import EngineParts
from trading_core.enums import EngineProtection, OrderClass, OrderStatus, TradingState
from trading_core.errors import (
    BrokerError,
    BrokerRejected,
    DuplicateClientOrderId,
    InvalidOrder,
    OrderInDoubt,
    StoreError,
)
from trading_core.lifecycle import reject
from trading_core.order_classes import leg_client_order_id, leg_requests
from trading_core.orders import Order
from trading_core.requests import (
    OrderRequest,
    follow_up_client_order_id,
    opening_client_order_id,
    split_quantities,
)
from trading_core.risk import PreTradeValidation
from trading_core.values import ClientOrderId, OrderId, new_client_order_id, new_order_id
from trading_core.views import SubmitResult

orders_log = logging.getLogger("trading.orders")
"""One line per change in an order's life; `apps.logs` logs the changes that are events."""


def nothing_placed(error: BrokerError) -> BrokerError:
    """`error`, saying that no order was stored or sent, so that the same request may be sent again."""
    return BrokerError(
        f"{error.message}; nothing was placed: sending the same request again is safe",
        retryable=True,
        status=error.status,
        details={**error.details, "placed": False},
    )


def order_fields(order: Order) -> dict[str, str]:
    """What a line about an order carries, as structured fields."""
    return {
        "order_id": str(order.id),
        "client_order_id": str(order.client_order_id),
        "symbol": str(order.symbol),
        "side": order.side.value,
        "quantity": str(order.quantity),
        "status": order.api_status.value,
        "broker_status": order.status.value,
    }


def log_accepted(order: Order) -> None:
    """The order is taken and stored, before anything is sent (the one change that is not an event)."""
    if orders_log.isEnabledFor(logging.INFO):
        orders_log.info(
            "order accepted: %s %s %s (%s)",
            order.side.value,
            order.quantity,
            order.symbol,
            order.type.value,
            extra=order_fields(order),
        )


class Submission:
    """Checks, stores and sends new orders.

    Args:
        parts: the engine's shared parts.
        checks: the pre-trade checks.
        dispatch: sends what passed.
    """

    def __init__(self, parts: EngineParts, checks: PreTradeChecks, dispatch: Dispatch) -> None:
        self._parts = parts
        self._checks = checks
        self._dispatch = dispatch
        self.last_order_at: datetime | None = None
        """When the last order was checked (for the service's health)."""

    async def submit(self, request: OrderRequest) -> SubmitResult:
        """Check, store, then send an order; a repeated client order id returns the first order.

        Raises:
            DuplicateClientOrderId: a repeat asked for another order than the first.
            BrokerError: the checks could not read the broker (a quote, the account): nothing was
                stored or sent (`details["placed"]` is False), and the request may be sent again.
            InvalidOrder: a notional order could not be sized.
            StoreError: the store failed; after the order may have left, it names the order's ids.
        """
        parts = self._parts
        if request.client_order_id is not None:
            existing = await parts.store.get_order_by_client_id(request.client_order_id)
            if existing is not None:
                return await self._replay(existing, request)
        try:  # nothing is stored before the checks have passed: a broker failure here placed nothing
            asked = request if request.notional is None else await self._checks.sized(request)
            request = await self._checks.with_exits(asked)
            if parts.trading.state is not TradingState.ACTIVE:
                await parts.trading.before_checks()
            validation = await self._checks.validate(request)
        except BrokerError as e:
            if isinstance(e, BrokerRejected | OrderInDoubt):
                raise
            raise nothing_placed(e) from e
        now = parts.clock.now()
        self.last_order_at = now
        if not validation.approved:
            return await self._refused(
                request, validation, now, exits_attached=request.order_class is not asked.order_class
            )
        attached = request.order_class is not asked.order_class  # `risk.stopLossPercent`'s exits
        order, legs, follow_up = build_orders(request, now, parts.book.held(request.symbol), exits_attached=attached)
        with parts.in_flight.placing(order.id):
            try:  # both halves (or an entry and its legs) at once: a check made meanwhile must see the whole order
                await parts.ledger.insert([order, *legs] if follow_up is None else [order, follow_up])
            except DuplicateClientOrderId:
                # A repeat that overlapped the first call, which stored its order meanwhile.
                first = await self._first(request)
                if first is None:
                    raise
                return await self._replay(first, request)
            log_accepted(order)
            try:
                sent = await self._dispatch.send_in_flight(order)  # marked above, before it was stored
            except StoreError as e:
                raise with_ids(e, order) from e
            return SubmitResult(sent, validation, None if follow_up is None else await parts.current(follow_up))

    async def _refused(
        self, request: OrderRequest, validation: PreTradeValidation, now: datetime, *, exits_attached: bool
    ) -> SubmitResult:
        """A request the checks refused: held for the open when it may be, else kept as rejected."""
        if self._checks.queueable(validation):
            # Held here as `accepted` (taken, not routed) until `Sessions.opened` sends it.
            queued, legs = build_group(request, now, status=OrderStatus.ACCEPTED, exits_attached=exits_attached)
            await self._parts.ledger.insert([queued, *legs])
            log_accepted(queued)
            return SubmitResult(queued, validation)
        await self._parts.trading.after_checks(validation)
        code = validation.rejection_code or codes.INVALID_ORDER
        rejected = await self.record_rejection(request, code=code, reason=validation.rejection_reason or "")
        return SubmitResult(rejected, validation)

    async def _first(self, request: OrderRequest) -> Order | None:
        if request.client_order_id is None:
            return None
        return await self._parts.store.get_order_by_client_id(request.client_order_id)

    async def _replay(self, first: Order, request: OrderRequest) -> SubmitResult:
        """The answer to a repeated client order id: the first order, if the repeat asks for the same.

        Raises:
            DuplicateClientOrderId: the repeat asks for another order.
        """
        follow_up = None
        quantity = first.quantity
        if request.quantity is not None and quantity < request.quantity:  # perhaps split at flat
            store = self._parts.store
            found = await store.get_order_by_client_id(follow_up_client_order_id(first.client_order_id))
            # Its id is derived from the first's; its parent may be the first's replacement by now.
            if found is not None and found.parent_id is not None:
                follow_up, quantity = found, quantity + found.quantity
        try:
            held: OrderRequest | None = OrderRequest.from_order(first, quantity=quantity)
        except InvalidOrder:  # the record of a malformed request that was refused: no repeat asks for it
            held = None
        if held is not None and first.engine_protection is EngineProtection.EXITS_ATTACHED:
            # The exits were the engine's (`risk.stopLossPercent`): the caller asked for none.
            held = attrs.evolve(held, order_class=OrderClass.SIMPLE, take_profit=None, stop_loss=None)
        if held is None or not request.repeats(held):
            raise DuplicateClientOrderId(
                f"client order id {first.client_order_id} was given to another order ({first.id}): "
                "a repeat must ask for the same order",
                details={"clientOrderId": first.client_order_id, "orderId": first.id},
            )
        return SubmitResult(first, follow_up=follow_up)

    async def record_rejection(self, request: OrderRequest, *, code: str, reason: str) -> Order:
        """Keep a refused order for the audit trail, announced as `trade.order.rejected`."""
        existing = await self._first(request)
        if existing is not None:
            return existing
        now = self._parts.clock.now()
        order, events = reject(build_order(request, now), code=code, reason=reason, now=now)
        await self._parts.ledger.insert([order], events)
        return order


def build_orders(
    request: OrderRequest, now: datetime, held: Decimal, *, exits_attached: bool
) -> tuple[Order, list[Order], Order | None]:
    """The orders a request that passed its checks becomes: the order and its legs (`build_group`),
    or, when it takes the position `held` through zero, its closing half and the opening half that
    waits for it (`split_quantities`). Both halves are built from the request itself.
    """
    split = split_quantities(request, held)
    if split is None:
        order, legs = build_group(request, now, exits_attached=exits_attached)
        return order, legs, None
    closing, opening = split
    order = build_order(request, now, quantity=closing)
    follow_up = build_order(
        request, now, quantity=opening, client_order_id=opening_client_order_id(request), parent_id=order.id
    )
    return order, [], follow_up


def build_group(
    request: OrderRequest,
    now: datetime,
    *,
    status: OrderStatus = OrderStatus.PENDING_NEW,
    exits_attached: bool = False,
) -> tuple[Order, list[Order]]:
    """A new order for `request` and, for an order class, its legs: orders of their own that name it
    (`leg_of`), which it lists (`legs`), their client order ids derived from its own. They are sent
    with it, never alone: the broker holds them until the entry fills (`trading_core.protective`).

    `exits_attached`: the exits are the engine's (`risk.stopLossPercent`), not the caller's; the
    entry is marked so (`EngineProtection.EXITS_ATTACHED`, see `trading_core.remainder`).
    """
    order = build_order(request, now, status=status)
    if request.order_class is OrderClass.SIMPLE:
        return order, []
    if exits_attached:
        order = attrs.evolve(order, engine_protection=EngineProtection.EXITS_ATTACHED)
    legs = [
        attrs.evolve(
            build_order(
                attrs.evolve(leg, client_order_id=leg_client_order_id(order.client_order_id, role)), now, status=status
            ),
            leg_of=order.id,
        )
        for role, leg in leg_requests(request).items()
    ]
    return attrs.evolve(order, legs=tuple(leg.id for leg in legs)), legs


def build_order(
    request: OrderRequest,
    now: datetime,
    *,
    parent_id: OrderId | None = None,
    status: OrderStatus = OrderStatus.PENDING_NEW,
    replaces: Order | None = None,
    quantity: Decimal | None = None,
    client_order_id: ClientOrderId | None = None,
) -> Order:
    """A new order for `request`, with new ids: its client order id is `client_order_id`, else the
    request's, else a new one; its quantity `quantity`, else the request's."""
    return Order.from_request(
        request,
        order_id=new_order_id(now),
        client_order_id=client_order_id or request.client_order_id or new_client_order_id(),
        now=now,
        status=status,
        parent_id=parent_id,
        replaces=replaces.id if replaces is not None else None,
        quantity=quantity,
    )
