"""The Alpaca broker: the Broker and MarketData ports over Alpaca's REST API and trade_updates.

Nothing opens in the constructor: `open()` starts the stream (and waits until it is connected
and backfilled), `close()` stops it; the httpx client belongs to the caller. Orders are never
sent twice: a submission or replacement that goes unanswered (5xx, timeout, dropped connection)
is not sent again but looked up by its client order id, for up to `lookup_window` seconds; the
found order is returned, and when Alpaca does not show it (or cannot be asked) `OrderInDoubt`
says so: the order may still be at Alpaca, and only evidence may settle it.
New orders also wait for the stream to be ready, so none goes out between a reconnection and
the backfill that recovers what the stream missed.
Quotes come from the market-data stream (`quotes.py`), which `open()` starts too: a symbol is
subscribed the first time `latest_quote` asks for it, or when it is held or has an open order in
a listing. The market data and asset reads (`latest_quote`, `get_bars`, `get_snapshots`,
`get_asset`, `watch_marks`, `pushing`) are inherited from `market_data.AlpacaMarketData`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Final, Self

import httpx

from adapters.alpaca import codec
from adapters.alpaca.backoff import Backoff
from adapters.alpaca.budget import Priority, RequestBudget
from adapters.alpaca.config import AlpacaSettings
from adapters.alpaca.errors import Operation, Unanswered
from adapters.alpaca.lookup import find_unanswered
from adapters.alpaca.market_data import AlpacaMarketData
from adapters.alpaca.quotes import QuoteStream
from adapters.alpaca.reading import each, order_path, parsed, read_fill_activities, read_orders
from adapters.alpaca.rest import AlpacaRestClient, Request, Retry
from adapters.alpaca.sequencer import UpdateSequencer
from adapters.alpaca.stream import TradeUpdatesStream, UpdateInbox
from trading_core.broker_models import BrokerOrder, BrokerPosition, TradeUpdate
from trading_core.clock import Clock
from trading_core.enums import OrderStatus, Side, TimeInForce
from trading_core.errors import BrokerError, NotFound, OrderNotCancelable, OrderNotFound
from trading_core.market import Account, MarketClock
from trading_core.orders import Order
from trading_core.ports import OrderFilter
from trading_core.values import ZERO, BrokerOrderId, ClientOrderId, Symbol, canonical_uuid

if TYPE_CHECKING:
    from trading_core.ports import Broker, MarketData, PushesMarks, RecoversFills, ReportsReconnects

__all__ = ["AlpacaBroker"]

log = logging.getLogger("adapters.alpaca.broker")

_HEALTHY_FOR: Final = 5.0
"""Seconds an answer from Alpaca counts as proof that REST answers."""
_CANCELING: Final = frozenset({OrderStatus.PENDING_CANCEL, OrderStatus.CANCELED})


class AlpacaBroker(AlpacaMarketData):
    """Alpaca's trading API as the engine's Broker and MarketData (the latter inherited: `AlpacaMarketData`).

    Args:
        client: One pooled `httpx.AsyncClient` for both hosts; its owner closes it.
        settings: Hosts, keys, timeouts, retries, rate limit and stream timings.
        clock: Wall time for the backfill (the system clock by default).
        budget: The account's request budget, if several adapters share one key.
        rng: Jitter source (seed it in tests).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: AlpacaSettings,
        *,
        clock: Clock | None = None,
        budget: RequestBudget | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._rng = rng or random.Random()  # noqa: S311  # jitter, not a secret
        self.rest = AlpacaRestClient(client, settings, budget=budget, rng=self._rng)
        self._sequencer = UpdateSequencer(gap_timeout=settings.stream.gap_timeout)
        self._inbox = UpdateInbox()
        self.stream = TradeUpdatesStream(
            settings, reader=self, inbox=self._inbox, sequencer=self._sequencer, clock=clock, rng=self._rng
        )
        self._task: asyncio.Task[None] | None = None
        self.quotes = QuoteStream(settings, rng=self._rng)
        self._quotes_task: asyncio.Task[None] | None = None
        self._positions: dict[Symbol, Decimal] = {}
        """Last known position per symbol: an order that reduces one goes first in the budget."""
        self._known_assets: set[Symbol] = set()
        """Symbols Alpaca has listed: an empty page of their bars is not checked again."""

    # ---------------------------------------------------------------- lifecycle

    async def open(self, *, wait: bool = True, within: float | None = None) -> None:
        """Start the trade_updates stream; with `wait`, return once it is connected and backfilled.

        Raises:
            BrokerError: `wait` and the stream was not ready within `within` seconds (by default
                `stream.ready_timeout`).
        """
        if self._task is None:
            self._task = asyncio.create_task(self.stream.run(), name="alpaca-trade-updates")
        if self._quotes_task is None:
            self._quotes_task = asyncio.create_task(self.quotes.run(), name="alpaca-market-data")
        if wait:
            try:
                timeout = self.settings.stream.ready_timeout if within is None else within
                await self.stream.wait_ready(timeout, meanwhile="the broker was not opened")
            except BrokerError:
                await self.close()
                raise

    async def close(self) -> None:
        """Stop the streams. The httpx client stays open: it belongs to the caller."""
        tasks = [t for t in (self._task, self._quotes_task) if t is not None]
        self._task = self._quotes_task = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # ---------------------------------------------------------------- orders

    async def submit_order(self, order: Order) -> BrokerOrder:
        """Send a new order under its client order id; it is never sent twice.

        Raises:
            BrokerRejected: Alpaca refused it (the code says why).
            OrderInDoubt: It went unanswered and Alpaca does not show it (yet).
            BrokerError: It was not sent (the stream is not ready, Alpaca is unreachable).
        """
        await self._ready()
        self._sequencer.expect(order.client_order_id)
        priority = Priority.CANCEL if self._reduces(order) else Priority.ORDER
        request = Request("POST", "/v2/orders", Operation.SUBMIT, priority, Retry.ONCE, body=codec.order_body(order))
        return await self._create(request, order.client_order_id)

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
        """Replace an open order; the new order (under `client_order_id`) is returned.

        Raises:
            OrderNotFound: No such order.
            OrderNotCancelable: The order can no longer be replaced.
            BrokerRejected: Alpaca refused the replacement.
        """
        await self._ready()
        self._sequencer.expect(client_order_id)
        body = codec.replace_body(
            client_order_id=client_order_id,
            quantity=quantity,
            limit_price=limit_price,
            stop_price=stop_price,
            time_in_force=time_in_force,
            trail=trail,
        )
        path = f"/v2/orders/{order_path(broker_order_id)}"
        request = Request("PATCH", path, Operation.REPLACE, Priority.ORDER, Retry.ONCE, body=body)
        return await self._create(request, client_order_id)

    async def _create(self, request: Request, client_order_id: ClientOrderId) -> BrokerOrder:
        try:
            created = codec.broker_order(await self.rest.call(request))
        except Unanswered as e:
            created = await self._resolve(client_order_id, e)
        except codec.WireError as e:  # accepted (2xx), but the answer is not an order we can read
            created = await self._resolve(client_order_id, Unanswered(str(e), status=200))
        self._sequencer.track(created)
        return created

    async def _resolve(self, client_order_id: ClientOrderId, cause: Unanswered) -> BrokerOrder:
        """The order an unanswered request may have created, or OrderInDoubt (`lookup.py`)."""
        return await find_unanswered(
            client_order_id,
            cause,
            find=lambda: self.get_order_by_client_id(client_order_id, priority=Priority.ORDER),
            window=self.settings.lookup_window,
            backoff=Backoff(self.settings.retry.base_delay, self.settings.retry.max_delay, self._rng),
        )

    async def get_order(self, broker_order_id: BrokerOrderId) -> BrokerOrder:
        """Raises `OrderNotFound` when Alpaca has no such order (or the id cannot be one).

        Raises:
            OrderNotFound: Alpaca has no such order, or the id cannot be one.
        """
        if canonical_uuid(broker_order_id) is None:
            raise OrderNotFound(f"no order with id {broker_order_id}", details={"orderId": broker_order_id})
        data = await self._read(f"/v2/orders/{order_path(broker_order_id)}")
        return parsed(codec.broker_order, data)

    async def get_order_by_client_id(
        self, client_order_id: ClientOrderId, *, priority: Priority = Priority.SYNC
    ) -> BrokerOrder | None:
        try:
            data = await self._read(
                "/v2/orders:by_client_order_id", {"client_order_id": str(client_order_id)}, priority=priority
            )
        except NotFound:
            return None
        return parsed(codec.broker_order, data)

    async def list_orders(
        self,
        *,
        status: OrderFilter = OrderFilter.OPEN,
        after: datetime | None = None,
        until: datetime | None = None,
        limit: int = 500,
    ) -> list[BrokerOrder]:
        """Newest first; `after` and `until` (both exclusive) are about submission time, as at Alpaca.

        Pages of Alpaca's 500 are joined up to `limit`; an order that does not parse is logged
        and left out rather than failing the listing.
        """
        found = await read_orders(self._read, status=status, after=after, until=until, limit=limit)
        await self.quotes.want(o.symbol for o in found if o.status.is_open)
        return found

    async def list_fill_activities(self, *, after: datetime) -> list[codec.FillActivity]:
        """Every execution since `after` (exclusive), oldest first, from `/v2/account/activities/FILL`.

        Pages of Alpaca's 100 are followed by `page_token` (the last id of the page before).
        An entry that does not parse is logged and left out.

        Raises:
            BrokerError: A page could not be read, or there were more than 200 pages.
        """
        return await read_fill_activities(self._read, after=after)

    async def recover_fills(self, remote: BrokerOrder) -> list[TradeUpdate] | None:
        """The executions of `remote`, oldest first, each with its own id, from the account's activities.

        For the order poll: when its copy of an order shows fills the engine has not applied, they
        are read here rather than made up as one averaged fill. None when the activities cannot be read.
        """
        since = remote.submitted_at - self.settings.stream.backfill_margin
        try:
            activities = await self.list_fill_activities(after=since)
        except BrokerError as e:
            log.warning("the executions of order %s could not be read: %s", remote.broker_order_id, e.message)
            return None
        mine = [a for a in activities if a.order_id == remote.broker_order_id]
        return self._sequencer.executions(remote, mine)

    async def cancel_order(self, broker_order_id: BrokerOrderId) -> None:
        """Ask Alpaca to cancel; the outcome (`canceled`, or a fill first) comes on the stream.

        A cancel is idempotent, so an unanswered one is sent again; a refusal after such a
        retry is checked against the order (the first try may have done it).

        Raises:
            OrderNotFound: No such order.
            OrderNotCancelable: It is already filled, canceled, expired, replaced or rejected.
        """
        if canonical_uuid(broker_order_id) is None:
            raise OrderNotFound(f"no order with id {broker_order_id}", details={"orderId": broker_order_id})
        path = f"/v2/orders/{order_path(broker_order_id)}"
        try:
            await self.rest.call(Request("DELETE", path, Operation.CANCEL, Priority.CANCEL))
        except OrderNotCancelable as e:
            if e.details.get("attempts", 1) > 1 and (await self.get_order(broker_order_id)).status in _CANCELING:
                return  # an earlier, unanswered attempt did it
            raise

    # ---------------------------------------------------------------- account, positions, clock

    async def list_positions(self) -> list[BrokerPosition]:
        positions = each(codec.position, await self._read("/v2/positions"), "position")
        self._positions = {p.symbol: p.quantity for p in positions}
        await self.quotes.want(p.symbol for p in positions if p.quantity)
        return positions

    async def get_account(self) -> Account:
        return parsed(codec.account, await self._read("/v2/account"))

    async def get_clock(self) -> MarketClock:
        return parsed(codec.clock, await self._read("/v2/clock"))

    @property
    def reconnections(self) -> int:
        """How many times the trade_updates stream has connected and been backfilled."""
        return self.stream.backfills

    # ---------------------------------------------------------------- trade updates and health

    def drain_updates(self) -> list[TradeUpdate]:
        return self._seen(self._inbox.drain())

    async def next_updates(self) -> list[TradeUpdate]:
        return self._seen(await self._inbox.next())

    async def health(self) -> Mapping[str, str]:
        """`alpaca`: whether REST answers (asked when it has not answered lately); `websocket`."""
        return {"alpaca": await self._rest_health(), "websocket": self.stream.state}

    async def _rest_health(self) -> str:
        answered = self.rest.last_answer_at
        if answered is not None and time.monotonic() - answered < _HEALTHY_FOR:
            return "connected"
        try:
            await self.get_clock()
        except BrokerError as e:
            return f"unavailable: {e.message}"[:200]
        return "connected"

    # ---------------------------------------------------------------- internals

    async def _ready(self) -> None:
        if self._task is None:
            raise BrokerError("the Alpaca broker is not open; the order was not sent", retryable=False)
        await self.stream.wait_ready(self.settings.stream.ready_timeout)

    def _reduces(self, order: Order) -> bool:
        """Whether the order only takes an existing position towards zero."""
        held = self._positions.get(order.symbol, ZERO)
        if order.side is Side.SELL:
            return ZERO < order.quantity <= held
        return ZERO < order.quantity <= -held

    def _seen(self, updates: list[TradeUpdate]) -> list[TradeUpdate]:
        for update in updates:
            if update.position_quantity is not None:
                self._positions[update.order.symbol] = update.position_quantity
        return updates


if TYPE_CHECKING:

    def _implements_the_ports(
        broker: AlpacaBroker,
    ) -> tuple[Broker, MarketData, PushesMarks, RecoversFills, ReportsReconnects]:
        """mypy checks here that the adapter has every method of the ports, exactly typed."""
        return broker, broker, broker, broker, broker
