"""A journaled account carried on by a fresh paper exchange: its prices, positions, cash, open orders and history.

A class order's legs are linked to their parent again (`Order.leg_of`, `Order.legs`) by the
parents' `legs` and the replacements' `replaces`, so that the exchange resumes them as one group
(`adapters.paper.groups.relink`): a bracket's stop-loss held beside its take-profit goes on being
watched, and the two never both fill.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from adapters.paper import PaperExchange
from apps.alpaca_sim import wire
from apps.alpaca_sim.state import Replayed
from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.enums import Side
from trading_core.orders import Order
from trading_core.positions import Position, apply_fill
from trading_core.values import ZERO, BrokerOrderId, OrderId, Symbol, new_order_id


def resume_exchange(exchange: PaperExchange, replayed: Replayed) -> None:
    """Give `exchange` (fresh, on the journal's cash and seed) the journal's prices, account and orders."""
    starting_cash = replayed.header.starting_cash
    for symbol, moved in replayed.prices.items():
        exchange.set_price(symbol, moved)
    positions, cash, notional = _replay_fills(replayed.fills, starting_cash)
    working = _open_orders(replayed.orders.values(), notional)
    exchange.resume(positions, cash, working)
    exchange.restore_history(replayed.orders.values(), last_equity=replayed.last_equity or starting_cash)


def _replay_fills(
    fills: Iterable[TradeUpdate], starting_cash: Decimal
) -> tuple[list[Position], Decimal, dict[BrokerOrderId, Decimal]]:
    """Positions, cash and each order's filled notional after these executions, as the exchange books them."""
    positions: dict[Symbol, Position] = {}
    cash = starting_cash
    notional: dict[BrokerOrderId, Decimal] = {}
    for fill in fills:
        order = fill.order
        price, quantity = wire.fill_terms(fill)
        held = positions.get(order.symbol) or Position.flat(order.symbol)
        change = apply_fill(held, side=order.side, quantity=quantity, price=price, at=fill.timestamp)
        positions[order.symbol] = change.after
        value = quantity * price
        cash += -value if order.side is Side.BUY else value
        notional[order.broker_order_id] = notional.get(order.broker_order_id, ZERO) + value
    return list(positions.values()), cash, notional


def _open_orders(orders: Iterable[BrokerOrder], notional: dict[BrokerOrderId, Decimal]) -> list[Order]:
    """The journal's open orders (in submission order), as `PaperExchange.resume` takes them: each
    leg names its parent (`leg_of`), each parent its open legs (`legs`) and its class."""
    snaps = list(orders)
    ids = {snap.broker_order_id: new_order_id() for snap in snaps}
    parent_of: dict[BrokerOrderId, BrokerOrderId] = {}
    for snap in snaps:
        for leg in snap.legs:
            parent_of[leg.broker_order_id] = snap.broker_order_id
        if snap.replaces is not None and snap.replaces in parent_of:  # a leg's replacement, in its place
            parent_of[snap.broker_order_id] = parent_of[snap.replaces]
    still_open = [snap for snap in snaps if snap.status.is_open]
    legs: dict[BrokerOrderId, list[OrderId]] = {}
    for snap in still_open:
        parent = parent_of.get(snap.broker_order_id)
        if parent is not None:
            legs.setdefault(parent, []).append(ids[snap.broker_order_id])
    return [
        _open_order(
            snap,
            notional,
            order_id=ids[snap.broker_order_id],
            leg_of=None if (parent := parent_of.get(snap.broker_order_id)) is None else ids[parent],
            legs=tuple(legs.get(snap.broker_order_id, ())),
        )
        for snap in still_open
    ]


def _open_order(
    snap: BrokerOrder,
    notional: dict[BrokerOrderId, Decimal],
    *,
    order_id: OrderId,
    leg_of: OrderId | None,
    legs: tuple[OrderId, ...],
) -> Order:
    """An open order of the journal, as `PaperExchange.resume` takes it."""
    return Order(
        id=order_id,
        client_order_id=snap.client_order_id,
        symbol=snap.symbol,
        side=snap.side,
        type=snap.type,
        time_in_force=snap.time_in_force,
        quantity=snap.quantity,
        status=snap.status,
        created_at=snap.created_at,
        updated_at=snap.updated_at,
        limit_price=snap.limit_price,
        stop_price=snap.stop_price,
        extended_hours=snap.extended_hours,
        filled_quantity=snap.filled_quantity,
        filled_notional=notional.get(snap.broker_order_id, ZERO),
        broker_order_id=snap.broker_order_id,
        submitted_at=snap.submitted_at,
        order_class=snap.order_class,
        legs=legs,
        leg_of=leg_of,
    )
