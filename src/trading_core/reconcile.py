"""Loading the book at start-up, and the pure parts of reconciliation.

What the order poll and the position sync compute without asking anyone: the trade updates that
take an order to the broker's copy, and the events that adopting a position announces. The
engine's `Reconciliation` (`trading_core.engine.reconciliation`) asks the broker and applies them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN

import attrs

from trading_core.book import Book
from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.daytrades import DayTrades
from trading_core.enums import OrderStatus, Side
from trading_core.events import Event, PositionClosed, PositionOpened, PositionUpdated
from trading_core.fills import Fill, made_up_execution_id
from trading_core.market import EASTERN
from trading_core.orders import EVENT_FOR_STATUS, Order, TradeEvent
from trading_core.ports import OrderFilter, OrderStore
from trading_core.positions import Position, apply_fill
from trading_core.values import FOUR_PLACES, ZERO, Symbol, new_event_id

_DAY_TRADE_HISTORY = timedelta(days=14)


async def load_book(book: Book, store: OrderStore, now: datetime) -> None:
    """Fill `book` from the store: open orders, open positions, recent day trades."""
    for position in await store.list_positions():
        if position.is_open:
            book.positions[position.symbol] = position
            book.marks.setdefault(position.symbol, position.average_entry_price)
    # Oldest first, after the positions: each order at the broker holds buying power as the broker
    # counted it when it took the order, against the position and the orders before it.
    for order in reversed(await open_orders(store)):
        book.track(order)
    book.day_trades = replay_day_trades(await store.fills_since(now - _DAY_TRADE_HISTORY), book.positions)


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
                execution_id=made_up_execution_id(remote.broker_order_id, remote.filled_quantity),
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
