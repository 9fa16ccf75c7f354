"""The store's ports: the order store, its unit of work and outbox, and the values they hand back.

Re-exported by `trading_core.ports`, where the engine's other ports are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

import attrs

from trading_core.enums import TradingState
from trading_core.events import Event
from trading_core.fills import Fill
from trading_core.history import ClosedPosition, ClosedPositionPage, FillPage, HistoryFilter, PortfolioSnapshot
from trading_core.orders import Order
from trading_core.positions import Position
from trading_core.values import BrokerOrderId, ClientOrderId, EventId, OrderId, Symbol


class OrderFilter(StrEnum):
    """Which orders a listing returns, as the API's `status` query names them."""

    OPEN = "open"
    CLOSED = "closed"
    ALL = "all"


@attrs.frozen
class OrderPage:
    """One page of a listing; `next_cursor` is opaque and None on the last page."""

    orders: Sequence[Order]
    next_cursor: str | None = None


@attrs.frozen(kw_only=True)
class FillTotals:
    """What every stored fill adds up to, for an account that carries on from them."""

    cash_flow: Decimal
    """Cash the fills moved: sales in, purchases and commissions out."""
    last_prices: Mapping[Symbol, Decimal]
    """Each traded symbol's price at its last fill (by time, then execution id, then order id)."""


@attrs.frozen(kw_only=True)
class TradingStateRecord:
    """The engine's trading state and who set it, when and why."""

    state: TradingState
    reason: str
    changed_at: datetime
    changed_by: str


class EventMessage(Protocol):
    """An event as it leaves the outbox: id, type, time, and its JSON-ready payload."""

    @property
    def event_id(self) -> EventId:
        """The event's id: a bus drops a second message with the same id."""

    @property
    def type(self) -> str:
        """The event's type, as its subject names it (`trade.order.filled`)."""

    @property
    def occurred_at(self) -> datetime:
        """When the change it announces happened."""

    @property
    def payload(self) -> Mapping[str, Any]:
        """The event's data, ready for JSON."""


class UnitOfWork(Protocol):
    """One transaction: everything written through it commits together or not at all."""

    async def get_order(self, order_id: OrderId, *, for_update: bool = False) -> Order | None:
        """The order with `order_id`, as this transaction sees it; `for_update` locks its row until the end."""

    async def get_order_by_client_id(self, client_order_id: ClientOrderId, *, for_update: bool = False) -> Order | None:
        """The order with `client_order_id`, as `get_order` finds one by id."""

    async def get_order_by_broker_id(self, broker_order_id: BrokerOrderId, *, for_update: bool = False) -> Order | None:
        """The order the broker knows as `broker_order_id`, as `get_order` finds one by id."""

    async def add_order(self, order: Order) -> None:
        """Insert a new order.

        Raises:
            DuplicateClientOrderId: its client order id is taken.
        """

    async def update_order(self, order: Order) -> None:
        """Write a changed order over the stored one with the same id."""

    async def add_fill(self, fill: Fill) -> None:
        """Store an execution; one already stored (by order and execution id) is kept as it was."""

    async def get_position(self, symbol: Symbol, *, for_update: bool = False) -> Position | None:
        """The position in `symbol` (None if never held); `for_update` locks it until the end."""

    async def save_position(self, position: Position) -> None:
        """Write the position in its symbol, inserted or replaced."""

    async def add_events(self, events: Sequence[Event]) -> None:
        """Queue events in the outbox, in order, in this transaction."""

    async def save_trading_state(self, record: TradingStateRecord) -> None:
        """Write the trading state and who set it."""

    async def add_closed_position(self, closed: ClosedPosition) -> None:
        """Keep a position that went flat (or flipped) in the history, with the fill that closed it."""

    async def commit(self) -> None:
        """Make every write of this unit durable at once.

        Raises:
            ConcurrentUpdate: an optimistic unit found a row another writer changed; nothing was stored.
            StoreError: the store failed; nothing was stored.
        """

    async def rollback(self) -> None:
        """Drop every write of this unit."""


class OutboxBatch(Protocol):
    """Outbox messages claimed by one relay; no other relay sees them until released."""

    @property
    def messages(self) -> Sequence[EventMessage]:
        """The claimed messages, oldest first."""

    async def mark_sent(self, event_ids: Sequence[EventId]) -> None:
        """Record that the bus has these; the rest of the batch is released for the next claim."""


class OrderStore(Protocol):
    """Durable orders, fills, positions, engine state and the outbox."""

    def unit_of_work(self, *, optimistic: bool = False) -> AbstractAsyncContextManager[UnitOfWork]:
        """Begin a transaction; leaving the block without `commit()` rolls it back.

        `optimistic`: reads `for_update` may answer with a row as this store last wrote it instead
        of locking it. `commit()` then checks that no other writer changed such a row since (one
        it did not write too) and, if one did, raises `ConcurrentUpdate` with nothing stored: the
        caller does the unit again without optimism. A store with one writer may ignore it.
        """

    async def get_order(self, order_id: OrderId) -> Order | None:
        """The order with `order_id`, as last committed."""

    async def get_order_by_client_id(self, client_order_id: ClientOrderId) -> Order | None:
        """The order with `client_order_id`, as last committed."""

    async def get_order_by_broker_id(self, broker_order_id: BrokerOrderId) -> Order | None:
        """The order the broker knows as `broker_order_id`, as last committed."""

    async def list_orders(
        self,
        *,
        status: OrderFilter = OrderFilter.OPEN,
        limit: int = 100,
        cursor: str | None = None,
        where: HistoryFilter | None = None,
    ) -> OrderPage:
        """Newest first, by (created_at, id), those `where` admits by their creation; a cursor not
        of the shape the store issues raises `InvalidCursor`."""

    async def list_fills(self, order_id: OrderId) -> list[Fill]:
        """The executions of one order, oldest first."""

    async def find_fills(
        self, *, where: HistoryFilter | None = None, limit: int = 100, cursor: str | None = None
    ) -> FillPage:
        """Executions `where` admits (symbol, side and strategy id are their order's), newest first
        by (time, execution id, order id); a cursor not of the shape the store issues raises `InvalidCursor`."""

    async def realized_by_strategy(self, day: date) -> dict[str | None, Decimal]:
        """What the fills of a New York trading day realized, by their order's strategy id; only
        strategies that traded (None for orders without one)."""

    async def list_closed_positions(
        self,
        *,
        symbol: Symbol | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> ClosedPositionPage:
        """Positions that closed in [since, until), the latest first by (closed_at, execution id, order id)."""

    async def add_snapshot(self, snapshot: PortfolioSnapshot) -> None:
        """Keep a snapshot of the portfolio's value."""

    async def list_snapshots(self, *, since: datetime, until: datetime) -> list[PortfolioSnapshot]:
        """The snapshots taken in [since, until), oldest first."""

    async def fills_since(self, since: datetime) -> list[Fill]:
        """Every execution at or after `since`, oldest first."""

    async def fill_totals(self) -> FillTotals:
        """Every stored fill added up, without reading them one by one (see `FillTotals`)."""

    async def get_position(self, symbol: Symbol) -> Position | None:
        """The position in `symbol`, open or flat; None if it was never held."""

    async def list_positions(self) -> list[Position]:
        """Every position stored, flat ones included."""

    async def last_order_at(self) -> datetime | None:
        """When the newest order was created; None before the first."""

    async def count_pending_orders(self) -> int:
        """Orders still open (not in a final status), for the health endpoint."""

    async def count_open_positions(self) -> int:
        """Positions that are not flat, for the health endpoint."""

    async def get_trading_state(self) -> TradingStateRecord | None:
        """The trading state last saved; None on a new store (the engine starts active)."""

    def claim_outbox(self, limit: int = 100) -> AbstractAsyncContextManager[OutboxBatch]:
        """Claim up to `limit` unsent events, oldest first, for one relay until the block ends."""

    async def prune_outbox(self, sent_before: datetime, limit: int = 10_000) -> int:
        """Forget up to `limit` events the bus acknowledged before `sent_before`, oldest first.

        Returns how many went; an unsent event is never pruned. Keeps the outbox from growing
        with history (the orders, fills and positions are the record; the outbox is transport).
        """

    async def add_orders(self, orders: Sequence[Order], events: Sequence[Event] = ()) -> None:
        """Store new orders and the events announcing them in one transaction of their own.

        All or nothing: when a client order id is taken, `DuplicateClientOrderId` is raised and
        none of it is stored. The same as a unit of work doing it, in the fewest round trips.
        """

    async def ping(self) -> bool:
        """Whether the store answers, for the health endpoint."""

    def symbol_lock(self, symbol: Symbol) -> AbstractAsyncContextManager[None]:
        """Hold `symbol` for one closing of its position at a time, across every engine on this store.

        A second holder waits until the first leaves the block. It serialises closes only: orders,
        fills and positions are written under the unit of work's own locks, whether held or not.
        """
