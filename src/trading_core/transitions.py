"""The order state machine as data: the broker's trade events and where each takes an order.

`TRANSITIONS` maps (status, broker event) to the next status, read top to bottom as an order's
life in `_RULES`. Fills are not in the table: they move `filled_quantity`, and the status follows
from what has filled (`lifecycle.fill_order`). `lifecycle.apply_event` is the one way through it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from trading_core.enums import OrderStatus

__all__ = ["EVENT_FOR_STATUS", "FILL_EVENTS", "ROUTING_STATUSES", "SAME", "TRANSITIONS", "WORKING", "TradeEvent"]


class TradeEvent(StrEnum):
    """The event names of Alpaca's trade_updates stream that change an order's status."""

    PENDING_NEW = "pending_new"
    ACCEPTED = "accepted"
    NEW = "new"
    HELD = "held"
    ACCEPTED_FOR_BIDDING = "accepted_for_bidding"
    PENDING_REVIEW = "pending_review"
    PARTIAL_FILL = "partial_fill"
    FILL = "fill"
    PENDING_CANCEL = "pending_cancel"
    CANCELED = "canceled"
    ORDER_CANCEL_REJECTED = "order_cancel_rejected"
    PENDING_REPLACE = "pending_replace"
    REPLACED = "replaced"
    ORDER_REPLACE_REJECTED = "order_replace_rejected"
    EXPIRED = "expired"
    DONE_FOR_DAY = "done_for_day"
    CALCULATED = "calculated"
    STOPPED = "stopped"
    SUSPENDED = "suspended"
    REJECTED = "rejected"
    RESTATED = "restated"


S = OrderStatus
E = TradeEvent

FILL_EVENTS: Final = frozenset({E.FILL, E.PARTIAL_FILL})
"""The events that report an execution."""

WORKING: Final = "working"
"""Target meaning 'back to work': `new`, or `partially_filled` once something has filled."""

SAME: Final = "same"
"""Target meaning 'no change of status' (a restatement)."""

_OPEN = frozenset(s for s in OrderStatus if not s.is_terminal)
_LIVE = _OPEN - {S.PENDING_CANCEL, S.PENDING_REPLACE}
_BEFORE_ROUTING = frozenset({S.PENDING_NEW, S.ACCEPTED, S.HELD, S.PENDING_REVIEW, S.ACCEPTED_FOR_BIDDING})

# (from statuses, event) -> to. Read top to bottom as the order's life.
_RULES: tuple[tuple[frozenset[OrderStatus], TradeEvent, OrderStatus | str], ...] = (
    (_BEFORE_ROUTING, E.PENDING_NEW, S.PENDING_NEW),
    (_BEFORE_ROUTING, E.ACCEPTED, S.ACCEPTED),
    (_BEFORE_ROUTING, E.HELD, S.HELD),  # a bracket child waiting for its parent
    (_BEFORE_ROUTING, E.PENDING_REVIEW, S.PENDING_REVIEW),
    (_BEFORE_ROUTING, E.ACCEPTED_FOR_BIDDING, S.ACCEPTED_FOR_BIDDING),
    # Streams deliver out of order: a routing event after the order was routed is stale.
    (_OPEN - _BEFORE_ROUTING, E.PENDING_NEW, SAME),
    (_OPEN - _BEFORE_ROUTING, E.ACCEPTED, SAME),
    (_OPEN - _BEFORE_ROUTING, E.HELD, SAME),
    (_OPEN - _BEFORE_ROUTING, E.PENDING_REVIEW, SAME),
    (_OPEN - _BEFORE_ROUTING, E.ACCEPTED_FOR_BIDDING, SAME),
    # `new` may arrive late, after a fill or a pending request: it never moves an order backwards.
    (_LIVE, E.NEW, WORKING),
    (frozenset({S.PENDING_CANCEL, S.PENDING_REPLACE}), E.NEW, SAME),
    (_LIVE, E.PENDING_CANCEL, S.PENDING_CANCEL),
    (frozenset({S.PENDING_CANCEL}), E.PENDING_CANCEL, S.PENDING_CANCEL),  # repeated requests
    (frozenset({S.PENDING_CANCEL}), E.ORDER_CANCEL_REJECTED, WORKING),  # too late: it filled
    (_LIVE - {S.PENDING_CANCEL}, E.ORDER_CANCEL_REJECTED, SAME),
    (_LIVE, E.PENDING_REPLACE, S.PENDING_REPLACE),
    (frozenset({S.PENDING_REPLACE}), E.PENDING_REPLACE, S.PENDING_REPLACE),  # a redelivered event
    (frozenset({S.PENDING_REPLACE}), E.ORDER_REPLACE_REJECTED, WORKING),
    (_LIVE, E.ORDER_REPLACE_REJECTED, SAME),
    (_OPEN, E.CANCELED, S.CANCELED),
    (_OPEN, E.EXPIRED, S.EXPIRED),
    (_OPEN, E.REPLACED, S.REPLACED),
    (_OPEN, E.REJECTED, S.REJECTED),
    (_OPEN, E.DONE_FOR_DAY, S.DONE_FOR_DAY),
    (_OPEN, E.CALCULATED, S.CALCULATED),
    (_OPEN, E.STOPPED, S.STOPPED),
    (_OPEN, E.SUSPENDED, S.SUSPENDED),
    (_OPEN, E.RESTATED, SAME),
)

TRANSITIONS: Final[dict[tuple[OrderStatus, TradeEvent], OrderStatus | str]] = {
    (status, event): target for statuses, event, target in _RULES for status in statuses
}
"""(status, event) -> next status; `WORKING` and `SAME` are resolved against the order."""

EVENT_FOR_STATUS: Final[dict[OrderStatus, TradeEvent]] = {
    status: TradeEvent(status.value) for status in OrderStatus if status not in (S.FILLED, S.PARTIALLY_FILLED)
}
"""The trade update that moves an order to a status a broker snapshot shows (fill statuses come from fills)."""

ROUTING_STATUSES: Final = _BEFORE_ROUTING | {S.NEW}
"""Where an order stands until it works at the venue: what the broker's answer to a submission may show."""
