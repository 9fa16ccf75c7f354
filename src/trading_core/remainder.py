"""The engine's exits for what an entry filled before it ended in part (issue #17's promise).

An entry sent with exits the engine attached (`EngineProtection.EXITS_ATTACHED`, from
`risk.stopLossPercent` / `risk.takeProfitPercent`) is protected by its legs once it has filled
completely. Should it end before that (cancelled, a day order expired at the close), its legs end
with it, as at Alpaca (`trading_core.protective`), and what it filled would be held unprotected.
The engine then sends exits of its own for exactly that quantity, at the prices its legs had, with
their time in force, linked to the entry (`parent_id`) and marked `EngineProtection.FILLED_PART`:

- an OCO (the take-profit's limit, its leg the stop-loss) for a bracket's two exits;
- a stop (or a stop-limit) for an OTO's stop-loss, a limit for its take-profit alone.

They are made in the transaction that records the entry's end (`OrderLedger`), so they are stored
once whatever repeats the news of it (the stream, the order poll), and sent once from there,
after a restart in between too (`Dispatch.release_orphans`). A fill heard after the end (a late
fill, which Alpaca may report) gets exits of its own for what it adds. A user's own bracket or OTO
keeps Alpaca's behaviour: what it filled before it ended is left as it is.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Final

from trading_core.enums import EngineProtection, OrderClass, OrderStatus, OrderType
from trading_core.order_classes import StopLoss, TakeProfit
from trading_core.orders import Order
from trading_core.requests import OrderRequest
from trading_core.values import ZERO, ClientOrderId

__all__ = ["ENDED_IN_PART", "exits_request", "left_unprotected", "remainder_client_order_id"]

ENDED_IN_PART: Final = frozenset({OrderStatus.CANCELED, OrderStatus.EXPIRED})
"""The ends of an entry that end its legs before they worked (a rejected order never filled)."""

_REMAINDER_IDS: Final = uuid.UUID("3d0f7a9e-2c4b-4e61-8f52-91b6c0d4e7a3")
"""The namespace of the client order ids `remainder_client_order_id` derives."""


def left_unprotected(before: Order, after: Order) -> Decimal:
    """What one change of an order, from `before` to `after`, leaves for the engine to protect.

    For an entry with engine-attached exits: all it filled when it ends in part; what a late fill
    adds once it has. Zero for any other order or change.
    """
    # The statuses are asked first: most changes end nothing in part, whatever the order's exits.
    if before.status in ENDED_IN_PART:
        left = after.filled_quantity - before.filled_quantity
    elif after.status in ENDED_IN_PART:
        left = after.filled_quantity
    else:
        return ZERO
    return left if after.engine_protection is EngineProtection.EXITS_ATTACHED else ZERO


def remainder_client_order_id(entry: Order, covered: Decimal) -> ClientOrderId:
    """The client order id of the exits for `entry`'s fills up to `covered`: always the same one,
    so that a resend after a crash is recognised by the broker as the same order."""
    return ClientOrderId(str(uuid.uuid5(_REMAINDER_IDS, f"{entry.client_order_id}/{covered.normalize()}")))


def exits_request(entry: Order, legs: Iterable[Order], quantity: Decimal) -> OrderRequest | None:
    """The request for the engine's exits of `quantity` of `entry`, at the prices of its legs.

    None when the entry had no leg to take a price from.
    """
    take_profit = stop_loss = None
    for leg in legs:
        if leg.type is OrderType.LIMIT and leg.limit_price is not None:
            take_profit = TakeProfit(leg.limit_price)
        elif leg.type in (OrderType.STOP, OrderType.STOP_LIMIT) and leg.stop_price is not None:
            stop_loss = StopLoss(leg.stop_price, leg.limit_price)
    if take_profit is None and stop_loss is None:
        return None
    kind, order_class = OrderType.LIMIT, OrderClass.SIMPLE
    limit_price = stop_price = None
    if take_profit is not None and stop_loss is not None:  # a bracket's two exits: an OCO
        order_class, limit_price = OrderClass.OCO, take_profit.limit_price
    elif stop_loss is not None:
        kind = OrderType.STOP if stop_loss.limit_price is None else OrderType.STOP_LIMIT
        stop_price, limit_price = stop_loss.stop_price, stop_loss.limit_price
        stop_loss = None
    elif take_profit is not None:
        limit_price, take_profit = take_profit.limit_price, None
    return OrderRequest.create(
        symbol=entry.symbol,
        side=entry.side.opposite,  # a bracket's or OTO's exits sell what it bought (or buy back)
        type=kind,
        quantity=quantity,
        time_in_force=entry.time_in_force,
        limit_price=limit_price,
        stop_price=stop_price,
        client_order_id=remainder_client_order_id(entry, entry.filled_quantity),
        strategy_id=entry.strategy_id,
        decision_id=entry.decision_id,
        order_class=order_class,
        take_profit=take_profit,
        stop_loss=stop_loss,
    )
