"""Start-up loading and reconciliation: make the engine's view agree with the store and the broker.

The broker is the source of truth for fills and positions. Whatever the stream missed (a drop, a
crash) is repaired here by turning differences into the same trade updates the stream would
have sent, so there is one code path for applying them, keyed by execution id and cumulative
quantity so nothing is counted twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

import attrs

from trading_core.broker_models import BrokerOrder, BrokerPosition, TradeUpdate
from trading_core.daytrades import DayTrades
from trading_core.doubt import doubtful, settle_doubts
from trading_core.enums import OrderStatus, Side
from trading_core.errors import BrokerError, NotFound, OrderNotFound
from trading_core.events import Event, PositionClosed, PositionOpened, PositionUpdated
from trading_core.fills import Fill
from trading_core.market import EASTERN
from trading_core.orders import EVENT_FOR_STATUS, Order, TradeEvent, in_doubt
from trading_core.ports import OrderFilter, OrderStore, RecoversFills
from trading_core.positions import Position, apply_fill
from trading_core.values import FOUR_PLACES, ZERO, ExecutionId, Symbol, at_four_places, new_event_id

if TYPE_CHECKING:
    from trading_core.engine import TradingEngine

log = logging.getLogger("trading_core.reconcile")

_DAY_TRADE_HISTORY = timedelta(days=14)
_LISTING = 500
"""Open orders asked for in one listing at least (one page at Alpaca)."""
AVERAGED_AFTER = timedelta(seconds=30)
"""How long the order poll waits for a broker's own executions (`RecoversFills`) of fills it has not
applied before it makes them up as one fill priced to the broker's average."""


async def load_book(engine: TradingEngine, store: OrderStore, now: datetime) -> None:
    """Fill the engine's book from the store: open orders, open positions, recent day trades."""
    book = engine.book
    for order in await open_orders(store):
        book.track(order)
    for position in await store.list_positions():
        if position.is_open:
            book.positions[position.symbol] = position
            book.marks.setdefault(position.symbol, position.average_entry_price)
    book.day_trades = replay_day_trades(await store.fills_since(now - _DAY_TRADE_HISTORY), book.positions)
    book.account_stale = True


async def open_orders(store: OrderStore) -> list[Order]:
    """Every order the store holds open, newest first, read a page at a time."""
    found: list[Order] = []
    cursor: str | None = None
    while True:
        page = await store.list_orders(status=OrderFilter.OPEN, limit=500, cursor=cursor)
        found.extend(page.orders)
        cursor = page.next_cursor
        if cursor is None:
            return found


def replay_day_trades(fills: list[Fill], positions: Mapping[Symbol, Position]) -> DayTrades:
    """Rebuild the day-trade count from recent fills, starting from the positions before them."""
    held: dict[Symbol, Position] = dict(positions)
    for fill in reversed(fills):  # walk back to the positions as they were before the first fill
        before = held.get(fill.symbol) or Position.flat(fill.symbol)
        delta = fill.quantity if fill.side is Side.BUY else -fill.quantity
        held[fill.symbol] = attrs.evolve(
            before, quantity=before.quantity - delta, cost_basis=before.cost_basis - delta * fill.price
        )
    trades = DayTrades()
    for fill in fills:
        change = apply_fill(
            held[fill.symbol], side=fill.side, quantity=fill.quantity, price=fill.price, at=fill.timestamp
        )
        held[fill.symbol] = change.after
        trades = trades.record(fill.symbol, change, fill.timestamp.astimezone(EASTERN).date())
    return trades


async def reconcile(engine: TradingEngine) -> int:
    """Repair open orders from the broker's copies, then positions; returns corrections made."""
    return await reconcile_orders(engine) + await reconcile_positions(engine)


async def reconcile_orders(engine: TradingEngine) -> int:
    """Repair open orders from the broker's copies (the order status poll); returns corrections made.

    Orders in doubt are asked about by client order id and settled by evidence (see `doubt`).
    """
    corrections = 0
    # Not those held here (queued, a split's waiting half), in doubt, or being sent.
    sent = [order for order in engine.book.open_orders.values() if order.broker_order_id is not None]
    if sent:
        corrections += await _catch_up_sent(engine, sent)
    try:
        corrections += await settle_doubts(engine, doubtful(engine))
        corrections += await engine.release_orphans()
    except BrokerError as e:
        log.warning("could not settle the orders in doubt this round: %s", e)
    return corrections


async def _catch_up_sent(engine: TradingEngine, sent: list[Order]) -> int:
    """Take the orders the broker has to its copies of them; returns corrections made.

    The broker's open orders are read in one listing, not one request each (Alpaca allows 200 a
    minute); an order the listing does not show (closed since, or beyond it) is read on its own.
    When the listing fails, the orders wait for the next round.
    """
    try:
        listed = await engine.broker.list_orders(status=OrderFilter.OPEN, limit=max(_LISTING, 2 * len(sent)))
    except BrokerError as e:
        log.warning("could not list the broker's open orders; they wait for the next round: %s", e)
        return 0
    by_id = {remote.broker_order_id: remote for remote in listed}
    corrections = 0
    for order in sent:
        assert order.broker_order_id is not None
        try:
            corrections += await _reconcile_order(engine, order, by_id.get(order.broker_order_id))
        except (BrokerError, NotFound) as e:  # one order the broker cannot tell about must not stop the rest
            log.warning("could not reconcile order %s: %s", order.id, e)
    return corrections


async def _reconcile_order(engine: TradingEngine, order: Order, remote: BrokerOrder | None = None) -> int:
    """Take `order` to the broker's copy of it: `remote` when given (a listing's), else read now."""
    assert order.broker_order_id is not None
    if remote is None:
        try:
            remote = await engine.broker.get_order(order.broker_order_id)
        except OrderNotFound:
            await engine.close_unknown(order)
            return 1
    return await catch_up(engine, order, remote)


async def catch_up(engine: TradingEngine, order: Order, remote: BrokerOrder) -> int:
    """Take `order` to the broker's copy of it, `remote`; returns how many updates that took.

    The broker's acceptance is recorded if ours lacks it. Fills ours lacks are the broker's own
    executions, each under its own id, when the broker can tell them (`RecoversFills`); they are
    made up as one fill priced to the broker's average only when it cannot, or has not for
    `AVERAGED_AFTER` (they may only be on their way, in the stream's inbox). Until then the status
    waits too: a filled order's status comes from its fills.
    """
    lacking = await _lacking_executions(engine, order, remote)
    if lacking or order.broker_order_id is None:
        order = await engine.apply_broker_updates(order, lacking, remote)
    if order.is_terminal:
        return len(lacking)
    if remote.filled_quantity > order.filled_quantity and not _may_make_up(engine, remote):
        return len(lacking)
    updates = updates_between(order, remote)
    if updates:
        await engine.apply_broker_updates(order, updates, remote)
    return len(lacking) + len(updates)


async def _lacking_executions(engine: TradingEngine, order: Order, remote: BrokerOrder) -> list[TradeUpdate]:
    """The broker's own executions of `remote` that `order` has not applied, oldest first."""
    broker = engine.broker
    if remote.filled_quantity <= order.filled_quantity or not isinstance(broker, RecoversFills):
        return []
    lacking: list[TradeUpdate] = []
    filled = order.filled_quantity
    for update in await broker.recover_fills(remote) or ():
        if update.execution_id not in order.execution_ids and update.order.filled_quantity > filled:
            lacking.append(update)
            filled = update.order.filled_quantity
    return lacking


def _may_make_up(engine: TradingEngine, remote: BrokerOrder) -> bool:
    """Whether fills the broker shows and we lack may be made up as one averaged fill now."""
    return not isinstance(engine.broker, RecoversFills) or engine.now() - remote.updated_at >= AVERAGED_AFTER


def updates_between(order: Order, remote: BrokerOrder) -> list[TradeUpdate]:
    """The trade updates that take `order` to the state the broker reports for it."""
    updates: list[TradeUpdate] = []
    missing = remote.filled_quantity - order.filled_quantity
    if missing > 0 and remote.filled_average_price is not None:
        # The broker reports a cumulative quantity and average price: the missing executions
        # are priced so that our average matches theirs.
        notional = remote.filled_average_price * remote.filled_quantity - order.filled_notional
        price = (notional / missing).quantize(FOUR_PLACES, rounding=ROUND_HALF_EVEN)
        complete = remote.filled_quantity == remote.quantity
        updates.append(
            TradeUpdate(
                event=TradeEvent.FILL if complete else TradeEvent.PARTIAL_FILL,
                order=remote,
                timestamp=remote.filled_at or remote.updated_at,
                execution_id=ExecutionId(f"{remote.broker_order_id}:{remote.filled_quantity}"),
                price=price,
                quantity=missing,
            )
        )
    event = EVENT_FOR_STATUS.get(remote.status)
    if event is None and remote.status is OrderStatus.PARTIALLY_FILLED:
        event = TradeEvent.NEW  # back to work; the fills above say how much
    if remote.status is not order.status and event is not None:
        updates.append(TradeUpdate(event=event, order=remote, timestamp=remote.updated_at))
    return updates


async def reconcile_positions(engine: TradingEngine) -> int:
    """Adopt the broker's positions where ours differ; returns how many were corrected.

    Never over fills we have not seen yet: a symbol is compared only when each of our open
    orders in it is settled (not being sent, not in doubt, and filled as far as the broker's copy
    says), and adopted only if the broker's position did not move while that was checked.
    Otherwise it waits for the next round, when the stream or the order poll has caught up.
    """
    first = await _broker_positions(engine)
    differing = [symbol for symbol in set(first) | set(engine.book.positions) if _differs(engine, symbol, first)]
    settled = [symbol for symbol in differing if await _fills_caught_up(engine, symbol)]
    if not settled:
        return 0
    again = await _broker_positions(engine)
    corrections = 0
    for symbol in settled:
        if _quantity(again, symbol) != _quantity(first, symbol) or not _differs(engine, symbol, again):
            continue  # it moved meanwhile, or our fills have caught up with it
        theirs, mine = again.get(symbol), engine.book.positions.get(symbol)
        log.warning(
            "position in %s differs: ours %s, broker's %s; adopting the broker's",
            symbol,
            mine.quantity if mine else 0,
            theirs.quantity if theirs else 0,
        )
        adopted = Position(
            symbol=symbol,
            quantity=theirs.quantity if theirs is not None else Decimal(0),
            cost_basis=theirs.cost_basis if theirs is not None else Decimal(0),
            realized_pnl=mine.realized_pnl if mine is not None else Decimal(0),
            opened_at=mine.opened_at if mine is not None else None,
        )
        await engine.adopt_position(adopted, adoption_events(mine, adopted, engine.now()))
        corrections += 1
    return corrections


async def _broker_positions(engine: TradingEngine) -> dict[Symbol, BrokerPosition]:
    """The broker's positions, quantities at our four places."""
    return {
        p.symbol: attrs.evolve(p, quantity=at_four_places(p.quantity)) for p in await engine.broker.list_positions()
    }


def _quantity(positions: Mapping[Symbol, BrokerPosition], symbol: Symbol) -> Decimal:
    position = positions.get(symbol)
    return position.quantity if position is not None else ZERO


def _differs(engine: TradingEngine, symbol: Symbol, remote: Mapping[Symbol, BrokerPosition]) -> bool:
    mine = engine.book.positions.get(symbol)
    return (mine.quantity if mine is not None else ZERO) != _quantity(remote, symbol)


async def _fills_caught_up(engine: TradingEngine, symbol: Symbol) -> bool:
    """Whether every fill the broker reports for our open orders in `symbol` has been applied.

    One that has not is applied now (as the order poll would), and the symbol waits a round.
    """
    for order in list(engine.book.open_orders_in(symbol)):
        if order.id in engine.sending or in_doubt(order):
            return False
        if order.broker_order_id is None:
            continue  # held here: nothing of it is at the broker
        try:
            if await _reconcile_order(engine, order):
                return False
        except (BrokerError, NotFound) as e:
            log.warning("position in %s not compared: order %s cannot be read (%s)", symbol, order.id, e)
            return False
    return True


def adoption_events(before: Position | None, after: Position, now: datetime) -> list[Event]:
    """What adopting the broker's position announces, as a fill moving ours there would.

    No P&L is known to have been realised by it: the fills that made the difference are not ours.
    """
    event_id = new_event_id()
    if not after.is_open:
        return [
            PositionClosed(
                event_id=event_id, ts_event=now, ts_init=now, position=after, realized_pnl=after.realized_pnl
            )
        ]
    if before is None or not before.is_open or before.side != after.side:  # from flat, or the other side
        return [PositionOpened(event_id=event_id, ts_event=now, ts_init=now, position=after)]
    return [PositionUpdated(event_id=event_id, ts_event=now, ts_init=now, position=after, realized_pnl=ZERO)]
