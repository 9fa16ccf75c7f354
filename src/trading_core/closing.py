"""Closing a position: one close at a time per symbol, counting what is already being closed.

A close holds the symbol (`OrderStore.symbol_lock`, a lock in the database for a shared store,
so replicas take turns too) from its first read to the broker's answer. Under it, the close:

1. cancels our working orders in the symbol that would not close it: those on the other side
   (they would add to the position, and wash against the close) and those on the closing side
   that rest (a limit, a stop: the broker holds their quantity, so a sale of the whole position
   is refused as "insufficient qty"); and waits until each is cancelled or has filled;
2. counts the market orders on the closing side that are still working (an earlier close, or a
   client's market order): they are on their way to close that much already;
3. sends one market order for the rest, or nothing when the rest is nothing.

It reads the position and the orders from the store, not the engine's book, since the book does
not see another replica's orders. A close reads the orders before the position, so a fill landing
between the two reads makes it send less, never more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Final, Protocol

from trading_core.book import Book
from trading_core.broker_models import BrokerOrder
from trading_core.enums import OrderStatus, OrderType, Side
from trading_core.errors import (
    BrokerError,
    InsufficientQuantity,
    OrderNotCancelable,
    OrderNotFound,
    PositionNotFound,
)
from trading_core.orders import Order
from trading_core.ports import Broker, OrderStore
from trading_core.reconcile import open_orders
from trading_core.requests import OrderRequest
from trading_core.values import ZERO, OrderId, Symbol
from trading_core.views import SubmitResult

log = logging.getLogger("trading_core.closing")

CANCEL_WAIT: Final = timedelta(seconds=10)
"""How long a close waits for the broker to confirm the cancels it asked for."""
_TURNS: Final = 3
"""How often a close clears the way again when the position turned meanwhile."""
_FIRST_LOOK: Final = 0.05
_LONGEST_PAUSE: Final = 1.0


class OrderDesk(Protocol):
    """What a close asks of the engine: send an order, cancel one, apply what the broker reports."""

    async def submit(self, request: OrderRequest) -> SubmitResult:
        """Check, store and send an order (`TradingEngine.submit`)."""

    async def cancel(self, order_id: OrderId | str) -> Order:
        """Ask for an order's cancel (`TradingEngine.cancel`)."""

    async def take_broker_copy(self, order: Order, remote: BrokerOrder) -> Order:
        """Bring an order to the broker's copy of it (`TradingEngine.take_broker_copy`)."""


class PositionCloser:
    """Closes positions, one close per symbol at a time (see the module's docstring).

    Args:
        store: where positions and orders are read, and whose `symbol_lock` serialises closes.
        broker: asked for an order's own copy while a cancel is not yet confirmed.
        desk: sends, cancels and applies updates (the engine).
        book: this process's open orders, which the store may not have yet.
        cancel_wait: how long to wait for cancels to be confirmed before giving up, sending nothing.
    """

    def __init__(
        self,
        *,
        store: OrderStore,
        broker: Broker,
        desk: OrderDesk,
        book: Book,
        cancel_wait: timedelta = CANCEL_WAIT,
    ) -> None:
        self._store = store
        self._book = book
        self._broker = broker
        self._desk = desk
        self._cancel_wait = cancel_wait

    async def close(self, symbol: Symbol, quantity: Decimal | None = None) -> SubmitResult:
        """Reduce the position by `quantity` (all of it by default) with one market order.

        What is already being closed counts: the order sent is for at most what is not. When
        nothing is left to close, nothing is sent and the answer is the newest order closing it.

        Raises:
            PositionNotFound: no position is open in `symbol` (perhaps closed by the close before).
            InsufficientQuantity: `quantity` is more than is held.
            BrokerError: a cancel was not confirmed within `cancel_wait`, or the broker's position
                could not be read; nothing was sent.
        """
        async with self._store.symbol_lock(symbol):
            if quantity is not None:  # refused before the orders in the way are cancelled, as after
                _check_held(symbol, quantity, abs(await self._position(symbol)))
            side, held = await self._clear_the_way(symbol)
            if quantity is not None:
                _check_held(symbol, quantity, held)
            closing = [o for o in await self._working(symbol) if _closes(o, side)]
            claimed = sum((o.remaining_quantity for o in closing), ZERO)
            at_broker = await self._held_at_broker(symbol, side)
            wanted = min(held if quantity is None else quantity, held - claimed, at_broker - claimed)
            if wanted <= ZERO and closing:
                newest = max(closing, key=lambda o: o.created_at)
                log.info("%s is already being closed by %s: nothing more sent", symbol, newest.id)
                return SubmitResult(newest)
            if wanted <= ZERO:  # ours is behind the broker's: the position sync will catch up
                raise PositionNotFound(
                    f"the broker holds no {symbol} to close ({at_broker} on the closing side): nothing was sent",
                    details={"symbol": symbol},
                )
            request = OrderRequest.create(symbol=symbol, side=side, type=OrderType.MARKET, quantity=wanted)
            return await self._desk.submit(request)

    async def _clear_the_way(self, symbol: Symbol) -> tuple[Side, Decimal]:
        """Cancel our orders that would not close the position (and wait for them to end); returns
        the closing side and what is held, read after them (a fill landing meanwhile counts).

        Their fills may turn the position to the other side: then the way is cleared again for it.
        """
        for _ in range(_TURNS):
            side = _closing_side(await self._position(symbol))
            for order in await self._working(symbol):
                if not _closes(order, side):
                    await self._cancel(order)
            held = await self._position(symbol)  # after the orders: see the module's docstring
            if _closing_side(held) is side:
                return side, abs(held)
        raise BrokerError(
            f"the position in {symbol} kept turning while its orders were cancelled: nothing was sent",
            retryable=True,
            details={"symbol": symbol},
        )

    async def _held_at_broker(self, symbol: Symbol, side: Side) -> Decimal:
        """What the broker holds on the side `side` closes: a close never sells what it no longer has.

        Ours may be behind the broker's (fills on their way): the broker's position bounds the close.
        """
        quantity = next((p.quantity for p in await self._broker.list_positions() if p.symbol == symbol), ZERO)
        return max(quantity, ZERO) if side is Side.SELL else max(-quantity, ZERO)

    async def close_all(self) -> list[SubmitResult]:
        """Close every open position, a symbol at a time; one closed meanwhile is passed over."""
        results: list[SubmitResult] = []
        for position in await self._store.list_positions():
            try:
                results.append(await self.close(position.symbol))
            except PositionNotFound:
                continue  # another close got there first
        return results

    async def _position(self, symbol: Symbol) -> Decimal:
        position = await self._store.get_position(symbol)
        if position is None or not position.is_open:
            raise PositionNotFound(f"no open position in {symbol}", details={"symbol": symbol})
        return position.quantity

    async def _working(self, symbol: Symbol) -> Sequence[Order]:
        """Our open orders in `symbol`: the store's (every replica's), and this process's that the
        book holds before their insert has reached the store (checked, then stored)."""
        working = {o.id: o for o in await open_orders(self._store) if o.symbol == symbol}
        for order in self._book.open_orders_in(symbol):
            working.setdefault(order.id, order)
        return list(working.values())

    async def _cancel(self, order: Order) -> None:
        """Cancel `order` and wait until it has ended (cancelled, or filled first)."""
        asked = await self._ask_to_cancel(order)
        pause = _FIRST_LOOK
        waited = 0.0
        while True:
            current = await self._store.get_order(order.id)
            if current is None or current.is_terminal:
                return
            if not asked:  # it was on its way to the broker: it may be cancelled now
                asked = await self._ask_to_cancel(current)
            await self._settle_from_broker(current)
            current = await self._store.get_order(order.id)
            if current is None or current.is_terminal:
                return
            if waited >= self._cancel_wait.total_seconds():
                raise BrokerError(
                    f"the cancel of order {order.id}, which holds {order.remaining_quantity} of {order.symbol}, "
                    f"is not confirmed after {waited:.1f}s; nothing was sent to close {order.symbol}",
                    retryable=True,
                    details={"orderId": order.id, "symbol": order.symbol},
                )
            await asyncio.sleep(pause)
            waited += pause
            pause = min(pause * 2, _LONGEST_PAUSE)

    async def _ask_to_cancel(self, order: Order) -> bool:
        """Whether the cancel was asked for; not while the order is being placed (asked again later)."""
        try:
            await self._desk.cancel(order.id)
        except OrderNotCancelable:  # ending already (a cancel under way, a fill), or not yet at the broker
            return order.broker_order_id is not None
        return True

    async def _settle_from_broker(self, order: Order) -> None:
        """Apply what the broker's own copy of `order` shows and we have not heard (as the order poll does)."""
        if order.broker_order_id is None:
            return
        try:
            remote = await self._broker.get_order(order.broker_order_id)
        except (BrokerError, OrderNotFound) as e:
            log.warning("could not look up %s while closing its position: %s", order.id, e)
            return
        await self._desk.take_broker_copy(order, remote)


def _closing_side(held: Decimal) -> Side:
    return Side.SELL if held > ZERO else Side.BUY


def _closes(order: Order, side: Side) -> bool:
    """A market order on the closing side is on its way to close the position: it is counted, not cancelled.

    The opening half of a split order (`parent_id`) is not: it would take the position past flat.
    """
    return (
        order.side is side
        and order.type is OrderType.MARKET
        and order.parent_id is None
        and order.status is not OrderStatus.PENDING_CANCEL
    )


def _check_held(symbol: Symbol, quantity: Decimal, held: Decimal) -> None:
    """Refuse closing more of `symbol` than is held.

    Raises:
        InsufficientQuantity: `quantity` is more than `held`.
    """
    if quantity > held:
        raise InsufficientQuantity(
            f"quantity {quantity} is more than the {held} held in {symbol}",
            details={"field": "quantity", "held": held, "symbol": symbol},
        )
