"""Carrying a paper account on across a restart: its cash, positions, open orders and record of orders."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from adapters.paper.venue import Venue
from trading_core.broker_models import BrokerOrder
from trading_core.orders import Order
from trading_core.positions import Position


def resume_account(
    venue: Venue, positions: Iterable[Position], cash: Decimal, open_orders: Iterable[Order] = ()
) -> None:
    """Carry on an account that outlived the process: its cash, its positions, its open orders.

    Each position keeps its own quantity, cost basis and realised P&L, valued at the current
    price; the day's P&L starts from here. Each open order (oldest first, which keeps their
    time priority) is worked again under its broker order id, with what it filled, the
    orders of one exit group linked again (`Venue.resume_group`): in session, what the
    current price lets execute fills now, announced as trade updates. Only a fresh exchange
    (no order taken yet) can be resumed, and only in listed symbols.

    Raises:
        ValueError: The exchange has taken orders already, or an order or position is in a
            symbol it does not list; nothing is changed.
    """
    if venue.orders:
        raise ValueError("only a fresh paper account can be resumed: this one has taken orders")
    held, working = list(positions), list(open_orders)
    symbols = {p.symbol for p in held} | {o.symbol for o in working}
    unlisted = sorted(s for s in symbols if s not in venue.instruments)
    if unlisted:
        raise ValueError(f"not listed on the paper exchange: {', '.join(unlisted)}")
    unsent = [o.id for o in working if o.broker_order_id is None or not o.status.is_open]
    if unsent:
        raise ValueError(f"not open at the broker, so not resumable: {', '.join(unsent)}")
    ledger = venue.ledger
    ledger.cash = cash
    for position in held:
        inst = venue.instruments[position.symbol]
        inst.position = position
        ledger.revalue(inst)
    ledger.last_equity = ledger.equity
    venue.resume_group(working)


def restore_history(venue: Venue, orders: Iterable[BrokerOrder], *, last_equity: Decimal) -> None:
    """After `resume`: the account's record of orders as it stood before the restart, and `last_equity`.

    `orders` is every order the account still remembers, as last reported, oldest first; the
    open ones must have been resumed. Each is answered as it was (ids, client order ids,
    timestamps, fills), except an open order that resuming moved on (it executed or was
    cancelled), which shows what it is now.
    """
    resumed = venue.orders
    venue.orders, venue.by_client = {}, {}
    for kept in orders:
        working = venue.working.get(kept.broker_order_id)
        now = resumed.get(kept.broker_order_id)
        moved = now is not None and (now.status, now.filled_quantity) != (kept.status, kept.filled_quantity)
        snap = now if now is not None and moved else kept
        if working is not None and not moved:
            working.snap = kept
        venue.orders[snap.broker_order_id] = snap
        venue.by_client[snap.client_order_id] = snap.broker_order_id
    for broker_order_id, snap in resumed.items():
        if broker_order_id not in venue.orders:
            venue.orders[broker_order_id] = snap
            venue.by_client[snap.client_order_id] = broker_order_id
    venue.ledger.last_equity = last_equity
