"""The ports: what the engine needs from the outside world, as `typing.Protocol`s.

Adapters implement them (in-memory, paper exchange, Alpaca, PostgreSQL, NATS); the engine only
ever talks to these.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import attrs

from trading_core.bars import Bar, Snapshot, Timeframe
from trading_core.broker_models import BrokerOrder, BrokerPosition, TradeUpdate
from trading_core.clock import Clock
from trading_core.enums import TimeInForce, TradingState
from trading_core.events import Event
from trading_core.fills import Fill
from trading_core.history import ClosedPosition, ClosedPositionPage, FillPage, HistoryFilter, PortfolioSnapshot
from trading_core.market import Account, Asset, MarketClock, Quote
from trading_core.orders import Order
from trading_core.positions import Position
from trading_core.values import BrokerOrderId, ClientOrderId, EventId, OrderId, Symbol

__all__ = [
    "Broker",
    "Clock",
    "EventBus",
    "EventMessage",
    "MarkListener",
    "MarketData",
    "OrderFilter",
    "OrderPage",
    "OrderStore",
    "OutboxBatch",
    "PushesMarks",
    "RecoversFills",
    "ReportsReconnects",
    "TradingStateRecord",
    "UnitOfWork",
]


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


class Broker(Protocol):
    """The brokerage: orders, positions, account, assets, clock, and trade updates."""

    async def submit_order(self, order: Order) -> BrokerOrder:
        """Send a new order under its `client_order_id`.

        Raises:
            BrokerRejected: The broker refused it.
            OrderInDoubt: It went unanswered and may be at the broker: never send it again.
            BrokerError: It was not sent.
        """

    async def get_order(self, broker_order_id: BrokerOrderId) -> BrokerOrder:
        """The broker's copy of an order.

        Raises:
            OrderNotFound: the broker does not know it.
            BrokerError: the broker could not be asked.
        """

    async def get_order_by_client_id(self, client_order_id: ClientOrderId) -> BrokerOrder | None:
        """The broker's copy of the order sent under `client_order_id`; None if it has none.

        Raises:
            BrokerError: the broker could not be asked (which says nothing about the order).
        """

    async def list_orders(
        self,
        *,
        status: OrderFilter = OrderFilter.OPEN,
        after: datetime | None = None,
        until: datetime | None = None,
        limit: int = 500,
    ) -> list[BrokerOrder]:
        """Newest first; submitted after `after` and before `until` (both exclusive, as at Alpaca)."""

    async def cancel_order(self, broker_order_id: BrokerOrderId) -> None:
        """Ask the broker to cancel an order; the outcome comes as a trade update.

        Raises:
            OrderNotFound: the broker does not know it.
            OrderNotCancelable: it has ended, or is ending, at the broker.
            BrokerError: the request failed.
        """

    async def replace_order(
        self,
        broker_order_id: BrokerOrderId,
        *,
        client_order_id: ClientOrderId,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        time_in_force: TimeInForce | None = None,
        trail: Decimal | None = None,
    ) -> BrokerOrder:
        """Replace a working order with a new one under `client_order_id`; None keeps a field.

        `trail` is a trailing stop's new trail, in its own kind (price or percent: Alpaca's `trail`).

        Raises:
            BrokerRejected: the broker refused the replacement; the old order works on.
            OrderNotFound, OrderNotCancelable: the old order has ended at the broker.
            OrderInDoubt: it went unanswered and may be at the broker.
            BrokerError: it was not sent.
        """

    async def list_positions(self) -> list[BrokerPosition]:
        """The account's open positions, as the broker holds them."""

    async def get_account(self) -> Account:
        """The account: cash, buying power, equity, and whether it may trade."""

    async def get_clock(self) -> MarketClock:
        """Whether the market is open, and its next open and close."""

    async def get_asset(self, symbol: Symbol) -> Asset | None:
        """What the broker knows of `symbol` (tradable, shortable, fractionable...); None if nothing."""

    def drain_updates(self) -> list[TradeUpdate]:
        """Trade updates that have arrived and not been taken yet, oldest first; never blocks."""

    async def next_updates(self) -> list[TradeUpdate]:
        """Wait until at least one trade update has arrived, then take all that have."""

    async def health(self) -> Mapping[str, str]:
        """Component name -> "connected" or a short reason it is not."""


@runtime_checkable
class RecoversFills(Protocol):
    """A broker whose executions can be read one by one, each with its own id (Alpaca's activities).

    The order poll uses it instead of making up an averaged fill when the broker's copy of an
    order shows fills we have not applied: they may only be on their way (in the stream's inbox),
    and a fill made up from the order's cumulative quantity would stand in for the real executions.
    """

    async def recover_fills(self, remote: BrokerOrder) -> list[TradeUpdate] | None:
        """The executions of `remote` not yet delivered, as trade updates with the broker's own
        execution ids (none when the stream has delivered them already); None when they cannot be read."""


@runtime_checkable
class ReportsReconnects(Protocol):
    """A broker whose trade update stream can be lost and connected again (Alpaca's).

    Fills the stream delivered while it was away reach us late, or (if it missed them) by a
    backfill: the engine reads the account again after each reconnection.
    """

    @property
    def reconnections(self) -> int:
        """How many times the stream has connected and caught up; it grows with each reconnection."""


class MarketData(Protocol):
    """Prices: the latest quote, bars of a timeframe, and snapshots (`trading_core.bars`)."""

    async def latest_quote(self, symbol: Symbol) -> Quote | None:
        """The latest quote for `symbol`; None when there is no price for it."""

    async def get_bars(self, symbol: Symbol, timeframe: Timeframe, start: datetime, end: datetime) -> list[Bar]:
        """Every bar of `symbol` in `timeframe` that starts in [start, end] (both inclusive, as at
        Alpaca), oldest first; intervals without a trade have no bar.

        Raises:
            InvalidMarketDataRequest: `end` before `start`, or an instant without a time zone.
            UnknownSymbol: the source does not list `symbol`.
            BrokerError: the source could not be asked.
        """

    async def get_snapshots(self, symbols: Sequence[Symbol]) -> dict[Symbol, Snapshot]:
        """The snapshot of each listed symbol among `symbols`; those the source does not list are left out.

        Raises:
            BrokerError: the source could not be asked.
        """


MarkListener = Callable[[Symbol, Decimal], None]
"""Called with a symbol and its new price; a plain function that must not block."""


@runtime_checkable
class PushesMarks(Protocol):
    """Market data that tells whenever a price changes (the paper exchange, Alpaca's quote stream).

    The engine values what it holds at these prices as they come, so that the account's equity
    follows every symbol's price without a request (or a loop over the symbols) per order; and
    takes a pushed price as the mark of a symbol while `pushing` says it is current.
    """

    def watch_marks(self, listener: MarkListener) -> None:
        """Call `listener(symbol, price)` with every price change from now on."""

    def pushing(self, symbol: Symbol) -> bool:
        """Whether every change of `symbol`'s price is pushed now: then the last one pushed is its
        latest price, and the engine does not ask `latest_quote` for it."""


class EventBus(Protocol):
    """Where events go out to other services."""

    async def publish(self, message: EventMessage) -> None:
        """Publish one message; return only once the bus has it (duplicates by id are dropped)."""
