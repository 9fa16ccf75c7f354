"""InMemoryOrderStore: the OrderStore port in process memory, for tests, simulations and library use.

It costs a few microseconds per order: every write is an O(1) dict operation applied on commit,
outbox payloads are built only when a relay reads them, and listings bisect a sorted timeline
(or sort just the open orders) instead of scanning history.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import islice

from adapters.cursor import decode_cursor, decode_fill_cursor, encode_cursor, encode_fill_cursor
from adapters.limits import check_limit
from adapters.memory.tables import Tables, TimeKey
from adapters.memory.unit_of_work import KeyLocks, MemoryUnitOfWork
from adapters.outbox import ClaimedBatch, LazyOutboxMessage, PayloadOf
from trading_core.events import Event
from trading_core.fills import Fill, cash_flow
from trading_core.history import ClosedPositionPage, FillPage, HistoryFilter, PortfolioSnapshot
from trading_core.orders import Order
from trading_core.ports import FillTotals, OrderFilter, OrderPage, OutboxBatch, TradingStateRecord, UnitOfWork
from trading_core.positions import Position
from trading_core.values import BrokerOrderId, ClientOrderId, EventId, OrderId, Symbol

__all__ = ["InMemoryOrderStore"]

_EVENTS_PER_ORDER = 8
"""Sent events a bounded store remembers per order it keeps (an order and its fills announce 3 to 6)."""


class InMemoryOrderStore:
    """Orders, fills, positions, trading state and the outbox, kept in dicts.

    Args:
        payload_of: turns a domain event into its JSON-ready payload; called lazily, at most once
            per outbox message, when a relay reads the payload.
        outbox: queue each change's events for a relay (`claim_outbox`). Without a relay reading
            them they would stay in memory for good, so a store whose events only go to the
            engine's in-process listeners (`TradingEngine.subscribe`) says False: events are
            then not kept, and the outbox is always empty.
        history: keep only the `history` orders that ended last (open orders are always kept),
            with their fills, and as many closed positions and portfolio snapshots: memory then
            stays level however long the run. A forgotten order is not found by its ids any more
            (its client order id may be used again). None (the default) keeps everything. The
            realized P&L by day and strategy is kept whole either way.

    Raises:
        ValueError: `history` is below 1.
    """

    def __init__(self, *, payload_of: PayloadOf, outbox: bool = True, history: int | None = None) -> None:
        if history is not None and history < 1:
            raise ValueError(f"history must be at least 1 (or None to keep everything), was {history}")
        self.tables = Tables(payload_of, keep_outbox=outbox, keep=history)
        self.order_locks = KeyLocks()
        self.position_locks = KeyLocks()
        """The units of work's row locks, by order id and by symbol."""
        self._closing = KeyLocks()
        """Symbols held by `symbol_lock`: apart from the row locks, which a close takes too."""

    def unit_of_work(self, *, optimistic: bool = False) -> AbstractAsyncContextManager[UnitOfWork]:
        """`optimistic` changes nothing here: nobody else writes these tables, so every read is current."""
        return MemoryUnitOfWork(self.tables, self.order_locks, self.position_locks)

    async def get_order(self, order_id: OrderId) -> Order | None:
        return self.tables.orders.get(order_id)

    async def get_order_by_client_id(self, client_order_id: ClientOrderId) -> Order | None:
        return self.tables.order_by_client(client_order_id)

    async def get_order_by_broker_id(self, broker_order_id: BrokerOrderId) -> Order | None:
        order_id = self.tables.by_broker.get(broker_order_id)
        return None if order_id is None else self.tables.orders[order_id]

    async def list_orders(
        self,
        *,
        status: OrderFilter = OrderFilter.OPEN,
        limit: int = 100,
        cursor: str | None = None,
        where: HistoryFilter | None = None,
    ) -> OrderPage:
        """Newest first by (created_at, id); see `adapters.cursor` for why the cursor is stable.

        Raises:
            ValueError: `limit` is less than 1.
        """
        check_limit(limit)
        after = decode_cursor(cursor) if cursor is not None else None
        if where is not None and not where.is_empty:
            keys = self._filtered_below(status, after, limit + 1, where)
        else:
            keys = self._keys_below(status, after, limit + 1)
        orders = self.tables.orders
        page = [orders[order_id] for _, order_id in keys[:limit]]
        more = len(keys) > limit
        next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if more else None
        return OrderPage(page, next_cursor)

    def _keys_below(self, status: OrderFilter, after: TimeKey | None, count: int) -> list[TimeKey]:
        """The first `count` keys below `after`, newest first."""
        tables = self.tables
        if status is OrderFilter.OPEN:  # only the open orders are looked at, however long history is
            orders = tables.orders
            keys = ((orders[i].created_at, i) for i in tables.open_orders)
            return heapq.nlargest(count, keys if after is None else (k for k in keys if k < after))
        return list(islice(self._timeline_below(status, after), count))

    def _filtered_below(
        self, status: OrderFilter, after: TimeKey | None, count: int, where: HistoryFilter
    ) -> list[TimeKey]:
        """As `_keys_below`, of the orders `where` admits: from `until` down, stopping at `since`."""
        orders = self.tables.orders
        if where.until is not None and (after is None or (where.until, "") < after):
            after = (where.until, "")
        if status is OrderFilter.OPEN:
            keys = ((orders[i].created_at, i) for i in self.tables.open_orders if where.admits_order(orders[i]))
            return heapq.nlargest(count, keys if after is None else (k for k in keys if k < after))
        since = where.since
        found: list[TimeKey] = []
        for key in self._timeline_below(status, after):
            if since is not None and key[0] < since:
                break
            if where.admits_order(orders[key[1]]):
                found.append(key)
                if len(found) == count:
                    break
        return found

    def _timeline_below(self, status: OrderFilter, after: TimeKey | None) -> Iterator[TimeKey]:
        timeline = self.tables.timeline
        end = len(timeline) if after is None else bisect.bisect_left(timeline, after)
        open_orders = self.tables.open_orders
        for index in range(end - 1, -1, -1):
            key = timeline[index]
            if status is OrderFilter.ALL or key[1] not in open_orders:
                yield key

    async def list_fills(self, order_id: OrderId) -> list[Fill]:
        """The order's fills by time, then execution id (as the database orders them)."""
        return sorted(self.tables.fills.get(order_id, ()), key=lambda f: (f.timestamp, f.execution_id))

    async def fills_since(self, since: datetime) -> list[Fill]:
        """Fills at or after `since`, by time, then execution id and order id."""
        fills = self.tables.fills_by_time
        start = bisect.bisect_left(fills, (since,))
        return [key[3] for key in fills[start:]]

    async def find_fills(
        self, *, where: HistoryFilter | None = None, limit: int = 100, cursor: str | None = None
    ) -> FillPage:
        """Newest first by (time, execution id, order id), walking down from the cursor or `until`.

        Raises:
            ValueError: `limit` is less than 1.
        """
        check_limit(limit)
        where = where or HistoryFilter()
        keys, orders = self.tables.fills_by_time, self.tables.orders
        end = len(keys)
        if cursor is not None:
            at, order_id, execution_id = decode_fill_cursor(cursor)
            end = bisect.bisect_left(keys, (at, execution_id, order_id))
        if where.until is not None:
            end = min(end, bisect.bisect_left(keys, (where.until,)))
        found: list[Fill] = []
        for index in range(end - 1, -1, -1):
            fill = keys[index][3]
            if where.since is not None and fill.timestamp < where.since:
                break
            order = orders.get(fill.order_id)
            strategy_id = order.strategy_id if order is not None else None
            if where.admits(fill.symbol, fill.side, strategy_id, fill.timestamp):
                found.append(fill)
                if len(found) > limit:
                    break
        page = found[:limit]
        if len(found) <= limit:
            return FillPage(page)
        last = page[-1]
        return FillPage(page, encode_fill_cursor(last.timestamp, last.order_id, last.execution_id))

    async def realized_by_strategy(self, day: date) -> dict[str | None, Decimal]:
        return self.tables.history.realized_on(day)

    async def list_closed_positions(
        self,
        *,
        symbol: Symbol | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> ClosedPositionPage:
        return self.tables.history.closed_page(symbol=symbol, since=since, until=until, limit=limit, cursor=cursor)

    async def add_snapshot(self, snapshot: PortfolioSnapshot) -> None:
        self.tables.history.add_snapshot(snapshot)

    async def list_snapshots(self, *, since: datetime, until: datetime) -> list[PortfolioSnapshot]:
        return self.tables.history.snapshots_between(since, until)

    async def fill_totals(self) -> FillTotals:
        fills = [key[3] for key in self.tables.fills_by_time]
        return FillTotals(cash_flow=cash_flow(fills), last_prices={f.symbol: f.price for f in fills})

    async def get_position(self, symbol: Symbol) -> Position | None:
        return self.tables.positions.get(symbol)

    async def list_positions(self) -> list[Position]:
        """Open positions by symbol."""
        positions = self.tables.positions
        return [positions[symbol] for symbol in sorted(positions)]

    async def last_order_at(self) -> datetime | None:
        timeline = self.tables.timeline
        return timeline[-1][0] if timeline else None

    async def count_pending_orders(self) -> int:
        return len(self.tables.open_orders)

    async def count_open_positions(self) -> int:
        return len(self.tables.positions)

    async def get_trading_state(self) -> TradingStateRecord | None:
        return self.tables.trading_state

    async def add_orders(self, orders: Sequence[Order], events: Sequence[Event] = ()) -> None:
        """Write them directly, as a unit of work adding them would commit them.

        Everything is checked before anything is written and nothing is awaited between, so a
        refusal leaves nothing and no other unit can commit in the middle.
        """
        tables = self.tables
        for index, order in enumerate(orders):
            tables.check_insert(order, orders[:index])
        if events:
            tables.check_new_events(events)
        for order in orders:
            tables.put_order(order)
        if events:
            tables.put_events(events)

    async def prune_outbox(self, sent_before: datetime, limit: int = 10_000) -> int:
        check_limit(limit)
        sent, event_ids, pruned = self.tables.sent, self.tables.event_ids, 0
        while sent and pruned < limit and sent[0][0] < sent_before:
            batch = sent[0][1]
            taken = batch[: limit - pruned]
            event_ids.difference_update(taken)
            pruned += len(taken)
            if len(taken) == len(batch):
                sent.popleft()
            else:
                del batch[: len(taken)]
        return pruned

    def claim_outbox(self, limit: int = 100) -> AbstractAsyncContextManager[OutboxBatch]:
        """Claim the oldest unsent messages that no other relay holds.

        Raises:
            ValueError: `limit` is less than 1.
        """
        check_limit(limit)
        return self._claim(limit)

    @asynccontextmanager
    async def _claim(self, limit: int) -> AsyncIterator[OutboxBatch]:
        claimed = self.tables.claimed
        queued = self.tables.outbox.values()
        # Another relay rarely holds messages at the same time: without one, nothing is skipped.
        unclaimed = (m for m in queued if m.event_id not in claimed) if claimed else queued
        batch = _MemoryOutboxBatch(self, list(islice(unclaimed, limit)))
        claimed.update(batch.ids)
        try:
            yield batch
        finally:
            claimed.difference_update(batch.ids)
            batch.closed = True

    async def ping(self) -> bool:
        return True

    @asynccontextmanager
    async def symbol_lock(self, symbol: Symbol) -> AsyncIterator[None]:
        """One holder at a time, first come first served: only this process uses the store."""
        await self._closing.acquire(symbol)
        try:
            yield
        finally:
            self._closing.release(symbol)

    def __repr__(self) -> str:
        return f"InMemoryOrderStore(orders={len(self.tables.orders)}, unsent={len(self.tables.outbox)})"


class _MemoryOutboxBatch(ClaimedBatch):
    """Messages claimed by one relay; others skip them until it leaves the block."""

    def __init__(self, store: InMemoryOrderStore, messages: list[LazyOutboxMessage]) -> None:
        super().__init__(messages)
        self._store = store

    async def mark_sent(self, event_ids: Sequence[EventId]) -> None:
        """Record that the bus acknowledged these messages; they will not be claimed again."""
        self.check_marks(event_ids)
        outbox = self._store.tables.outbox
        acknowledged: list[str] = [event_id for event_id in event_ids if outbox.pop(event_id, None) is not None]
        if acknowledged:
            tables = self._store.tables
            tables.sent.append((datetime.now(UTC), acknowledged))
            if tables.keep is not None:  # a bounded store forgets what the bus has, beyond its bound
                tables.forget_sent(tables.keep * _EVENTS_PER_ORDER)
