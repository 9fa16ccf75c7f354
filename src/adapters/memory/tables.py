"""The in-memory store's committed state: rows in dicts, plus the indexes that keep reads O(1)."""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from adapters.memory.history import History
from adapters.outbox import LazyOutboxMessage, PayloadOf
from trading_core.errors import DuplicateClientOrderId, StoreError
from trading_core.events import Event
from trading_core.fills import Fill
from trading_core.orders import Order
from trading_core.ports import TradingStateRecord
from trading_core.positions import Position
from trading_core.values import OrderId

TimeKey = tuple[datetime, str]
"""(created_at, id): the key orders are listed by."""

FillKey = tuple[datetime, str, str, Fill]
"""(timestamp, execution id, order id, fill): fills in time order; the first three are unique."""

_Key = TypeVar("_Key", TimeKey, FillKey)


class Tables:
    """Committed orders, fills, positions, outbox and trading state; changed only by a commit.

    Args:
        payload_of: turns an event into its payload, for the outbox messages (see `put_events`).
        keep_outbox: whether committed events are queued in the outbox at all.
        keep: how many orders that have ended are kept, with their fills (the newest to end; open
            orders are always kept); None keeps every one. Closed positions and snapshots are kept
            to the same number.
    """

    __slots__ = (
        "by_broker",
        "by_client",
        "claimed",
        "ended",
        "event_ids",
        "fill_keys",
        "fills",
        "fills_by_time",
        "history",
        "keep",
        "keep_outbox",
        "open_orders",
        "orders",
        "outbox",
        "payload_of",
        "positions",
        "sent",
        "timeline",
        "trading_state",
    )

    def __init__(self, payload_of: PayloadOf, *, keep_outbox: bool = True, keep: int | None = None) -> None:
        self.payload_of = payload_of
        self.keep_outbox = keep_outbox
        self.keep = keep
        self.ended: deque[str] = deque()
        """Ids of the orders that have ended, in the order they ended: the first are forgotten first."""
        self.history = History(keep)
        self.orders: dict[str, Order] = {}
        self.by_client: dict[str, OrderId] = {}
        self.by_broker: dict[str, OrderId] = {}
        self.open_orders: dict[str, None] = {}
        """Ids of the orders not in a final status: listing open orders never walks history."""
        self.timeline: list[TimeKey] = []
        """Every order's (created_at, id), ascending: listings bisect it instead of sorting."""
        self.fills: dict[str, list[Fill]] = {}
        self.fill_keys: set[tuple[str, str]] = set()
        self.fills_by_time: list[FillKey] = []
        self.positions: dict[str, Position] = {}
        """Open positions only: a flat one is deleted, as the database's cache does."""
        self.outbox: dict[str, LazyOutboxMessage] = {}
        """Unsent events' messages, oldest first; one leaves when a relay marks it sent."""
        self.claimed: set[str] = set()
        self.event_ids: set[str] = set()
        """Every event id in the outbox, sent or not, as the database's primary key holds them."""
        self.sent: deque[tuple[datetime, list[str]]] = deque()
        """(when, event ids) of each acknowledgement, in order, until pruned: one entry per batch."""
        self.trading_state: TradingStateRecord | None = None

    def order_by_client(self, client_order_id: str) -> Order | None:
        """The order stored under `client_order_id`, if any."""
        order_id = self.by_client.get(client_order_id)
        return None if order_id is None else self.orders[order_id]

    def check_insert(self, order: Order, earlier: Sequence[Order]) -> None:
        """Refuse `order` as inserting it after the `earlier` orders of its batch (not stored) would.

        Its client order id is checked first, as the database does, then its id, then the broker's.

        Raises:
            DuplicateClientOrderId: its client order id is taken.
            StoreError: its id or its broker order id is taken.
        """
        client_order_id, broker_order_id = order.client_order_id, order.broker_order_id
        # Most batches are one order, with no earlier ones to scan.
        if client_order_id in self.by_client or (earlier and _holds(earlier, "client_order_id", client_order_id)):
            raise client_order_id_taken(client_order_id)
        if order.id in self.orders or (earlier and _holds(earlier, "id", order.id)):
            raise StoreError(f"order {order.id} is already stored")
        if broker_order_id is not None and (
            broker_order_id in self.by_broker or (earlier and _holds(earlier, "broker_order_id", broker_order_id))
        ):
            raise broker_order_id_taken(broker_order_id)

    def check_new_events(self, events: Sequence[Event]) -> None:
        """Refuse events whose ids repeat among themselves or are in the outbox already.

        Raises:
            StoreError: an event id repeats, or is in the outbox already.
        """
        ids = {e.event_id for e in events}
        if len(ids) < len(events) or not self.event_ids.isdisjoint(ids):
            raise StoreError("an event of this unit of work is already in the outbox")

    def put_order(self, order: Order) -> None:
        """Insert or replace an order and keep every index in step."""
        order_id = order.id
        old = self.orders.get(order_id)
        self.orders[order_id] = order
        if old is None:
            self.by_client[order.client_order_id] = order_id
            if order.broker_order_id is not None:
                self.by_broker[order.broker_order_id] = order_id
            _insert_sorted(self.timeline, (order.created_at, order_id))
        else:
            if old.client_order_id != order.client_order_id:
                del self.by_client[old.client_order_id]
                self.by_client[order.client_order_id] = order_id
            if old.broker_order_id != order.broker_order_id:
                if old.broker_order_id is not None:
                    del self.by_broker[old.broker_order_id]
                if order.broker_order_id is not None:
                    self.by_broker[order.broker_order_id] = order_id
            if old.created_at != order.created_at:
                self.timeline.remove((old.created_at, order_id))
                _insert_sorted(self.timeline, (order.created_at, order_id))
        if order.status.is_open:
            self.open_orders[order_id] = None
            return
        self.open_orders.pop(order_id, None)
        if self.keep is not None and (old is None or old.status.is_open):
            self.ended.append(order_id)
            if len(self.ended) > self.keep + self.keep // 10:
                self._forget(len(self.ended) - self.keep)

    def _forget(self, count: int) -> None:
        """Forget the `count` orders that ended first, with their fills, in one pass over the timelines.

        Done a tenth of `keep` at a time: each pass walks the timelines once, so an order costs a
        few steps of it, however long the history kept.
        """
        orders, forgotten = self.orders, set()
        for _ in range(count):
            order_id = self.ended.popleft()
            order = orders.pop(order_id, None)
            if order is None:
                continue
            forgotten.add(order_id)
            if self.by_client.get(order.client_order_id) == order_id:
                del self.by_client[order.client_order_id]
            if order.broker_order_id is not None and self.by_broker.get(order.broker_order_id) == order_id:
                del self.by_broker[order.broker_order_id]
            for fill in self.fills.pop(order_id, ()):
                self.fill_keys.discard((order_id, fill.execution_id))
        self.timeline = [key for key in self.timeline if key[1] not in forgotten]
        self.fills_by_time = [key for key in self.fills_by_time if key[2] not in forgotten]

    def forget_sent(self, bound: int) -> None:
        """Forget the ids of the events the bus acknowledged first, down to `bound` kept (whole batches)."""
        sent, event_ids = self.sent, self.event_ids
        while sent and len(event_ids) - len(self.outbox) > bound:
            event_ids.difference_update(sent.popleft()[1])

    def put_fill(self, fill: Fill) -> None:
        """Store a fill under its order; its (order id, execution id) is kept as its key."""
        self.fill_keys.add((fill.order_id, fill.execution_id))
        listed = self.fills.get(fill.order_id)
        if listed is None:
            self.fills[fill.order_id] = [fill]
        else:
            listed.append(fill)
        _insert_sorted(self.fills_by_time, (fill.timestamp, fill.execution_id, fill.order_id, fill))
        order = self.orders.get(fill.order_id)
        self.history.add_fill(fill, order.strategy_id if order is not None else None)

    def put_position(self, position: Position) -> None:
        """Store a position; a flat one is dropped."""
        if position.quantity:
            self.positions[position.symbol] = position
        else:
            self.positions.pop(position.symbol, None)

    def put_events(self, events: Sequence[Event]) -> None:
        """Queue events as messages; a payload is built only when a relay reads it, then kept.

        Made here, not on a claim: a claim then takes the messages as they are, in C.
        """
        if not self.keep_outbox:
            return
        event_ids, outbox, payload_of = self.event_ids, self.outbox, self.payload_of
        for event in events:
            message = LazyOutboxMessage(event, payload_of)
            event_ids.add(message.event_id)  # the message's slot: cheaper to read than the event's field
            outbox[message.event_id] = message


def client_order_id_taken(client_order_id: str) -> DuplicateClientOrderId:
    """The error a second order under `client_order_id` gets."""
    return DuplicateClientOrderId(
        f"client order id {client_order_id} is already taken", details={"clientOrderId": client_order_id}
    )


def broker_order_id_taken(broker_order_id: str) -> StoreError:
    """The error a second order under `broker_order_id` gets."""
    return StoreError(f"broker order id {broker_order_id} is already stored")


def _holds(orders: Sequence[Order], field: str, value: str) -> bool:
    """Whether one of `orders` has `value` in `field`."""
    return any(getattr(order, field) == value for order in orders)


def _insert_sorted(keys: list[_Key], key: _Key) -> None:
    """Append when `key` is the newest (the usual case), else insert it in order."""
    if not keys or key >= keys[-1]:
        keys.append(key)
    else:
        bisect.insort(keys, key)
