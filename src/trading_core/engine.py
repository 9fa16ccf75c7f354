"""The trading engine: the application service that sequences ports and pure domain calls.

It decides nothing itself: risk rules decide what passes, the order state machine and position
math decide what changes, and the broker decides what fills. The engine keeps the order of
operations that makes that safe: an order is stored before it is sent, every change commits
with the events that announce it (see `ledger`), and an ambiguous broker failure is resolved by
looking the client order id up, never by sending again.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

import attrs

from trading_core import codes
from trading_core.book import Book
from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.clock import Clock
from trading_core.closing import PositionCloser
from trading_core.enums import OrderStatus, TimeInForce, TradingState
from trading_core.errors import (
    BrokerError,
    BrokerRejected,
    DuplicateClientOrderId,
    InvalidOrder,
    OrderInDoubt,
    OrderNotCancelable,
    OrderNotFound,
    PositionNotFound,
    StoreError,
    TradingError,
)
from trading_core.events import Event
from trading_core.facts import BrokerFacts
from trading_core.ledger import EventListener, OrderLedger
from trading_core.market import EASTERN
from trading_core.orders import Order, TradeEvent, apply_event, ensure_cancelable, hold_in_doubt, in_doubt, reject
from trading_core.ports import Broker, MarketData, OrderFilter, OrderPage, OrderStore, TradingStateRecord
from trading_core.positions import Position
from trading_core.requests import OrderRequest, follow_up_client_order_id, split_at_flat
from trading_core.risk import PreTradeValidation, RiskContext, RiskEngine, RiskLimits
from trading_core.trading_state import TradingStateKeeper
from trading_core.values import (
    FOUR_PLACES,
    ZERO,
    BrokerOrderId,
    OrderId,
    Symbol,
    money,
    new_client_order_id,
    new_order_id,
)
from trading_core.views import AccountView, PortfolioView, PositionView, RiskStatus, SubmitResult

log = logging.getLogger("trading_core.engine")


class MarketClosedPolicy(StrEnum):
    """What a market order does while the market is closed."""

    REJECT = "reject"
    QUEUE = "queue"


@attrs.frozen(kw_only=True)
class EngineConfig:
    """How the engine behaves; the risk limits live here too."""

    limits: RiskLimits = RiskLimits()
    market_closed_policy: MarketClosedPolicy = MarketClosedPolicy.REJECT
    account_ttl: timedelta = timedelta(seconds=5)
    """How long a fetched account is trusted when nothing has filled since."""
    clock_ttl: timedelta = timedelta(seconds=30)
    in_doubt_window: timedelta = timedelta(seconds=60)
    """How long an unanswered submission the broker does not show stays in doubt before the
    broker's order list may prove it absent (a gateway can deliver an order after its 504)."""


class TradingEngine:
    """Submit, cancel and replace orders; apply broker updates; answer for orders, positions, account."""

    def __init__(
        self,
        *,
        broker: Broker,
        store: OrderStore,
        clock: Clock,
        market_data: MarketData | None = None,
        config: EngineConfig | None = None,
        risk: RiskEngine | None = None,
    ) -> None:
        if risk is not None and config is not None and config.limits != risk.limits:
            raise ValueError(
                "the risk limits are given twice, differently (config.limits and risk.limits): "
                "build the risk engine from the config's, RiskEngine(config.limits).with_rules(...)"
            )
        self.config = config or EngineConfig(limits=risk.limits if risk is not None else RiskLimits())
        self.broker = broker
        self.store = store
        self.book = Book()
        self._clock = clock
        self._risk = risk or RiskEngine(self.config.limits)
        self._ledger = OrderLedger(store, self.book, clock)
        self._facts = BrokerFacts(
            broker=broker,
            market_data=market_data,
            clock=clock,
            book=self.book,
            account_ttl=self.config.account_ttl,
            clock_ttl=self.config.clock_ttl,
        )
        self._trading = TradingStateKeeper(store, clock)
        self._closer = PositionCloser(store=store, broker=broker, desk=self, book=self.book)
        self.last_order_at: datetime | None = None
        self.sending: set[OrderId] = set()
        """Orders on their way to the broker: their sender settles them, not reconciliation."""

    async def start(self) -> None:
        """Load the book from the store, then reconcile it with the broker."""
        from trading_core.reconcile import load_book  # reconcile needs this module's class

        await self._trading.load()
        await load_book(self, self.store, self._clock.now())
        await self.reconcile()

    def subscribe(self, listener: EventListener) -> None:
        """Call `listener` with every event once its change has committed.

        A plain function, called in the engine's task: it must not block. An error it raises is
        logged and does not undo or fail the change. For async work, hand the event to a task or
        a queue from here.
        """
        if inspect.iscoroutinefunction(listener) or inspect.iscoroutinefunction(type(listener).__call__):
            raise TypeError(f"{listener!r} is a coroutine function: a listener is called, not awaited")
        self._ledger.listeners.append(listener)

    @property
    def trading_state(self) -> TradingState:
        return self._trading.state

    # ----------------------------------------------------------------- submission

    async def submit(self, request: OrderRequest) -> SubmitResult:
        """Check, store, then send an order; a repeated client order id returns the first order.

        A repeat must ask for the same order (`DuplicateClientOrderId` otherwise): a retry is
        answered with what became of the first, however the two calls overlapped.
        """
        if request.client_order_id is not None:
            existing = await self.store.get_order_by_client_id(request.client_order_id)
            if existing is not None:
                return await self._replay(existing, request)
        if request.notional is not None:
            request = await self._resolve_notional(request)
        if self._trading.state is not TradingState.ACTIVE:
            await self._trading.before_checks()
        validation = await self.validate(request)
        now = self._clock.now()
        self.last_order_at = now
        if not validation.approved:
            if self._queueable(validation):
                # Held here as `accepted` (taken, not routed) until `session_opened` sends it.
                queued = self._build(request, now, status=OrderStatus.ACCEPTED)
                await self._ledger.insert([queued])
                return SubmitResult(queued, validation)
            await self._trading.after_checks(validation)
            return SubmitResult(await self._insert_rejected(request, validation), validation)
        closing, opening = split_at_flat(request, self.book.held(request.symbol))
        order = self._build(closing, now)
        follow_up = None if opening is None else self._build(opening, now, parent_id=order.id)
        with self._placing(order.id):
            try:  # both halves at once: a check made meanwhile must see the whole order
                await self._ledger.insert([order] if follow_up is None else [order, follow_up])
            except DuplicateClientOrderId:
                # A repeat that overlapped the first call, which stored its order meanwhile
                # (only a caller's own client order id can repeat: ours are new every time).
                given = request.client_order_id
                first = None if given is None else await self.store.get_order_by_client_id(given)
                if first is None:
                    raise
                return await self._replay(first, request)
            try:
                sent = await self._send(order)
            except StoreError as e:
                raise _with_ids(e, order) from e
            return SubmitResult(sent, validation, await self._current(follow_up))

    async def _current(self, order: Order | None) -> Order | None:
        """The order as last committed (its sender, the stream or the poll may have moved it on)."""
        if order is None:
            return None
        return self.book.open_orders.get(order.id) or await self.store.get_order(order.id) or order

    async def _replay(self, first: Order, request: OrderRequest) -> SubmitResult:
        """The answer to a repeated client order id: the first order, if the repeat asks for the same."""
        asked = (
            request.symbol,
            request.side,
            request.type,
            request.time_in_force,
            request.limit_price,
            request.stop_price,
        )
        held = (first.symbol, first.side, first.type, first.time_in_force, first.limit_price, first.stop_price)
        follow_up = None
        quantity = first.quantity
        if request.quantity is not None and quantity < request.quantity:  # perhaps split at flat
            found = await self.store.get_order_by_client_id(follow_up_client_order_id(first.client_order_id))
            # Its id is derived from the first's; its parent may be the first's replacement by now.
            if found is not None and found.parent_id is not None:
                follow_up, quantity = found, quantity + found.quantity
        same_quantity = request.quantity is None or quantity == request.quantity  # a notional: sized then
        if asked != held or not same_quantity:
            raise DuplicateClientOrderId(
                f"client order id {first.client_order_id} was given to another order ({first.id}): "
                "a repeat must ask for the same order",
                details={"clientOrderId": first.client_order_id, "orderId": first.id},
            )
        return SubmitResult(first, follow_up=follow_up)

    async def validate(self, request: OrderRequest) -> PreTradeValidation:
        """Run every pre-trade check without submitting anything."""
        return self._risk.validate(request, await self.risk_context(request.symbol))

    async def risk_context(self, symbol: Symbol) -> RiskContext:
        """What the rules see for an order in `symbol`, as of now."""
        facts, book = self._facts, self.book
        await facts.mark(symbol)
        await facts.asset(symbol)
        return RiskContext(
            account=await facts.account(),
            clock=await facts.market_clock(),
            positions=book.positions,
            marks=book.marks,
            assets=book.assets,
            open_orders=tuple(book.open_orders_in(symbol)),
            working=book.open_by_symbol,
            day_trades=book.day_trades,
            trading_state=self._trading.state,
        )

    def _queueable(self, validation: PreTradeValidation) -> bool:
        only_session = all(r.code == codes.MARKET_CLOSED for r in validation.rejections)
        return only_session and self.config.market_closed_policy is MarketClosedPolicy.QUEUE

    async def _resolve_notional(self, request: OrderRequest) -> OrderRequest:
        """The request with its notional turned into a quantity at the current price."""
        notional = request.notional
        if notional is None:
            return request
        mark = await self._facts.mark(request.symbol)
        if not mark:
            raise InvalidOrder(f"no current price for {request.symbol} to size a notional order", field="notional")
        asset = await self._facts.asset(request.symbol)
        step = FOUR_PLACES if asset is None or asset.fractionable else Decimal(1)
        qty = (notional / mark).quantize(step, rounding=ROUND_DOWN)
        if qty <= ZERO:
            raise InvalidOrder(f"notional {notional} buys less than one unit at {mark}", field="notional")
        return attrs.evolve(request, quantity=qty, notional=None)

    def _new_order(self, request: OrderRequest, now: datetime) -> Order:
        client_order_id = request.client_order_id or new_client_order_id()
        return Order.from_request(request, order_id=new_order_id(), client_order_id=client_order_id, now=now)

    def _build(
        self,
        request: OrderRequest,
        now: datetime,
        *,
        parent_id: OrderId | None = None,
        status: OrderStatus = OrderStatus.PENDING_NEW,
        replaces: Order | None = None,
    ) -> Order:
        order = self._new_order(request, now)
        if parent_id is not None or replaces is not None or status is not OrderStatus.PENDING_NEW:
            order = attrs.evolve(
                order,
                status=status,
                parent_id=parent_id,
                replaces=replaces.id if replaces is not None else None,
            )
        return order

    async def _insert_rejected(self, request: OrderRequest, validation: PreTradeValidation) -> Order:
        code = validation.rejection_code or codes.INVALID_ORDER
        return await self.record_rejection(request, code=code, reason=validation.rejection_reason or "")

    async def record_rejection(self, request: OrderRequest, *, code: str, reason: str) -> Order:
        """Keep a refused order for the audit trail, announced as `trade.order.rejected`."""
        if request.client_order_id is not None:
            existing = await self.store.get_order_by_client_id(request.client_order_id)
            if existing is not None:
                return existing
        now = self._clock.now()
        order, events = reject(self._new_order(request, now), code=code, reason=reason, now=now)
        await self._ledger.insert([order], events)
        return order

    def now(self) -> datetime:
        """The engine's clock."""
        return self._clock.now()

    def _placing(self, order_id: OrderId) -> _Placing:
        """Mark an order as on its way to the broker, from before it is stored until its answer is.

        Until then the broker may not know it yet: reconciliation must not take that for a loss.
        """
        return _Placing(self.sending, order_id)

    async def _send(self, order: Order) -> Order:
        """Send a stored order; its client order id is fixed, so the outcome can always be found."""
        with self._placing(order.id):
            try:
                accepted = await self._placed(order)
            except BrokerRejected as e:
                return await self._refuse(order, e.code, e.message)
            except OrderInDoubt as e:
                return await self._hold_in_doubt(order, e)
            return await self._record_acceptance(order, accepted)

    async def _placed(self, order: Order) -> BrokerOrder:
        """The broker's copy of the order once sent.

        Raises:
            BrokerRejected: The broker refused it, or never received it (`BROKER_ERROR`).
            OrderInDoubt: Neither is known.
        """
        try:
            return await self.broker.submit_order(order)
        except BrokerRejected as e:
            if e.code != DuplicateClientOrderId.code:
                raise
            return await self._found(order, refusal=e)  # an earlier attempt reached the broker
        except OrderInDoubt:
            raise
        except BrokerError as e:
            log.warning("submission of %s failed (%s); looking its client order id up", order.id, e)
            reason = f"not received by the broker: {e.message}; {codes.RESEND_ADVICE}"
            return await self._found(order, refusal=BrokerRejected(codes.BROKER_ERROR, reason))

    async def _found(self, order: Order, *, refusal: BrokerRejected) -> BrokerOrder:
        """The broker's copy found by client order id, else `refusal` raised."""
        try:
            found = await self.broker.get_order_by_client_id(order.client_order_id)
        except BrokerError as e:
            raise OrderInDoubt(f"order {order.client_order_id} cannot be looked up ({e.message})") from e
        if found is None:
            raise refusal
        return found

    async def _hold_in_doubt(self, order: Order, cause: BrokerError) -> Order:
        """The submission went unanswered: the order stays pending, its exposure held, until evidence
        (the stream, a lookup, the broker's order list) settles it. See `trading_core.doubt`."""
        log.warning("order %s is in doubt: %s", order.id, cause.message)
        return await self._ledger.change(order, lambda o, now: hold_in_doubt(o, now=now))

    async def _record_acceptance(self, order: Order, accepted: BrokerOrder) -> Order:
        """The broker's answer and the updates that came with it commit together, in one transaction."""
        mine: list[TradeUpdate] = []
        others: list[TradeUpdate] = []
        broker_order_id = accepted.broker_order_id
        for update in self.broker.drain_updates():
            (mine if update.order.broker_order_id == broker_order_id else others).append(update)
        sent = await self._ledger.apply_updates(order.id, order.symbol, mine, accepted=accepted)
        if sent is None:  # the stream had already told us all of it
            sent = await self.get_order(order.id)
        if others:
            await self._apply_in_order(others)
        if sent.is_terminal:
            await self._release_follow_ups(sent)
        return sent

    async def take_broker_copy(self, order: Order, remote: BrokerOrder) -> Order:
        """Bring an order to the state of the broker's copy of it: acceptance, fills and status."""
        from trading_core.reconcile import catch_up  # reconcile needs this module's class

        await catch_up(self, order, remote)
        return await self._current(order) or order

    async def apply_broker_updates(self, order: Order, updates: Sequence[TradeUpdate], remote: BrokerOrder) -> Order:
        """Apply updates of one order read from the broker (`remote`, its copy), with its acceptance
        if ours lacks it; then what that releases. Returns the order as it now stands."""
        accepted = remote if order.broker_order_id is None else None
        changed = await self._ledger.apply_updates(order.id, order.symbol, updates, accepted=accepted)
        current = changed or await self._current(order) or order
        if current.is_terminal:
            await self._release_follow_ups(current)
        return current

    async def refuse_unsent(self, order: Order, reason: str) -> Order:
        """Record that an order in doubt never reached the broker (unless it has been sent since)."""

        def unsent(current: Order, now: datetime) -> tuple[Order, list[Event]]:
            if current.broker_order_id is not None or current.id in self.sending:
                return current, []  # the broker has it, or its sender is about to learn its fate
            return reject(current, code=codes.BROKER_ERROR, reason=reason, now=now)

        refused = await self._ledger.change(order, unsent)
        await self._release_follow_ups(refused)
        return refused

    async def _refuse(self, order: Order, code: str, reason: str) -> Order:
        def refused(current: Order, now: datetime) -> tuple[Order, list[Event]]:
            if current.broker_order_id is not None or current.status is not OrderStatus.PENDING_NEW:
                return current, []  # the broker has shown it meanwhile: its word is the later one
            return reject(current, code=code, reason=reason, now=now)

        rejected = await self._ledger.change(order, refused)
        await self._release_follow_ups(rejected)
        return rejected

    # ----------------------------------------------------------------- cancel and replace

    async def cancel(self, order_id: OrderId | str) -> Order:
        """Ask the broker to cancel; an order still held here is cancelled on the spot.

        An order on its way to the broker, or in doubt, may be there already: it is looked up
        first, and `OrderNotCancelable` answers while the broker does not show it yet.
        """
        order = await self.get_order(order_id)
        ensure_cancelable(order)
        if order.broker_order_id is None:
            if order.id not in self.sending and not in_doubt(order):
                with self._placing(order.id):  # held here: nothing may send it meanwhile
                    return await self._cancel_locally(order, "canceled")
            order = await self._find_at_broker(order)
            if order.broker_order_id is None or order.is_terminal:
                return order
        try:
            await self.broker.cancel_order(order.broker_order_id)
        except OrderNotFound:
            if await self._known_to_broker(order.broker_order_id):
                raise
            return await self.close_unknown(order)
        await self.process_updates()
        return await self.get_order(order.id)

    async def _find_at_broker(self, order: Order) -> Order:
        """The order as the broker shows it, for an order being sent or in doubt."""
        remote = await self.broker.get_order_by_client_id(order.client_order_id)
        if remote is None:
            raise OrderNotCancelable(
                f"order {order.id} is being placed and the broker does not show it yet: try again shortly",
                details={"orderId": order.id, "clientOrderId": order.client_order_id},
            )
        return await self.take_broker_copy(order, remote)

    async def close_unknown(self, order: Order) -> Order:
        """Close an order the broker does not know (an account reset, say): it can never fill there."""
        log.warning("order %s (%s) is not known to the broker; closing it as canceled", order.id, order.broker_order_id)
        return await self._cancel_locally(order, "canceled: the broker does not know this order")

    async def _known_to_broker(self, broker_order_id: BrokerOrderId) -> bool:
        try:
            await self.broker.get_order(broker_order_id)
        except OrderNotFound:
            return False
        return True

    async def _cancel_locally(self, order: Order, reason: str, event: TradeEvent = TradeEvent.CANCELED) -> Order:
        def cancelled(current: Order, now: datetime) -> tuple[Order, list[Event]]:
            return apply_event(current, event, now=now, ts_event=now, reason=reason)

        done = await self._ledger.change(order, cancelled)
        await self._release_follow_ups(done)
        return done

    async def replace(
        self,
        order_id: OrderId | str,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        time_in_force: TimeInForce | None = None,
    ) -> SubmitResult:
        """Modify a working order: the broker replaces it with a new order that `replaces` it.

        An order on its way to the broker, or in doubt, is looked up first (it may be there):
        `OrderNotCancelable` answers while the broker does not show it yet. Only an order held
        here (queued for the open, a split's waiting half) is replaced here.
        """
        old = await self.get_order(order_id)
        ensure_cancelable(old)
        if old.broker_order_id is None and (old.id in self.sending or in_doubt(old)):
            old = await self._find_at_broker(old)
            ensure_cancelable(old)
        request = OrderRequest.create(
            symbol=old.symbol,
            side=old.side,
            type=old.type,
            quantity=quantity if quantity is not None else old.remaining_quantity,
            time_in_force=time_in_force or old.time_in_force,
            limit_price=limit_price if limit_price is not None else old.limit_price,
            stop_price=stop_price if stop_price is not None else old.stop_price,
            trail_price=old.trail_price,
            trail_percent=old.trail_percent,
            extended_hours=old.extended_hours,
            strategy_id=old.strategy_id,
            decision_id=old.decision_id,
        )
        validation = await self._validate_increase(old, request)
        if validation is not None and not validation.approved:
            return SubmitResult(old, validation)
        broker_id = old.broker_order_id
        status = old.status if broker_id is None else OrderStatus.PENDING_NEW
        new = self._build(request, self._clock.now(), status=status, replaces=old, parent_id=old.parent_id)
        with self._placing(new.id):
            await self._ledger.insert([new])  # a failure here stored and sent nothing
            try:
                return await self._place_replacement(old, new, request, validation)
            except StoreError as e:
                raise _with_ids(e, new) from e

    async def _place_replacement(
        self, old: Order, new: Order, request: OrderRequest, validation: PreTradeValidation | None
    ) -> SubmitResult:
        broker_id = old.broker_order_id
        if broker_id is None:  # queued for the open: replace it here
            await self._link_replacement(old, new)
            await self._cancel_locally(old, "replaced", TradeEvent.REPLACED)
            return SubmitResult(await self.get_order(new.id), validation)
        try:
            accepted = await self.broker.replace_order(
                broker_id,
                client_order_id=new.client_order_id,
                quantity=request.quantity,
                limit_price=request.limit_price,
                stop_price=request.stop_price,
                time_in_force=request.time_in_force,
            )
        except BrokerRejected as e:
            return SubmitResult(await self._refuse(new, e.code, e.message), validation)
        except (OrderNotCancelable, OrderNotFound) as e:
            # The old order ended at the broker before the replace reached it (a fill we have not
            # heard of yet): the replacement was never created there, so it must not wait as sent.
            await self._refuse(new, e.code, e.message)
            raise
        except OrderInDoubt as e:
            await self._link_replacement(old, new)
            return SubmitResult(await self._hold_in_doubt(new, e), validation)
        except BrokerError as e:  # not sent: the old order works on unchanged
            await self._refuse(new, codes.BROKER_ERROR, f"not sent to the broker: {e.message}")
            raise
        await self._link_replacement(old, new)
        return SubmitResult(await self._record_acceptance(new, accepted), validation)

    async def _link_replacement(self, old: Order, new: Order) -> None:
        """Record that `new` replaces `old`; the opening half of a split follows its closing half."""
        await self._ledger.change(old, lambda o, now: (attrs.evolve(o, replaced_by=new.id, updated_at=now), []))
        await self._hand_over(old, new)

    async def _hand_over(self, parent: Order, heir: Order) -> None:
        """The opening halves waiting for `parent` wait for `heir` instead."""
        for waiting in self._waiting_for(parent):
            await self._ledger.change(waiting, lambda o, now: (attrs.evolve(o, parent_id=heir.id, updated_at=now), []))

    async def _drop_refused_replacement(self, order_id: OrderId) -> None:
        """After `order_replace_rejected`: the replacement was never created at the broker.

        Alpaca answers a replace at once and may refuse it later (the old order filled first, or
        could not be replaced): closed here, it is no phantom for the risk checks to count, and
        what waited for it waits for the old order again.
        """
        old = await self.store.get_order(order_id)
        new = self.book.open_orders.get(old.replaced_by) if old is not None and old.replaced_by else None
        if old is None or new is None or new.filled_quantity:
            return
        await self._hand_over(new, old)
        await self._cancel_locally(new, f"the broker refused to replace {old.id} (order_replace_rejected)")
        if old.is_terminal:
            await self._release_follow_ups(old)

    async def _validate_increase(self, old: Order, request: OrderRequest) -> PreTradeValidation | None:
        """A replacement is checked for what it adds: a larger quantity is new exposure."""
        if request.quantity is None:
            raise InvalidOrder("a replacement names its quantity", field="quantity")
        extra = request.quantity - old.remaining_quantity
        if extra <= ZERO:
            return None
        return await self.validate(attrs.evolve(request, quantity=extra))

    # ----------------------------------------------------------------- positions

    async def close_position(self, symbol: str, quantity: Decimal | None = None) -> SubmitResult:
        """Reduce the position by `quantity` (all of it by default); see `trading_core.closing`."""
        return await self._closer.close(Symbol(symbol), quantity)

    async def close_all_positions(self) -> list[SubmitResult]:
        """Close every open position with a market order each; see `trading_core.closing`."""
        return await self._closer.close_all()

    async def adopt_position(self, position: Position, events: Sequence[Event] = ()) -> None:
        """Take the broker's word for a position (reconciliation), announced by `events`."""
        await self._ledger.save_position(position, events)

    # ----------------------------------------------------------------- trade updates

    async def process_updates(self) -> int:
        """Apply every trade update that has arrived; returns how many there were."""
        updates = self.broker.drain_updates()
        await self._apply_in_order(updates)
        return len(updates)

    async def run_updates(self) -> None:
        """Apply trade updates as they arrive, until cancelled; one failure never stops the stream."""
        while True:
            updates = await self.broker.next_updates()
            try:
                await self._apply_in_order(updates)
            except Exception:  # the next batch must still be applied; reconciliation repairs this one
                log.exception("applying %d trade updates failed; reconciliation will repair them", len(updates))

    async def apply_trade_update(self, update: TradeUpdate) -> None:
        """Apply one trade update (from the stream, a poll or a test), then what it releases."""
        await self._apply_in_order([update])

    async def _apply_in_order(self, updates: Sequence[TradeUpdate]) -> None:
        """Apply updates in arrival order, each run of one order's updates in one transaction."""
        start = 0
        while start < len(updates):
            broker_id = updates[start].order.broker_order_id
            end = start + 1
            while end < len(updates) and updates[end].order.broker_order_id == broker_id:
                end += 1
            order_id = await self._ledger.order_id_for(updates[start].order)
            if order_id is None:
                log.warning("trade updates for an order we did not place: %s", broker_id)
            else:
                run = updates[start:end]
                order = await self._ledger.apply_updates(order_id, run[0].order.symbol, run)
                if order is not None and order.is_terminal:
                    await self._release_follow_ups(order)
                if any(u.event == TradeEvent.ORDER_REPLACE_REJECTED for u in run):
                    await self._drop_refused_replacement(order_id)
            start = end

    async def _release_follow_ups(self, parent: Order) -> None:
        """Send the opening half of a split order once its closing half filled; else cancel it."""
        if not parent.is_terminal:
            return
        if parent.status is OrderStatus.REPLACED:
            return  # its replacement is the closing order now (`_link_replacement` hands them over)
        replaced = self.book.open_orders.get(parent.replaces) if parent.replaces is not None else None
        if replaced is not None and not parent.filled_quantity:
            await self._hand_over(parent, replaced)  # a replacement that never took over: the old one works on
            return
        for waiting in self._waiting_for(parent):
            order = self.book.open_orders.get(waiting.id)
            # Sent once only: the stream and the sender may both get here for the same parent.
            if order is None or order.submitted_at is not None or order.id in self.sending:
                continue
            if parent.status is OrderStatus.FILLED:
                await self._send(order)
            else:
                await self._cancel_locally(order, f"its closing order {parent.id} ended {parent.status}")

    async def release_orphans(self) -> int:
        """Send (or cancel) opening halves whose closing half ended with no one there to release
        them: a crash between the two. Returns how many were found.

        One may have reached the broker as it crashed: it goes again under its own client order
        id, which the broker refuses as taken, and the order it holds is taken up (`_placed`).
        """
        found = 0
        for order in list(self.book.open_orders.values()):
            if order.parent_id is None or order.parent_id in self.book.open_orders:
                continue  # not an opening half, or its closing half still works
            if order.broker_order_id is not None or order.submitted_at is not None or order.id in self.sending:
                continue  # sent (or in doubt, or being sent): not waiting
            parent = await self.store.get_order(order.parent_id)
            if parent is not None and parent.is_terminal:
                found += 1
                await self._release_follow_ups(parent)
        return found

    def _waiting_for(self, parent: Order) -> list[Order]:
        return [o for o in self.book.open_orders_in(parent.symbol) if o.parent_id == parent.id]

    # ----------------------------------------------------------------- reconciliation and sessions

    async def reconcile(self) -> int:
        """Bring open orders and positions in line with the broker; returns the corrections made."""
        from trading_core.reconcile import reconcile  # reconcile needs this module's class

        return await reconcile(self)

    async def session_opened(self) -> int:
        """The market opened: orders queued while it was closed go out. Returns how many."""
        self._facts.session_changed(is_open=True)
        queued = sorted(
            (o for o in self.book.open_orders.values() if _is_queued(o) and o.id not in self.sending),
            key=lambda o: o.created_at,
        )
        for order in queued:
            await self._send(order)
        return len(queued)

    async def session_closed(self) -> None:
        """The market closed: market orders are refused (or queued) until it opens."""
        self._facts.session_changed(is_open=False)

    async def shutdown(self) -> int:
        """Cancel every open order, as on `system.shutdown`; returns how many were cancelled."""
        count = 0
        for order in list(self.book.open_orders.values()):
            try:
                await self.cancel(order.id)
                count += 1
            except TradingError as e:  # one failure must not keep the others from being cancelled
                log.warning("shutdown could not cancel %s: %s", order.id, e)
        return count

    # ----------------------------------------------------------------- trading state

    async def reset_trading_state(self, *, by: str, reason: str = "manual reset") -> TradingStateRecord:
        """End a reducing-only state by hand; refused while today's loss is over the limit (see `reset`)."""
        account = await self._facts.account(fresh=True)
        return await self._trading.reset(account, self.config.limits, by=by, reason=reason)

    async def risk_status(self) -> RiskStatus:
        """The trading state, today's P&L and the day trades counted."""
        account = await self._facts.account()
        return RiskStatus(
            trading_state=self._trading.state,
            reason=self._trading.record.reason,
            changed_at=self._trading.record.changed_at,
            changed_by=self._trading.record.changed_by,
            daily_pnl=account.daily_pnl,
            daytrade_count=self._day_trade_count(),
        )

    def _day_trade_count(self) -> int:
        today = self._clock.now().astimezone(EASTERN).date()
        return self.book.day_trades.count(today, self.config.limits.day_trade_window_days)

    # ----------------------------------------------------------------- queries

    async def get_order(self, order_id: OrderId | str) -> Order:
        order = await self.store.get_order(OrderId(order_id))
        if order is None:
            raise OrderNotFound(f"no order with id {order_id}", details={"orderId": str(order_id)})
        return order

    async def list_orders(
        self, *, status: OrderFilter = OrderFilter.OPEN, limit: int = 100, cursor: str | None = None
    ) -> OrderPage:
        return await self.store.list_orders(status=status, limit=limit, cursor=cursor)

    async def get_position(self, symbol: str) -> PositionView:
        sym = Symbol(symbol)
        position = self.book.positions.get(sym)
        if position is None:
            raise PositionNotFound(f"no open position in {sym}", details={"symbol": sym})
        return PositionView.of(position, await self._facts.mark(sym))

    async def list_positions(self) -> PortfolioView:
        views = [PositionView.of(p, await self._facts.mark(s)) for s, p in sorted(self.book.positions.items())]
        account = await self._facts.account()
        return PortfolioView(
            positions=tuple(views), total_equity=money(account.equity), buying_power=money(account.buying_power)
        )

    async def get_account(self) -> AccountView:
        account = await self._facts.account(fresh=True)
        limits = self.config.limits
        count = self._day_trade_count()
        restricted = (
            limits.enable_day_trade_budget
            and account.equity < limits.day_trade_equity_threshold
            and count >= limits.max_day_trades
        )
        return AccountView(
            account_id=account.account_id,
            # In cents, as the positions' values are: one scale whatever the broker's arithmetic
            # left (a fractional fill moves cash by a fraction of a cent).
            equity=money(account.equity),
            cash=money(account.cash),
            buying_power=money(account.buying_power),
            last_equity=money(account.last_equity),
            daytrade_count=count,
            pattern_day_trader=restricted,
            trading_blocked=account.trading_blocked,
            account_blocked=account.account_blocked,
            trading_state=self._trading.state,
        )


def _with_ids(error: StoreError, order: Order) -> StoreError:
    """A store failure after the order may have left: the answer names it, so it can be asked for."""
    return StoreError(
        f"{error.message}; order {order.id} may have reached the broker: ask for it by its id, or submit "
        f"again with clientOrderId {order.client_order_id} to get it",
        details={**error.details, "orderId": order.id, "clientOrderId": order.client_order_id},
    )


def _is_queued(order: Order) -> bool:
    """Held here while the market was closed, waiting for the open."""
    return order.broker_order_id is None and order.parent_id is None and order.status is OrderStatus.ACCEPTED


class _Placing:
    """`TradingEngine._placing`: a plain context manager, as one runs for every order."""

    __slots__ = ("_added", "_order_id", "_sending")

    def __init__(self, sending: set[OrderId], order_id: OrderId) -> None:
        self._sending, self._order_id, self._added = sending, order_id, False

    def __enter__(self) -> None:
        if self._order_id not in self._sending:  # else an outer step is placing it already
            self._sending.add(self._order_id)
            self._added = True

    def __exit__(self, *exc_info: object) -> None:
        if self._added:
            self._sending.discard(self._order_id)
