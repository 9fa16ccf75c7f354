"""Reconciliation: the order status poll and the position sync.

The broker is the source of truth for fills and positions. Whatever the stream missed (a drop, a
crash) is repaired here, by turning differences into the trade updates the stream would have
sent (`BrokerUpdates.catch_up`), so there is one code path for applying them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

import attrs

from trading_core.broker_models import BrokerOrder, BrokerPosition
from trading_core.engine.dispatch import Dispatch
from trading_core.engine.doubts import Doubts
from trading_core.engine.parts import EngineParts
from trading_core.engine.updates import BrokerUpdates
from trading_core.enums import OrderStatus
from trading_core.errors import BrokerError, NotFound, OrderNotFound
from trading_core.orders import Order, in_doubt
from trading_core.ports import OrderFilter
from trading_core.positions import Position
from trading_core.reconcile import adoption_events
from trading_core.values import ZERO, OrderId, Symbol, at_four_places

log = logging.getLogger("trading_core.reconcile")

_LISTING = 500
"""Open orders asked for in one listing at least (one page at Alpaca)."""

HELD_READ_INTERVAL: Final = timedelta(seconds=60)
"""How often a held leg that the broker's list of open orders leaves out is read on its own.

Alpaca lists no held leg among the open orders (a bracket's stop-loss while its take-profit works).
A held leg changes only with its group, which the stream reports; read every round it would cost a
request per protected position every poll, twelve of Alpaca's 200 a minute at the 5 s default."""


class Reconciliation:
    """Brings open orders and positions in line with the broker.

    Args:
        parts: the engine's shared parts.
        dispatch: closes orders the broker does not know, and releases orphaned split halves.
        updates: takes an order to the broker's copy.
        doubts: settles the orders in doubt.
    """

    def __init__(self, parts: EngineParts, dispatch: Dispatch, updates: BrokerUpdates, doubts: Doubts) -> None:
        self._parts = parts
        self._dispatch = dispatch
        self._updates = updates
        self._doubts = doubts
        self._held_read_at: dict[OrderId, datetime] = {}
        """When each held leg missing from the open orders' listing was last read on its own."""

    async def reconcile(self) -> int:
        """Repair open orders from the broker's copies, then positions; returns corrections made."""
        return await self.orders() + await self.positions()

    async def orders(self) -> int:
        """Repair open orders from the broker's copies (the order status poll); returns corrections made.

        Orders in doubt are settled by evidence (see `doubts`); opening halves orphaned by a crash
        are released.
        """
        corrections = 0
        # Not those held here (queued, a split's waiting half), in doubt, or being sent.
        sent = [order for order in self._parts.book.open_orders.values() if order.broker_order_id is not None]
        if sent:
            corrections += await self._catch_up_sent(sent)
        try:
            corrections += await self._doubts.settle()
            corrections += await self._dispatch.release_orphans()
        except BrokerError as e:
            log.warning("could not settle the orders in doubt this round: %s", e)
        return corrections

    async def _catch_up_sent(self, sent: list[Order]) -> int:
        """Take the orders the broker has to its copies of them; returns corrections made.

        The broker's open orders are read in one listing, not one request each (Alpaca allows 200
        a minute); an order the listing does not show (closed since, or beyond it) is read on its
        own. When the listing fails, the orders wait for the next round.
        """
        try:
            listed = await self._parts.broker.list_orders(status=OrderFilter.OPEN, limit=max(_LISTING, 2 * len(sent)))
        except BrokerError as e:
            log.warning("could not list the broker's open orders; they wait for the next round: %s", e)
            return 0
        by_id = {remote.broker_order_id: remote for remote in listed}
        now = self._parts.clock.now()
        self._held_read_at = {i: at for i, at in self._held_read_at.items() if i in self._parts.book.open_orders}
        corrections = 0
        for order in sent:
            remote = by_id.get(order.broker_order_id) if order.broker_order_id is not None else None
            if remote is None and not self._read_due(order, now):
                continue
            try:
                corrections += await self._order(order, remote)
            except (BrokerError, NotFound) as e:  # one order the broker cannot tell about must not stop the rest
                log.warning("could not reconcile order %s: %s", order.id, e)
        return corrections

    def _read_due(self, order: Order, now: datetime) -> bool:
        """Whether an order the listing left out is read on its own now: always, a held leg once a minute."""
        if order.status is not OrderStatus.HELD:
            return True
        last = self._held_read_at.get(order.id)
        if last is not None and now - last < HELD_READ_INTERVAL:
            return False
        self._held_read_at[order.id] = now
        return True

    async def _order(self, order: Order, remote: BrokerOrder | None = None) -> int:
        """Take `order` to the broker's copy of it: `remote` when given (a listing's), else read now."""
        if order.broker_order_id is None:
            return 0
        if remote is None:
            try:
                remote = await self._parts.broker.get_order(order.broker_order_id)
            except OrderNotFound:
                await self._dispatch.close_unknown(order)
                return 1
        return await self._updates.catch_up(order, remote)

    async def positions(self) -> int:
        """Adopt the broker's positions where ours differ; returns how many were corrected.

        Never over fills we have not seen yet: a symbol is compared only when each of our open
        orders in it is settled (not being sent, not in doubt, and filled as far as the broker's
        copy says), and adopted only if the broker's position did not move while that was checked.
        Otherwise it waits for the next round, when the stream or the order poll has caught up.
        """
        book = self._parts.book
        first = await self._broker_positions()
        differing = [symbol for symbol in set(first) | set(book.positions) if self._differs(symbol, first)]
        settled = [symbol for symbol in differing if await self._fills_caught_up(symbol)]
        if not settled:
            return 0
        again = await self._broker_positions()
        corrections = 0
        for symbol in settled:
            if _quantity(again, symbol) != _quantity(first, symbol) or not self._differs(symbol, again):
                continue  # it moved meanwhile, or our fills have caught up with it
            await self._adopt(book.positions.get(symbol), again.get(symbol), symbol)
            corrections += 1
        return corrections

    async def _adopt(self, mine: Position | None, theirs: BrokerPosition | None, symbol: Symbol) -> None:
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
        await self._parts.ledger.save_position(adopted, adoption_events(mine, adopted, self._parts.clock.now()))

    async def _broker_positions(self) -> dict[Symbol, BrokerPosition]:
        """The broker's positions, quantities at our four places."""
        listed = await self._parts.broker.list_positions()
        return {p.symbol: attrs.evolve(p, quantity=at_four_places(p.quantity)) for p in listed}

    def _differs(self, symbol: Symbol, remote: Mapping[Symbol, BrokerPosition]) -> bool:
        mine = self._parts.book.positions.get(symbol)
        return (mine.quantity if mine is not None else ZERO) != _quantity(remote, symbol)

    async def _fills_caught_up(self, symbol: Symbol) -> bool:
        """Whether every fill the broker reports for our open orders in `symbol` has been applied.

        One that has not is applied now (as the order poll would), and the symbol waits a round.
        """
        for order in list(self._parts.book.open_orders_in(symbol)):
            if order.id in self._parts.in_flight or in_doubt(order):
                return False
            try:
                if await self._order(order):  # held here (no broker id): nothing of it is at the broker
                    return False
            except (BrokerError, NotFound) as e:
                log.warning("position in %s not compared: order %s cannot be read (%s)", symbol, order.id, e)
                return False
        return True


def _quantity(positions: Mapping[Symbol, BrokerPosition], symbol: Symbol) -> Decimal:
    position = positions.get(symbol)
    return position.quantity if position is not None else ZERO
